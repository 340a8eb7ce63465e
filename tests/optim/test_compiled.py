"""The compiled path (optimlab.optim.compiled): the same numbers as the eager update,
one compilation per variant whatever the step's numbers, a clear choice of when it
runs, and a fallback when it cannot compile."""

import io
import warnings

import pytest
import torch
import torch._dynamo

import optimlab.optim as ours
from optimlab.optim import compiled
from problems import groups, make_params, run, set_gradients

#: Every optimizer with a kernel, and every flag of the kernels.
KERNEL_CASES = [
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, convention="ema")),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.3)),
    ("Adam", dict(amsgrad=True)),
    ("Adam", dict(weight_decay=0.1)),
    ("AdamW", dict()),
    ("NAdam", dict()),
    ("NAdam", dict(weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict()),
    ("ADOPT", dict(weight_decay=0.01)),
    ("ADOPT", dict(clip_lambda=None, weight_decay=0.01, decouple=True)),
    ("Lion", dict(weight_decay=0.1)),
    ("SGDScheduleFree", dict(lr=0.1, weight_decay=0.01, warmup_steps=5)),
    ("AdamWScheduleFree", dict(weight_decay=0.01, warmup_steps=5)),
]
#: float32 costs a second compilation per variant: a few cases suffice.
FLOAT32_CASES = [KERNEL_CASES[0], KERNEL_CASES[3], KERNEL_CASES[9]]
#: A step where a parameter has no gradient splits its group into batches of
#: other sizes (and, later, other step counts t), each a compilation of its own
#: (about a second): these cases cover it, the others run with every gradient.
SKIPPING_CASES = FLOAT32_CASES
STEPS = 50


def case_id(case):
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items())


def make(case, **extra):
    name, kwargs = case
    return lambda params: getattr(ours, name)(groups(params, lr=3e-3), **kwargs, **extra)


def compare(case, dtype):
    """Eager and compiled runs of ``case``, checking that the compiled one
    compiled (no fallback warning)."""
    skip_every = 7 if case in SKIPPING_CASES else STEPS + 1
    eager = run(make(case, compiled=False), STEPS, dtype, skip_every=skip_every)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fused = run(make(case, compiled=True), STEPS, dtype, skip_every=skip_every)
    return fused, eager


@pytest.mark.parametrize("case", KERNEL_CASES, ids=case_id)
def test_kernel_equals_the_eager_update_float64(case):
    fused, eager = compare(case, torch.float64)
    # One pass rounds differently from several (θ(1-ηλ) - a m/d against two
    # steps), by about an ulp per step: 1e-12 after 50 steps.
    for a, b in zip(fused, eager):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("case", FLOAT32_CASES, ids=case_id)
def test_kernel_equals_the_eager_update_float32(case):
    fused, eager = compare(case, torch.float32)
    for a, b in zip(fused, eager):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_one_kernel_call_updates_every_parameter_of_a_group(monkeypatch):
    """Record what each step hands to the kernel: one call per parameter group
    (a batch of all its parameters), each parameter that has a gradient once;
    a parameter without a gradient is left out, which splits its group."""
    batches = []
    original = compiled.run

    def recording(kernel, params, grads, **arguments):
        batches.append((kernel.__name__, [id(p) for p in params]))
        return original(kernel, params, grads, **arguments)

    monkeypatch.setattr(compiled, "run", recording)
    params = make_params()
    optimizer = ours.Adam(groups(params), amsgrad=True, compiled=True)
    generator = torch.Generator().manual_seed(0)
    for skip in [None, None, 1, None]:
        batches.clear()
        set_gradients(params, generator, skip)
        optimizer.step()
        updated = sorted(i for _, batch in batches for i in batch)
        assert updated == sorted(id(p) for p in params if p.grad is not None)
        assert {name for name, _ in batches} == {"adam_kernel"}
    assert len(batches) == 3   # after the skip, params[1] is one step behind params[0]
    steps = [optimizer.state[p]["step"] for p in params]
    assert steps == [4, 3, 4, 4]


def test_new_numbers_each_step_do_not_recompile():
    """The learning rate (a schedule) and the bias corrections change every step;
    the compiled kernel must take them as arguments, not compile again."""
    params = make_params()
    optimizer = ours.Adam(params, compiled=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1 / (1 + t))
    generator = torch.Generator().manual_seed(0)

    def steps(n):
        for _ in range(n):
            set_gradients(params, generator)
            optimizer.step()
            schedule.step()

    steps(3)
    before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    steps(20)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == before


