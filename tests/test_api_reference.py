"""The book's optimlab reference (book/api/): complete, documented and current."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import api_inventory as inventory
import api_reference as reference
from api_signatures import WIDTH, directive_lines, signature
from notebooks import toc_files


@pytest.fixture(scope="module")
def all_entries():
    return inventory.entries()


@pytest.fixture(scope="module")
def pages(all_entries):
    return reference.render(all_entries)


def test_every_public_name_has_a_docstring(all_entries):
    missing = inventory.undocumented(all_entries)
    assert not missing, (f"{len(missing)} public names of optimlab have no "
                         "docstring (write one; a constant takes a '#:' comment "
                         "above it):\n  " + "\n  ".join(missing))


def test_the_pages_are_what_the_generator_writes(pages):
    stale = reference.stale_pages(pages)
    assert not stale, (f"book/api/ is out of date ({', '.join(stale)}): run "
                       "make api (tools/api_reference.py) and commit the pages")
    listed = set(toc_files())
    unlisted = [name for name in pages
                if f"book/api/{Path(name).stem}" not in listed]
    assert not unlisted, f"_toc.yml does not list book/api/ pages {unlisted}"


def test_every_public_module_has_a_section(pages):
    text = "".join(pages.values())
    for module_name in inventory.public_modules():
        assert f".. py:module:: {module_name}\n" in text, module_name


FAKE_PACKAGE = {
    "__init__.py": '''
        """A package with one undocumented public name of each kind."""

        __all__ = ["documented", "undocumented", "LIMIT", "BARE", "Thing"]

        #: A documented constant.
        LIMIT = 3
        BARE = 4


        def documented(): """Documented."""


        def undocumented(): pass


        class Thing:
            """A documented class."""

            def method(self): pass

            @property
            def size(self): """Documented."""
        ''',
    "plain.py": '''
        """A module without __all__: every name its source binds is public."""

        from . import documented, Thing


        def helper(): pass


        def _private(): pass


        class Error(Exception):
            pass


        class Subclass(Thing):
            """A subclass."""

            def size(self): return 1
        ''',
    "again.py": '''
        """Makes public again what the package does."""

        from . import Thing

        __all__ = ["Thing"]
        ''',
}


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package ``fakeapi`` (of tmp_path) that the inventory takes for optimlab."""
    package = tmp_path / "fakeapi"
    package.mkdir()
    for name, source in FAKE_PACKAGE.items():
        text = textwrap.dedent(source).lstrip()
        (package / name).write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(inventory, "PACKAGE", "fakeapi")
    yield "fakeapi"
    for name in [name for name in sys.modules if name.split(".")[0] == "fakeapi"]:
        del sys.modules[name]


def test_undocumented_names_of_a_package_are_caught(fake_package):
    found = inventory.entries(inventory.public_modules(fake_package))
    assert inventory.undocumented(found) == [
        "fakeapi.undocumented", "fakeapi.BARE", "fakeapi.Thing.method",
        "fakeapi.plain.helper", "fakeapi.plain.Error"]
    plain = {entry.name: entry for entry in found["fakeapi.plain"]}
    assert sorted(plain) == ["Error", "Subclass", "helper"]   # not what it imports
    size = inventory.members(plain["Subclass"].obj)[0]
    assert (size.name, size.doc) == ("size", "Documented.")   # an override inherits


def test_an_object_public_in_two_modules_is_described_once(fake_package):
    found = inventory.entries(inventory.public_modules(fake_package))
    again = found["fakeapi.again"][0]
    assert (again.at_home, again.home_name, again.origin) == (
        False, "fakeapi.Thing", "fakeapi.Thing")
    text = "\n".join(reference._module_block("fakeapi.again",
                                              found["fakeapi.again"]))
    assert "- ``Thing``: :py:obj:`fakeapi.Thing`" in text
    assert ".. py:class::" not in text


def _example(theta, lr: float = 1e-3, *, say=print, clip=lambda t: t ** 0.25,
             sizes: tuple[int, ...] = (1, 2)) -> list[float]:
    """A function with defaults whose repr would hold memory addresses."""


def test_signatures_show_the_source_of_defaults():
    assert signature(_example) == (
        "(theta, lr: float = 1e-3, *, say=print, clip=lambda t: t ** 0.25, "
        "sizes: tuple[int, ...] = (1, 2)) -> list[float]")


def test_long_signatures_wrap_between_parameters():
    head = ".. py:function:: f(" + ", ".join(f"argument_{i}: int = {i}"
                                             for i in range(12)) + ") -> int"
    lines = directive_lines(head, "   ")
    assert len(lines) > 1 and all(len(line) <= WIDTH for line in lines)
    assert all(line.endswith(", \\") for line in lines[:-2])
    joined = "".join(line.removesuffix("\\").strip() if index else line.rstrip("\\")
                     for index, line in enumerate(lines))
    assert joined.replace(" ", "") == ("   " + head).replace(" ", "")
