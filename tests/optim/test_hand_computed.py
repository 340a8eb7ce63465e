"""A few steps of each algorithm on one number, computed by hand from its equations.

The gradients are a fixed sequence G (an online problem), so each expected
trajectory below is the paper's update rule written out in plain Python floats.
These tests trust no other library.
"""

import math

import pytest
import torch

import optimlab.optim as ours

G = [1.0, -2.0, 0.5, 3.0, -1.0, 0.25, 2.0, -0.5]
THETA0 = 1.0


def trajectory(make_optimizer, gradients=G, theta0=THETA0) -> list[float]:
    theta = torch.tensor([theta0], dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([theta])
    path = []
    for g in gradients:
        theta.grad = torch.tensor([g], dtype=torch.float64)
        optimizer.step()
        path.append(theta.item())
    return path


def assert_path(actual, expected):
    assert actual == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_sgd():
    lr, theta, expected = 0.1, THETA0, []
    for g in G:
        theta -= lr * g                                   # θ_t = θ_{t-1} - η g_t
        expected.append(theta)
    assert_path(trajectory(lambda p: ours.SGD(p, lr=lr)), expected)
    assert expected[0] == pytest.approx(0.9)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_pytorch_convention(nesterov):
    lr, mu, theta, b, expected = 0.1, 0.9, THETA0, 0.0, []
    for g in G:
        b = mu * b + g                                    # b_t = μ b_{t-1} + g_t (b_1 = g_1)
        theta -= lr * (g + mu * b if nesterov else b)
        expected.append(theta)
    assert_path(trajectory(lambda p: ours.SGD(p, lr=lr, momentum=mu, nesterov=nesterov)),
                expected)


def test_sgd_momentum_ema_convention():
    lr, beta, theta, b, expected = 0.1, 0.9, THETA0, 0.0, []
    for g in G:
        b = beta * b + (1 - beta) * g                     # b_t = β b_{t-1} + (1-β) g_t
        theta -= lr * b
        expected.append(theta)
    actual = trajectory(lambda p: ours.SGD(p, lr=lr, momentum=beta, convention="ema"))
    assert_path(actual, expected)
    assert actual[0] == pytest.approx(1 - 0.1 * 0.1)      # the first step is (1-β) g_1


def test_sgd_weight_decay():
    lr, wd, theta, expected = 0.1, 0.5, THETA0, []
    for g in G:
        theta -= lr * (g + wd * theta)
        expected.append(theta)
    assert_path(trajectory(lambda p: ours.SGD(p, lr=lr, weight_decay=wd)), expected)


def test_adagrad():
    lr, eps, theta, s, expected = 0.5, 1e-10, THETA0, 0.1, []
    for g in G:
        s += g * g                                        # s_t = s_{t-1} + g_t²
        theta -= lr * g / (math.sqrt(s) + eps)
        expected.append(theta)
    assert_path(trajectory(lambda p: ours.Adagrad(p, lr=lr, initial_accumulator_value=0.1)),
                expected)


def test_adagrad_lr_decay():
    lr, decay, theta, s, expected = 0.5, 0.1, THETA0, 0.0, []
    for t, g in enumerate(G, start=1):
        s += g * g
        theta -= lr / (1 + (t - 1) * decay) * g / (math.sqrt(s) + 1e-10)
        expected.append(theta)
    assert_path(trajectory(lambda p: ours.Adagrad(p, lr=lr, lr_decay=decay)), expected)


def test_rmsprop():
    lr, alpha, eps, theta, v, expected = 0.01, 0.9, 1e-8, THETA0, 0.0, []
    for g in G:
        v = alpha * v + (1 - alpha) * g * g               # v_t
        theta -= lr * g / (math.sqrt(v) + eps)
        expected.append(theta)
    actual = trajectory(lambda p: ours.RMSprop(p, lr=lr, alpha=alpha))
    assert_path(actual, expected)
    assert actual[0] == pytest.approx(1 - 0.01 / math.sqrt(0.1))  # first step: η/sqrt(1-α)


def test_rmsprop_centered_with_momentum():
    lr, alpha, mu, eps = 0.01, 0.9, 0.5, 1e-8
    theta, v, mean, b, expected = THETA0, 0.0, 0.0, 0.0, []
    for g in G:
        v = alpha * v + (1 - alpha) * g * g
        mean = alpha * mean + (1 - alpha) * g             # ḡ_t
        b = mu * b + g / (math.sqrt(v - mean * mean) + eps)
        theta -= lr * b
        expected.append(theta)
    actual = trajectory(lambda p: ours.RMSprop(p, lr=lr, alpha=alpha, momentum=mu,
                                               centered=True))
    assert_path(actual, expected)


def test_adadelta():
    rho, eps, theta, v, u, expected = 0.9, 1e-6, THETA0, 0.0, 0.0, []
    for g in G:
        v = rho * v + (1 - rho) * g * g
        delta = math.sqrt(u + eps) / math.sqrt(v + eps) * g   # Δ_t
        u = rho * u + (1 - rho) * delta * delta
        theta -= delta
        expected.append(theta)
    assert_path(trajectory(lambda p: ours.Adadelta(p)), expected)


def adam_by_hand(lr, beta1, beta2, eps, amsgrad=False, decoupled=0.0, l2=0.0):
    theta, m, v, v_max, expected = THETA0, 0.0, 0.0, 0.0, []
    for t, g in enumerate(G, start=1):
        theta *= 1 - lr * decoupled                       # AdamW: θ ← (1-ηλ)θ
        g = g + l2 * theta                                # Adam with L2: g ← g + λθ
        m = beta1 * m + (1 - beta1) * g                   # m_t
        v = beta2 * v + (1 - beta2) * g * g               # v_t
        v_max = max(v_max, v)
        m_hat = m / (1 - beta1**t)                        # m̂_t
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)  # v̂_t
        theta -= lr * m_hat / (math.sqrt(v_hat) + eps)
        expected.append(theta)
    return expected


