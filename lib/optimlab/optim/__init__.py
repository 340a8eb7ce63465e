"""Every optimizer of the course, from gradient descent to ADOPT.

Each is a ``torch.optim.Optimizer``: use it as you would ``torch.optim.Adam``.
Their docstrings give the update rule, the paper and the defaults.
"""

from .adagrad import Adagrad
from .adafactor import Adafactor
from .adam import Adam, AdamW, AMSGrad
from .adam_variants import NAdam, RAdam
from .adashift import AdaShift
from .adopt import ADOPT
from .base import Optimizer
from .layerwise import LAMB, LARS
from .lion import Lion
from .muon import Muon, MuonWithAdamW, muon_with_adamw, newton_schulz
from .rmsprop import Adadelta, RMSprop
from .schedule_free import AdamWScheduleFree, SGDScheduleFree
from .sgd import SGD
from .shampoo import Shampoo
from .soap import SOAP
from .wrappers import SAM, Lookahead

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW",
           "AMSGrad", "NAdam", "RAdam", "AdaShift", "ADOPT", "LAMB", "LARS", "Lookahead",
           "SAM", "Lion", "SGDScheduleFree", "AdamWScheduleFree", "Shampoo", "SOAP",
           "Muon", "Adafactor"]
