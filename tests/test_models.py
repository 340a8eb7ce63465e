"""The experiment networks: shapes, sizes, the CIFAR stem, argument checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from optimlab import models


def test_mlp_is_784_784_10_with_relu():
    model = models.mlp()
    linear = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(784, 784), (784, 10)]
    assert any(isinstance(m, nn.ReLU) for m in model)
    assert sum(p.numel() for p in model.parameters()) == 784 * 784 + 784 + 784 * 10 + 10
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_resnet18_cifar_has_a_3x3_stride_1_stem_and_no_max_pool():
    model = models.resnet18_cifar()
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    assert model.fc.out_features == 10
    assert 11_100_000 < sum(p.numel() for p in model.parameters()) < 11_200_000
    features = {}

    def record(module, inputs, output):
        features["layer1"] = output.shape

    model.layer1.register_forward_hook(record)
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert features["layer1"][-2:] == (32, 32)  # the first stage works at full resolution


@pytest.mark.parametrize("name, n, parameters", [("resnet20", 3, 269_722),
                                                  ("resnet8", 1, 75_290)])
def test_cifar_resnets_are_he_et_al_s_6n_plus_2_layer_networks(name, n, parameters):
    model = models.build(name)
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convolutions) + len(linear) == 6 * n + 2  # option A: no shortcut weights
    assert [c.out_channels for c in convolutions[1::2 * n]] == [16, 32, 64]
    assert sum(p.numel() for p in model.parameters()) == parameters
    shapes = []
    for block in model:
        if isinstance(block, models._BasicBlock):
            block.register_forward_hook(lambda m, i, out: shapes.append(tuple(out.shape[1:])))
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert shapes == [(16, 32, 32)] * n + [(32, 16, 16)] * n + [(64, 8, 8)] * n


def test_option_a_shortcut_subsamples_and_pads_with_zeros():
    block = models._BasicBlock(16, 32, stride=2)
    x = torch.randn(1, 16, 8, 8)
    shortcut = block.shortcut(x)
    assert shortcut.shape == (1, 32, 4, 4)
    assert torch.equal(shortcut[:, 8:24], x[:, :, ::2, ::2])
    assert not shortcut[:, :8].any() and not shortcut[:, 24:].any()
    assert models._BasicBlock(16, 16, stride=1).shortcut(x) is x


def test_same_seed_same_weights():
    torch.manual_seed(3)
    a = models.build("mlp")
    torch.manual_seed(3)
    b = models.build("mlp")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("call, bad", [
    (lambda: models.mlp(hidden=0), "hidden"),
    (lambda: models.mlp(inputs=7.5), "inputs"),
    (lambda: models.resnet18_cifar(classes=1), "classes"),
    (lambda: models.resnet_cifar(n=0), "n"),
    (lambda: models.resnet_cifar(width=2.5), "width"),
    (lambda: models.build("vgg"), "name"),
    (lambda: models.source("vgg"), "name"),
])
def test_bad_arguments_are_named(call, bad):
    with pytest.raises(ValueError, match=bad):
        call()


def test_source_is_the_builder_code():
    assert models.source("mlp").startswith("def mlp(")