def test_adam_first_step_is_lr_times_sign():
    """Bias correction: m̂_1 = g_1 and v̂_1 = g_1², so the first step is η·sign(g_1)."""
    actual = trajectory(lambda p: ours.Adam(p, lr=0.1))
    assert actual[0] == pytest.approx(THETA0 - 0.1 * 1 / (1 + 1e-8), rel=1e-14)


@pytest.mark.parametrize("name, kwargs, by_hand", [
    ("Adam", dict(lr=0.1), dict()),
    ("Adam", dict(lr=0.1, weight_decay=0.5), dict(l2=0.5)),
    ("AdamW", dict(lr=0.1, weight_decay=0.5), dict(decoupled=0.5)),
    ("AMSGrad", dict(lr=0.1), dict(amsgrad=True)),
])
def test_adam_family(name, kwargs, by_hand):
    expected = adam_by_hand(kwargs["lr"], 0.9, 0.999, 1e-8, **by_hand)
    assert_path(trajectory(lambda p: getattr(ours, name)(p, **kwargs)), expected)


def test_nadam():
    lr, beta1, beta2, eps, psi = 0.1, 0.9, 0.999, 1e-8, 0.004
    theta, m, v, product, expected = THETA0, 0.0, 0.0, 1.0, []

    def mu(t):
        return beta1 * (1 - 0.5 * 0.96 ** (t * psi))     # μ_t

    for t, g in enumerate(G, start=1):
        product *= mu(t)                                  # Π_t
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        denominator = math.sqrt(v / (1 - beta2**t)) + eps
        theta -= lr * ((1 - mu(t)) * g / (1 - product)
                       + mu(t + 1) * m / (1 - product * mu(t + 1))) / denominator
        expected.append(theta)
    assert_path(trajectory(lambda p: ours.NAdam(p, lr=lr)), expected)


