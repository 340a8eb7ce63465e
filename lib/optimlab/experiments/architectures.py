"""The networks a :class:`~optimlab.experiments.config.Config` can name.

Those of :data:`optimlab.models.MODELS` (the MLP and the CIFAR ResNets), and
torchvision's ResNet-50 (He et al., CVPR 2016) with ImageNet's 1,000 outputs, the
network of the seed report's ImageNet experiment, built as torchvision builds it
(``torchvision.models.resnet50()``, no pretrained weights).
"""

from __future__ import annotations

import inspect

from torch import nn

from .. import models

__all__ = ["NAMES", "RESNET50_CLASSES", "build", "source"]

#: ResNet-50's classes: ImageNet's.
RESNET50_CLASSES = 1000


def _resnet50() -> nn.Module:
    from torchvision.models import resnet50

    return resnet50(num_classes=RESNET50_CLASSES)


_TORCHVISION = {"resnet50": _resnet50}
#: Every network a config can name, sorted: :data:`optimlab.models.MODELS`'s and
#: ``"resnet50"``.
NAMES = tuple(sorted([*models.MODELS, *_TORCHVISION]))


def _check(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"name must be one of {list(NAMES)}, got {name!r}")


def build(name: str) -> nn.Module:
    """The network called ``name`` with its default sizes (initial weights from
    torch's global generator)."""
    _check(name)
    return _TORCHVISION[name]() if name in _TORCHVISION else models.build(name)


def source(name: str) -> str:
    """The source that decides the network ``name`` (provenance): optimlab's
    builder, or torchvision's ResNet module for ResNet-50."""
    _check(name)
    if name in _TORCHVISION:
        import torchvision.models.resnet as resnet

        return inspect.getsource(resnet)
    return models.source(name)