def test_non_contiguous_parameters_take_the_kernel_as_they_are():
    """The eager path cuts only contiguous tensors into chunks; the kernel takes
    any strides (here a transposed and a channels-last parameter)."""
    def params():
        generator = torch.Generator().manual_seed(3)
        transposed = torch.randn(7, 5, generator=generator, dtype=torch.float64).t()
        channels_last = torch.randn(2, 3, 4, 4, generator=generator, dtype=torch.float64)
        return [transposed.requires_grad_(),
                channels_last.to(memory_format=torch.channels_last).requires_grad_()]

    def train(compiled_choice):
        ps = params()
        optimizer = ours.AdamW(ps, lr=0.01, compiled=compiled_choice)
        generator = torch.Generator().manual_seed(4)
        for _ in range(5):
            set_gradients(ps, generator)
            optimizer.step()
        return ps

    assert not params()[0].is_contiguous() and not params()[1].is_contiguous()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fused = train(True)
    for a, b in zip(fused, train(False)):
        assert a.stride() == b.stride()
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_resuming_a_compiled_run_gives_the_same_trajectory():
    def train(optimizer, params, generator, steps):
        for _ in range(steps):
            set_gradients(params, generator)
            optimizer.step()

    params, generator = make_params(), torch.Generator().manual_seed(1)
    optimizer = ours.ADOPT(params, lr=0.01, compiled=True)
    train(optimizer, params, generator, 10)
    saved, weights = io.BytesIO(), [p.detach().clone() for p in params]
    torch.save(optimizer.state_dict(), saved)
    rng = generator.get_state()
    train(optimizer, params, generator, 10)
    straight = [p.detach().clone() for p in params]

    with torch.no_grad():
        for p, w in zip(params, weights):
            p.copy_(w)
    resumed = ours.ADOPT(params, lr=0.01, compiled=True)
    saved.seek(0)
    resumed.load_state_dict(torch.load(saved))
    generator.set_state(rng)
    train(resumed, params, generator, 10)
    assert all(torch.equal(p, s) for p, s in zip(params, straight))


# --- when the compiled path runs ---------------------------------------------------

def test_by_default_small_models_stay_eager():
    params = make_params()
    optimizer = ours.Adam(params)
    group = optimizer.param_groups[0]
    assert group["compiled"] is None
    assert not optimizer.uses_compiled(group, group["params"])


def test_by_default_large_cpu_models_compile(monkeypatch):
    params = make_params()
    optimizer = ours.Adam(params)
    group = optimizer.param_groups[0]
    monkeypatch.setattr(ours.Optimizer, "compile_threshold", 3000)
    assert optimizer.uses_compiled(group, params)                 # 3001 elements >= 3000
    assert not optimizer.uses_compiled({**group, "foreach": True}, params)
    monkeypatch.setattr(compiled, "available", lambda: False)     # no C++ compiler
    assert not optimizer.uses_compiled(group, params)


def test_optimizers_without_a_kernel_have_no_compiled_option():
    with pytest.raises(TypeError, match="compiled"):
        ours.Adagrad(make_params(), compiled=True)
    optimizer = ours.AdaShift(make_params())
    assert "compiled" not in optimizer.param_groups[0]
    assert not optimizer.uses_compiled(optimizer.param_groups[0], make_params())


# --- bad input and failures ---------------------------------------------------------

def test_compiled_must_be_a_flag():
    with pytest.raises(TypeError, match=r"Adam: compiled must be True, False or None, got 'yes'"):
        ours.Adam(make_params(), compiled="yes")


def test_compiled_and_foreach_exclude_each_other():
    with pytest.raises(ValueError, match="compiled=True and foreach=True"):
        ours.SGD(make_params(), momentum=0.9, compiled=True, foreach=True)


def test_compiled_is_for_cpu_parameters():
    param = torch.zeros(3, device="meta", requires_grad=True)
    with pytest.raises(ValueError, match="parameter 0 is on meta"):
        ours.ADOPT([param], compiled=True)


def test_a_failed_compilation_warns_once_and_runs_the_eager_update(monkeypatch):
    def broken_compile(kernel, **options):
        def fail(*args, **kwargs):
            raise RuntimeError("no C++ compiler")
        return fail

    monkeypatch.setattr(compiled, "_compiled", {})
    monkeypatch.setattr(compiled, "_broken", set())
    monkeypatch.setattr(torch, "compile", broken_compile)
    case = KERNEL_CASES[9]
    with pytest.warns(RuntimeWarning, match="torch.compile of adopt_kernel failed "
                                            r"\(RuntimeError: no C\+\+ compiler\)") as caught:
        fallback = run(make(case, compiled=True), steps=20)
    assert len([w for w in caught if "adopt_kernel" in str(w.message)]) == 1
    eager = run(make(case, compiled=False), steps=20)
    assert all(torch.equal(a, b) for a, b in zip(fallback, eager))