def test_radam_switches_on_the_adaptive_step_at_step_6():
    lr, beta1, beta2, eps = 0.1, 0.9, 0.999, 1e-8
    rho_inf = 2 / (1 - beta2) - 1
    theta, m, v, expected, adaptive = THETA0, 0.0, 0.0, [], []
    for t, g in enumerate(G, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        rho = rho_inf - 2 * t * beta2**t / (1 - beta2**t)  # ρ_t
        adaptive.append(rho > 5)
        if rho > 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            v_hat_sqrt = (math.sqrt(v) + eps) / math.sqrt(1 - beta2**t)
            theta -= lr * r * m_hat / v_hat_sqrt
        else:
            theta -= lr * m_hat                           # SGD with momentum
        expected.append(theta)
    assert adaptive == [False] * 5 + [True] * 3
    assert_path(trajectory(lambda p: ours.RAdam(p, lr=lr)), expected)


@pytest.mark.parametrize("clip", [True, False])
def test_adopt(clip):
    lr, beta1, beta2, eps = 0.1, 0.9, 0.5, 1e-6
    theta, m, v, expected = THETA0, 0.0, G[0] ** 2, [THETA0]  # call 1: v_0 = g_0², θ unchanged
    for t, g in enumerate(G[1:], start=1):
        normalised = g / max(math.sqrt(v), eps)           # g_t / max(sqrt(v_{t-1}), ε)
        if clip:
            c = t**0.25                                   # c_t = t^(1/4)
            normalised = min(max(normalised, -c), c)
        m = beta1 * m + (1 - beta1) * normalised          # m_t
        theta -= lr * m                                   # θ_t = θ_{t-1} - η m_t
        v = beta2 * v + (1 - beta2) * g * g               # v_t
        expected.append(theta)
    actual = trajectory(lambda p: ours.ADOPT(p, lr=lr, betas=(beta1, beta2),
                                             clip_lambda=ours.adopt.clip_quarter_power
                                             if clip else None))
    assert_path(actual, expected)
    # The first update clips: g_1/|g_0| = -2 becomes -1.
    assert actual[1] == pytest.approx(THETA0 - lr * (1 - beta1) * (-1 if clip else -2))


@pytest.mark.parametrize("clip", [True, False])
def test_adopt_paper_initialisation_starts_the_momentum_at_the_first_gradient(clip):
    # Algorithm 1 of the paper: m_1 = g̃_1, then the EMA (initial_momentum="first")
    lr, beta1, beta2, eps = 0.1, 0.9, 0.5, 1e-6
    theta, m, v, expected = THETA0, None, G[0] ** 2, [THETA0]
    for t, g in enumerate(G[1:], start=1):
        normalised = g / max(math.sqrt(v), eps)           # g̃_t
        if clip:
            normalised = min(max(normalised, -t**0.25), t**0.25)
        m = normalised if m is None else beta1 * m + (1 - beta1) * normalised
        theta -= lr * m                                   # θ_1 = θ_0 - η g̃_1
        v = beta2 * v + (1 - beta2) * g * g
        expected.append(theta)
    clip_lambda = ours.adopt.clip_quarter_power if clip else None
    for compiled in (False, True):
        actual = trajectory(lambda p: ours.ADOPT(
            p, lr=lr, betas=(beta1, beta2), clip_lambda=clip_lambda,
            initial_momentum="first", compiled=compiled))
        assert_path(actual, expected)
    default = trajectory(lambda p: ours.ADOPT(p, lr=lr, betas=(beta1, beta2),
                                              clip_lambda=clip_lambda))
    assert default[1] == pytest.approx(THETA0 - (1 - beta1) * (THETA0 - expected[1]))


def test_adopt_initial_momentum_is_checked():
    with pytest.raises(ValueError, match="initial_momentum must be one of"):
        ours.ADOPT([torch.zeros(1, requires_grad=True)], initial_momentum="paper")


@pytest.mark.parametrize("bias_correction", [True, False])
def test_adashift(bias_correction):
    lr, beta1, beta2, eps, n = 0.1, 0.9, 0.999, 1e-10, 2
    theta, v, expected = THETA0, 0.0, [THETA0, THETA0]    # calls 1, 2 fill the queue
    for t in range(1, len(G) - n + 1):
        current, previous, oldest = G[t + n - 1], G[t + n - 2], G[t - 1]
        m = (current + beta1 * previous) / (1 + beta1)    # m_t over a window of n = 2
        v = beta2 * v + (1 - beta2) * oldest**2           # v_t from g_{t-n}
        v_hat = v / (1 - beta2**t) if bias_correction else v
        theta -= lr * m / (math.sqrt(v_hat) + eps)
        expected.append(theta)
    actual = trajectory(lambda p: ours.AdaShift(p, lr=lr, keep_num=n,
                                                bias_correction=bias_correction))
    assert_path(actual, expected)


def test_adashift_max_shares_one_scale_per_tensor():
    theta = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    optimizer = ours.AdaShift([theta], lr=0.1, keep_num=1, betas=(0.0, 0.0))
    for g in ([3.0, 1.0], [1.0, 1.0]):
        theta.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
    # v = max(3², 1²) = 9 for both coordinates; m = g_2 = (1, 1)
    assert theta.tolist() == pytest.approx([1 - 0.1 / 3, 1 - 0.1 / 3])
