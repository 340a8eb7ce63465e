"""pyproject.toml, constraints.txt and environment.yml describe one environment."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from notebooks import ROOT


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in ("book", "test"):
        lines += project["optional-dependencies"][extra]
    requirements = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): r for r in requirements}


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, version = line.split("==")
            found[canonicalize_name(name)] = version.strip()
    return found


def constraints() -> dict[str, str]:
    return pins((ROOT / "constraints.txt").read_text().splitlines())


def environment_pip() -> list[str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    for entry in environment["dependencies"]:
        if isinstance(entry, dict) and "pip" in entry:
            return entry["pip"]
    raise AssertionError("environment.yml has no pip section")


def test_environment_yml_lists_the_same_packages_as_pyproject():
    assert set(pins(environment_pip())) == set(pyproject_requirements())
    assert "-e ." in environment_pip() and "-c constraints.txt" in environment_pip()


def test_environment_yml_pins_the_constraint_versions():
    locked = constraints()
    for name, version in pins(environment_pip()).items():
        assert locked.get(name) == version, f"{name}: environment.yml {version}, " \
                                            f"constraints.txt {locked.get(name)}"


def test_every_pinned_version_satisfies_the_pyproject_range():
    locked = constraints()
    for name, requirement in pyproject_requirements().items():
        assert name in locked, f"{name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(locked[name], prereleases=True), \
            f"{name}=={locked[name]} is outside {requirement}"


def test_ranges_keep_colabs_torch():
    """Installing optimlab on Colab must not replace its torch or torchvision."""
    requirements = pyproject_requirements()
    for name, oldest_colab_like in (("torch", "2.4.0"), ("torchvision", "0.19.0")):
        spec = requirements[name].specifier
        assert spec.contains(oldest_colab_like) and spec.contains("2.99.0" if name == "torch"
                                                                   else "0.99.0")


def test_the_installed_torchvision_imports():
    import torch
    import torchvision

    assert torchvision.__version__.split("+")[0] == constraints()["torchvision"]
    assert torch.__version__.split("+")[0] == constraints()["torch"]
    assert torchvision.ops.nms(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([1.0]), 0.5).tolist() == [0]
