"""Our optimizers give the numbers of the reference implementations (float64, 100 steps).

References: torch.optim for everything it has, the authors' torch-adopt for ADOPT,
pytorch-optimizer for AdaShift. Where a reference follows another convention, a
test pins the difference.
"""

import inspect

import pytest
import pytorch_optimizer
import torch

import optimlab.optim as ours
from problems import groups, max_relative_error, run

# torch-adopt 0.1.0 calls APIs that torch 2.14 deprecates.
pytestmark = [pytest.mark.filterwarnings("ignore:.*is_compiling.*:UserWarning"),
              pytest.mark.filterwarnings("ignore:.*graph_capture_health_check.*:DeprecationWarning")]

TOLERANCE = 1e-10
NEVER = 10**9  # skip_every=NEVER: every parameter gets a gradient at every step

TORCH_CASES = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1,
                     weight_decay=0.01, eps=1e-8)),
    ("RMSprop", dict()),
    ("RMSprop", dict(alpha=0.9, centered=True)),
    ("RMSprop", dict(momentum=0.9, weight_decay=0.01)),
    ("RMSprop", dict(centered=True, momentum=0.5, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.95, weight_decay=0.01)),
    ("Adam", dict()),
    ("Adam", dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(amsgrad=True, weight_decay=0.01)),
    ("Adam", dict(decoupled_weight_decay=True, weight_decay=0.1)),
    ("AdamW", dict()),
    ("AdamW", dict(amsgrad=True, weight_decay=0.1)),
    ("NAdam", dict()),
    ("NAdam", dict(weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict()),
    ("RAdam", dict(weight_decay=0.1)),
    ("RAdam", dict(weight_decay=0.1, decoupled_weight_decay=True)),
]


def case_id(case):
    name, kwargs = case
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("foreach", [None, False, True], ids=["auto", "per-tensor", "foreach"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=case_id)
def test_equals_torch_optim(case, foreach, float64_default):
    name, kwargs = case
    mine = run(lambda p: getattr(ours, name)(groups(p, lr=3e-3), foreach=foreach, **kwargs))
    unknown = set(kwargs) - set(inspect.signature(getattr(torch.optim, name)).parameters)
    if unknown:  # Adam's decoupled_weight_decay is newer than torch 2.5, our floor
        pytest.skip(f"torch.optim.{name} of torch {torch.__version__} has no {unknown}")
    theirs = run(lambda p: getattr(torch.optim, name)(groups(p, lr=3e-3), foreach=False,
                                                      **kwargs))
    assert max_relative_error(mine, theirs) < TOLERANCE


def test_amsgrad_is_adam_with_the_flag(float64_default):
    mine = run(lambda p: ours.AMSGrad(groups(p, betas=(0.5, 0.9))))
    theirs = run(lambda p: torch.optim.Adam(groups(p, betas=(0.5, 0.9)), amsgrad=True))
    assert max_relative_error(mine, theirs) < TOLERANCE


@pytest.mark.parametrize("nesterov", [False, True])
def test_ema_momentum_is_pytorch_momentum_with_a_smaller_lr(nesterov, float64_default):
    beta, lr = 0.9, 0.1
    ema = run(lambda p: ours.SGD(p, lr=lr, momentum=beta, nesterov=nesterov,
                                 convention="ema"))
    pytorch = run(lambda p: torch.optim.SGD(p, lr=lr * (1 - beta), momentum=beta,
                                            nesterov=nesterov))
    assert max_relative_error(ema, pytorch) < TOLERANCE
    same_lr = run(lambda p: torch.optim.SGD(p, lr=lr, momentum=beta, nesterov=nesterov))
    assert max_relative_error(ema, same_lr) > 0.1


ADOPT_CASES = [dict(), dict(clip_lambda=None), dict(weight_decay=0.1),
               dict(weight_decay=0.1, decouple=True),
               dict(betas=(0.5, 0.1), eps=1e-3, clip_lambda=None, weight_decay=0.01)]


@pytest.mark.parametrize("foreach", [None, False, True], ids=["auto", "per-tensor", "foreach"])
@pytest.mark.parametrize("kwargs", ADOPT_CASES, ids=str)
def test_adopt_equals_the_authors_implementation(kwargs, foreach, float64_default,
                                                 torch_adopt):
    mine = run(lambda p: ours.ADOPT(groups(p, lr=3e-3), foreach=foreach, **kwargs))
    theirs = run(lambda p: torch_adopt.ADOPT(groups(p, lr=3e-3), foreach=False, **kwargs))
    assert max_relative_error(mine, theirs) < TOLERANCE


def test_torch_adopt_multi_tensor_path_uses_one_step_count_per_group(float64_default,
                                                                     torch_adopt):
    """torch-adopt's foreach path clips with the first parameter's step count, so it
    departs from its own per-tensor path once a parameter has missed a step; ours
    keeps a count per parameter on both paths."""
    def official(foreach, skip_every):
        return run(lambda p: torch_adopt.ADOPT(p, lr=3e-3, foreach=foreach),
                   skip_every=skip_every)

    assert max_relative_error(official(True, NEVER), official(False, NEVER)) < TOLERANCE
    assert max_relative_error(official(True, 7), official(False, 7)) > 1e-3
    mine = run(lambda p: ours.ADOPT(p, lr=3e-3, foreach=True), skip_every=7)
    assert max_relative_error(mine, official(False, 7)) < TOLERANCE


def test_pytorch_optimizer_adopt_clips_one_step_later(float64_default):
    """pytorch-optimizer passes the call count (2 at the first update) to clip_lambda."""
    mine = run(lambda p: ours.ADOPT(p, lr=3e-3), skip_every=NEVER)
    default = run(lambda p: pytorch_optimizer.ADOPT(p, lr=3e-3, foreach=False),
                  skip_every=NEVER)
    assert max_relative_error(mine, default) > 1e-3
    shifted = run(lambda p: pytorch_optimizer.ADOPT(
        p, lr=3e-3, foreach=False, clip_lambda=lambda calls: (calls - 1) ** 0.25),
        skip_every=NEVER)
    assert max_relative_error(mine, shifted) < TOLERANCE


@pytest.mark.parametrize("keep_num", [1, 3, 10])
@pytest.mark.parametrize("phi", ["max", None])
def test_adashift_equals_pytorch_optimizer(keep_num, phi, float64_default):
    reduce = torch.max if phi == "max" else None
    mine = run(lambda p: ours.AdaShift(groups(p, lr=3e-3), keep_num=keep_num, phi=phi),
               skip_every=NEVER)
    for foreach in (False, True):
        theirs = run(lambda p: pytorch_optimizer.AdaShift(
            groups(p, lr=3e-3), keep_num=keep_num, reduce_func=reduce, foreach=foreach),
            skip_every=NEVER)
        assert max_relative_error(mine, theirs) < TOLERANCE


def test_pytorch_optimizer_adashift_counts_steps_per_group(float64_default):
    """Its bias correction uses the group's step count, which also advances for a
    parameter without a gradient; ours counts per parameter, like torch.optim."""
    mine = run(lambda p: ours.AdaShift(p, lr=3e-3, keep_num=3), skip_every=7)
    theirs = run(lambda p: pytorch_optimizer.AdaShift(p, lr=3e-3, keep_num=3,
                                                      foreach=False), skip_every=7)
    assert max_relative_error(mine, theirs) > 1e-3
