"""Every optimizer of the course, from gradient descent to ADOPT.

Each is a ``torch.optim.Optimizer``: use it as you would ``torch.optim.Adam``.
Their docstrings give the update rule, the paper and the defaults.
"""

from .adagrad import Adagrad
from .adam import Adam, AdamW, AMSGrad
from .adam_variants import NAdam, RAdam
from .adashift import AdaShift
from .adopt import ADOPT
from .base import Optimizer
from .layerwise import LAMB, LARS
from .rmsprop import Adadelta, RMSprop
from .sgd import SGD
from .wrappers import SAM, Lookahead

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW",
           "AMSGrad", "NAdam", "RAdam", "AdaShift", "ADOPT", "LAMB", "LARS", "Lookahead",
           "SAM"]
