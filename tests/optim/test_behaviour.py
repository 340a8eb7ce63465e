"""What every optimizer does whatever its rule: groups, missing gradients, resuming,
closures, dtypes, devices, and the two execution paths agreeing."""

import io

import pytest
import torch

import optimlab.optim as ours
from problems import groups, make_params, run, set_gradients

EVERY = [
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9, convention="ema")),
    ("Adagrad", dict(lr_decay=0.01)),
    ("RMSprop", dict(centered=True, momentum=0.9)),
    ("Adadelta", dict()),
    ("Adam", dict(amsgrad=True)),
    ("AdamW", dict()),
    ("AMSGrad", dict()),
    ("NAdam", dict()),
    ("RAdam", dict()),
    ("ADOPT", dict(weight_decay=0.01)),
    ("AdaShift", dict(keep_num=3)),
    ("AdaShift", dict(keep_num=2, phi=None)),
    ("Lion", dict(weight_decay=0.1)),
    ("SGDScheduleFree", dict(weight_decay=0.01, warmup_steps=5)),
    ("AdamWScheduleFree", dict(weight_decay=0.01, warmup_steps=5)),
]


def make(case, **extra):
    name, kwargs = case
    return lambda params: getattr(ours, name)(groups(params, lr=3e-3), **kwargs, **extra)


def case_id(case):
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items())


every = pytest.mark.parametrize("case", EVERY, ids=case_id)


@every
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_multi_tensor_path_equals_per_tensor_path(case, dtype):
    simple = run(make(case, foreach=False), steps=50, dtype=dtype)
    multi = run(make(case, foreach=True), steps=50, dtype=dtype)
    # The paths may round differently (one fused pass against two), by about one
    # unit in the last place per step: over 50 steps 1e-12 in float64, 1e-5 in float32.
    tolerance = dict(rtol=1e-12, atol=1e-14) if dtype == torch.float64 else \
        dict(rtol=1e-5, atol=1e-6)
    for a, b in zip(simple, multi):
        assert a.dtype == dtype
        torch.testing.assert_close(a, b, **tolerance)


@every
def test_chunks_give_exactly_the_unchunked_numbers(case, monkeypatch):
    chunked = run(make(case, foreach=False), steps=30)
    monkeypatch.setattr(ours.Optimizer, "chunk_size", 10**9)
    whole = run(make(case, foreach=False), steps=30)
    assert all(torch.equal(a, b) for a, b in zip(chunked, whole))


@every
def test_each_group_uses_its_own_hyperparameters(case):
    params = make_params()
    before = [p.detach().clone() for p in params]
    name, kwargs = case
    optimizer = getattr(ours, name)(groups(params, lr=0.0), **kwargs)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        set_gradients(params, generator)
        optimizer.step()
    assert not torch.equal(params[0], before[0])          # group 0 moves
    assert all(torch.equal(p, b) for p, b in zip(params[2:], before[2:]))  # group 1: lr=0


@every
def test_a_parameter_without_gradient_is_skipped(case):
    params = make_params()
    frozen = params[1].detach().clone()
    optimizer = make(case)(params)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        set_gradients(params, generator, skip=1)
        optimizer.step()
    assert torch.equal(params[1], frozen)
    assert params[1] not in optimizer.state and params[0] in optimizer.state


@every
def test_stop_and_resume_gives_the_uninterrupted_trajectory(case):
    def steps(params, optimizer, generator, count):
        for _ in range(count):
            set_gradients(params, generator)
            optimizer.step()

    params = make_params()
    optimizer = make(case)(params)
    generator = torch.Generator().manual_seed(1)
    steps(params, optimizer, generator, 20)
    buffer = io.BytesIO()
    torch.save({"params": [p.detach() for p in params], "optimizer": optimizer.state_dict(),
                "rng": generator.get_state()}, buffer)
    steps(params, optimizer, generator, 20)               # the uninterrupted run

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed = [p.clone().requires_grad_() for p in saved["params"]]
    optimizer = make(case)(resumed)
    optimizer.load_state_dict(saved["optimizer"])
    generator = torch.Generator()
    generator.set_state(saved["rng"])
    steps(resumed, optimizer, generator, 20)
    assert all(torch.equal(a, b) for a, b in zip(params, resumed))


@every
def test_step_calls_the_closure_with_gradients_enabled(case):
    params = make_params(shapes=[(3,)])
    optimizer = make(case)(params)
    calls = []

    def closure():
        assert torch.is_grad_enabled()
        optimizer.zero_grad()
        loss = (params[0] ** 2).sum()
        loss.backward()
        calls.append(loss.item())
        return loss

    for _ in range(4):
        with torch.no_grad():
            loss = optimizer.step(closure)
    assert len(calls) == 4 and loss.item() == calls[-1]


@every
def test_state_has_the_parameters_dtype(case):
    params = make_params(dtype=torch.float32)
    optimizer = make(case)(params)
    set_gradients(params, torch.Generator().manual_seed(0))
    optimizer.step()
    for state in optimizer.state.values():
        tensors = [v for v in state.values() if isinstance(v, torch.Tensor)]
        assert tensors and all(v.dtype == torch.float32 for v in tensors)


def test_foreach_is_chosen_on_cuda_only():
    cpu = ours.Adam([torch.zeros(2, requires_grad=True)])
    group = cpu.param_groups[0]
    assert group["foreach"] is None
    assert not cpu._use_foreach(group, group["params"])
    assert cpu._use_foreach({**group, "foreach": True}, group["params"])
    assert not ours.AdaShift(group["params"])._use_foreach(
        {**group, "foreach": True}, group["params"])  # not element-wise: never


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@every
def test_cuda_gives_the_cpu_numbers(case):
    cpu = run(make(case), steps=30)
    on_gpu = []

    def make_on_cuda(params):
        moved = [p.detach().cuda().requires_grad_() for p in params]
        on_gpu.extend(moved)
        optimizer = make(case)(moved)
        assert optimizer._use_foreach(optimizer.param_groups[0], moved) == \
            optimizer.elementwise
        return optimizer

    # run() sets CPU gradients on the CPU parameters; drive the CUDA copies by hand
    params = make_params()
    optimizer = make_on_cuda(params)
    generator = torch.Generator().manual_seed(1)
    for t in range(1, 31):
        set_gradients(params, generator, skip=(t // 7) % len(params) if t % 7 == 0 else None)
        for p, q in zip(params, on_gpu):
            q.grad = None if p.grad is None else p.grad.cuda()
        optimizer.step()
    for a, b in zip(cpu, on_gpu):
        torch.testing.assert_close(b.detach().cpu(), a, rtol=1e-9, atol=1e-12)
