"""pyproject.toml, constraints.txt and environment.yml describe one environment."""

from __future__ import annotations

import tomllib
from importlib import metadata

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from notebooks import ROOT


def pyproject_requirements(extras=("book", "test")) -> dict[str, Requirement]:
    """pyproject.toml's ``dependencies`` (what installing optimlab installs) and extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
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


def constraints(name: str = "constraints.txt") -> dict[str, str]:
    return pins((ROOT / name).read_text().splitlines())


def minimum_constraints() -> dict[str, str]:
    """What `make test-minimum` installs: the oldest versions pyproject.toml allows."""
    return constraints("constraints-minimum.txt")


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


@pytest.mark.parametrize("file, extras", [("constraints.txt", ("book", "test")),
                                          ("constraints-minimum.txt", ("test",))])
def test_every_pinned_version_satisfies_the_pyproject_range(file, extras):
    locked = constraints(file)
    for name, requirement in pyproject_requirements(extras).items():
        assert name in locked, f"{name} is not pinned in {file}"
        assert requirement.specifier.contains(locked[name], prereleases=True), \
            f"{name}=={locked[name]} in {file} is outside {requirement}"


def test_ranges_keep_colabs_torch():
    """Installing optimlab on Colab must not replace its torch or torchvision (Colab
    shipped torch 2.5 and 2.6 during 2025)."""
    requirements = pyproject_requirements()
    for name, oldest_colab_like in (("torch", "2.5.0"), ("torchvision", "0.20.0")):
        spec = requirements[name].specifier
        assert spec.contains(oldest_colab_like) and spec.contains("2.99.0" if name == "torch"
                                                                   else "0.99.0")


def test_the_installed_torchvision_imports():
    """The venv holds the torch and torchvision of constraints.txt (make test) or of
    constraints-minimum.txt (make test-minimum), and torchvision's C++ ops load."""
    import torch
    import torchvision

    installed = [module.__version__.split("+")[0] for module in (torch, torchvision)]
    pinned = [[versions["torch"], versions["torchvision"]]
              for versions in (constraints(), minimum_constraints())]
    assert installed in pinned, f"torch {installed[0]} and torchvision {installed[1]} " \
                                f"are neither pair pinned: {pinned}"
    assert torchvision.ops.nms(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([1.0]), 0.5).tolist() == [0]


def test_every_floor_is_the_version_make_test_minimum_installs():
    """Each dependency's floor (>=) is exactly what constraints-minimum.txt pins, so
    `make test-minimum` tests the versions pyproject.toml claims to work with."""
    minimum = minimum_constraints()
    for name, requirement in pyproject_requirements(extras=()).items():
        floors = [s.version for s in requirement.specifier if s.operator == ">="]
        assert len(floors) == 1, f"{requirement}: pyproject.toml must give one floor (>=)"
        assert name in minimum, f"{name} is not pinned in constraints-minimum.txt"
        assert Version(minimum[name]) == Version(floors[0]), \
            f"{name}: pyproject.toml's floor is {floors[0]}, " \
            f"constraints-minimum.txt pins {minimum[name]}"


@pytest.mark.parametrize("file", ["constraints.txt", "constraints-minimum.txt"])
def test_torchvision_is_the_release_built_for_torch(file):
    """torchvision 0.(x+15) goes with torch 2.x; another pair fails at import."""
    pinned = constraints(file)
    major, minor = Version(pinned["torch"]).release[:2]
    assert major == 2, f"{file}: torch {pinned['torch']} is not a 2.x release"
    expected = (0, minor + 15)
    assert Version(pinned["torchvision"]).release[:2] == expected, \
        f"{file}: torch {pinned['torch']} needs torchvision " \
        f"{expected[0]}.{expected[1]}, not {pinned['torchvision']}"


def test_each_minimum_pin_accepts_the_others():
    """Every package installed here at its constraints-minimum.txt version declares
    requirements that the other minimum pins meet (torch-adopt needs torch>=2.5,
    pytorch-optimizer numpy>1.24.4): pip can install the minimum set."""
    minimum = minimum_constraints()
    checked = 0
    for name, version in minimum.items():
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if Version(distribution.version) != Version(version):
            continue  # another version's requirements would prove nothing
        checked += 1
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            needed = canonicalize_name(requirement.name)
            if needed in minimum:
                assert requirement.specifier.contains(minimum[needed], prereleases=True), \
                    f"{name}=={version} requires {requirement}; " \
                    f"constraints-minimum.txt pins {needed}=={minimum[needed]}"
    assert checked >= 2  # at least torch-adopt and pytorch-optimizer, pinned in both


def test_make_test_minimum_uses_its_own_venv_and_the_minimum_pins():
    """The target must not install the old versions into .venv (make test's venv)."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest-minimum:")[1].split("\n\n")[0]
    venv = makefile.split("MINIMUM_VENV := ")[1].split()[0]
    assert venv != ".venv" and f"{venv}/" in (ROOT / ".gitignore").read_text().split()
    assert "-c constraints-minimum.txt" in recipe and "$(MINIMUM_VENV)/bin/python" in recipe


def book_renderer_requirements() -> set[str]:
    lines = (ROOT / "requirements-book.txt").read_text().splitlines()
    return {canonicalize_name(line.split("#")[0].strip()) for line in lines
            if line.split("#")[0].strip()}


def test_make_book_installs_the_book_extra_without_the_kernel_and_nothing_heavy():
    """`make book` renders stored outputs: the book extra minus ipykernel, no torch."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = {canonicalize_name(Requirement(line).name)
             for line in project["optional-dependencies"]["book"]}
    renderer = book_renderer_requirements()
    assert renderer == extra - {"ipykernel"}
    assert not renderer & {"torch", "torchvision", "optimlab", "pytest"}
    assert all(name in constraints() for name in renderer), "pin them in constraints.txt"
    makefile = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt -r requirements-book.txt" in makefile
