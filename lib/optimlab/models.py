"""The networks of the experiments: an MLP for MNIST and a ResNet-18 for CIFAR-10.

* :func:`mlp` -- 784 inputs, one hidden layer of 784 ReLU units, 10 outputs, the
  MNIST network of Taniguchi et al., *ADOPT*, NeurIPS 2024 (Section 5).
* :func:`resnet18_cifar` -- torchvision's ResNet-18 (He et al., CVPR 2016) adapted
  to 32×32 images in the usual way: the 7×7 stride-2 stem convolution becomes a
  3×3 stride-1 one and the max-pool is removed, so the first residual stage
  works at 32×32 instead of 8×8.

:func:`build` makes either one from its name, which is how experiment
configurations refer to them.  Every builder draws its initial weights from
torch's global generator: call ``torch.manual_seed`` first for reproducible ones.
"""

from __future__ import annotations

import inspect

from torch import nn

__all__ = ["mlp", "resnet18_cifar", "build", "source", "MODELS"]


def mlp(inputs: int = 784, hidden: int = 784, classes: int = 10) -> nn.Sequential:
    """Flatten, Linear(inputs → hidden), ReLU, Linear(hidden → classes).

    PyTorch's default initialisation (Kaiming-uniform weights, uniform biases).
    """
    for name, value in (("inputs", inputs), ("hidden", hidden), ("classes", classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, hidden), nn.ReLU(),
                         nn.Linear(hidden, classes))


def resnet18_cifar(classes: int = 10) -> nn.Module:
    """ResNet-18 for 32×32 inputs: 3×3 stride-1 stem convolution, no max-pool.

    Everything else is torchvision's ``resnet18(num_classes=classes)``: four
    stages of two basic blocks (64, 128, 256, 512 channels), batch norm, global
    average pooling and a linear classifier, about 11.2 million parameters.
    """
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an int >= 2, got {classes!r}")
    from torchvision.models import resnet18

    model = resnet18(num_classes=classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model


MODELS = {"mlp": mlp, "resnet18": resnet18_cifar}


def build(name: str) -> nn.Module:
    """The model called ``name`` (a key of :data:`MODELS`) with its default sizes."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name]()


def source(name: str) -> str:
    """The source code of the builder of model ``name`` (hashed by the result cache)."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}, got {name!r}")
    return inspect.getsource(MODELS[name])
