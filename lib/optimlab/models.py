"""The networks of the experiments: an MLP for MNIST, ResNets for CIFAR-10 and a
character-level GPT for tiny Shakespeare (:func:`char_gpt`).

* :func:`softmax_regression` -- one linear layer from the 784 pixels to 10
  logits: multinomial logistic regression, the convex network of the
  optimizer benchmark ("Choosing an optimizer").
* :func:`mlp` -- 784 inputs, one hidden layer of 784 ReLU units, 10 outputs, the
  MNIST network of Taniguchi et al., *ADOPT*, NeurIPS 2024 (Section 5).
* :func:`resnet18_cifar` -- torchvision's ResNet-18 (He et al., CVPR 2016) adapted
  to 32×32 images in the usual way: the 7×7 stride-2 stem convolution becomes a
  3×3 stride-1 one and the max-pool is removed, so the first residual stage
  works at 32×32 instead of 8×8.
* :func:`resnet_cifar` -- He et al.'s ResNets for CIFAR-10 (CVPR 2016, Section 4.2):
  a 3×3 convolution with 16 filters, three stages of ``n`` basic blocks at 32×32,
  16×16 and 8×8 with 16, 32 and 64 filters, global average pooling and a linear
  classifier, ``6n + 2`` weighted layers; the shortcuts that change the shape
  subsample by 2 and pad the new channels with zeros (their option A, no
  parameters).  ``resnet20`` (n = 3, 0.27M parameters) is theirs; ``resnet8``
  (n = 1, 78k parameters) is the smallest of the family.

:func:`build` makes either one from its name, which is how experiment
configurations refer to them.  Every builder draws its initial weights from
torch's global generator: call ``torch.manual_seed`` first for reproducible ones.
"""

from __future__ import annotations

import inspect

from torch import nn

__all__ = ["softmax_regression", "mlp", "resnet18_cifar", "resnet_cifar", "resnet20", "resnet8", "char_gpt",
           "build", "source", "MODELS"]


def softmax_regression(inputs: int = 784, classes: int = 10) -> nn.Sequential:
    """Flatten, Linear(inputs → classes): the logits of multinomial logistic
    regression (the softmax is in the cross-entropy).  PyTorch's default
    initialisation."""
    for name, value in (("inputs", inputs), ("classes", classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, classes))


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


class _BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm; the shortcut adds the input (option A)."""

    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.stride, self.extra = stride, outputs - inputs

    def shortcut(self, x):
        """Identity; or every other pixel, with zeros for the new channels."""
        if self.stride == 1 and self.extra == 0:
            return x
        x = x[:, :, ::self.stride, ::self.stride]
        half = self.extra // 2
        return nn.functional.pad(x, (0, 0, 0, 0, half, self.extra - half))

    def forward(self, x):
        out = nn.functional.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return nn.functional.relu(out + self.shortcut(x))


def resnet_cifar(n: int = 3, classes: int = 10, width: int = 16) -> nn.Sequential:
    """He et al.'s CIFAR-10 ResNet with ``6n + 2`` layers (n = 3: ResNet-20).

    Stem: 3×3 convolution to ``width`` channels, batch norm, ReLU; then three stages
    of ``n`` basic blocks with ``width``, ``2 width`` and ``4 width`` channels, the
    first block of the second and third stages at stride 2; global average pooling
    and a linear layer.  Convolutions are He-initialised (``kaiming_normal_``, fan
    out), batch norm starts at (1, 0), the linear layer keeps PyTorch's default.
    """
    for name, value, low in (("n", n, 1), ("classes", classes, 2), ("width", width, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    layers = [nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
              nn.ReLU()]
    inputs = width
    for stage in range(3):
        outputs = width * 2**stage
        for block in range(n):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(_BasicBlock(inputs, outputs, stride))
            inputs = outputs
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inputs, classes)]
    model = nn.Sequential(*layers)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return model


def resnet20(classes: int = 10) -> nn.Sequential:
    """He et al.'s ResNet-20 for CIFAR-10 (n = 3, 0.27M parameters)."""
    return resnet_cifar(3, classes)


def resnet8(classes: int = 10) -> nn.Sequential:
    """The smallest CIFAR ResNet of He et al.'s family (n = 1, 78k parameters)."""
    return resnet_cifar(1, classes)


def char_gpt(vocabulary: int = 65) -> nn.Module:
    """The character-level GPT of Part IV's race (:mod:`optimlab.transformer`)."""
    from .transformer import char_gpt as build_gpt

    return build_gpt(vocabulary)


#: The builder of each model a config can name, by that name.
MODELS = {"softmax": softmax_regression, "mlp": mlp, "resnet18": resnet18_cifar, "resnet20": resnet20, "resnet8": resnet8,
          "char_gpt": char_gpt}


def build(name: str) -> nn.Module:
    """The model called ``name`` (a key of :data:`MODELS`) with its default sizes."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name]()


def source(name: str) -> str:
    """The source code of model ``name``: this module for the CIFAR ResNets (their
    builder, :func:`resnet_cifar` and its block), the builder otherwise (provenance
    in the result cache)."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}, got {name!r}")
    parts = [MODELS[name]]
    if name in ("resnet20", "resnet8"):
        parts += [resnet_cifar, _BasicBlock]
    if name == "char_gpt":
        from . import transformer

        parts.append(transformer)
    return "\n".join(inspect.getsource(part) for part in parts)
