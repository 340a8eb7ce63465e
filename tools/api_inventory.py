"""What the ``optimlab`` reference documents: public modules, names, docstrings.

A module is public when no part of its dotted name starts with an underscore. Its
public names are its ``__all__``; a module without one makes public every name its
own source binds at top level (``def``, ``class``, assignment) without a leading
underscore. A public class adds the public methods and properties that it defines
itself (what it inherits from torch is torch's to document).

Every public object is documented once, at its *home*: of the modules that make it
public, the one nearest the top of the package (``optimlab.optim.Adam`` rather than
``optimlab.optim.adam.Adam``), the module that defines it on a tie. The others refer
to the home. :func:`undocumented` lists what has no docstring; the tests require it
to be empty.

Docstrings are the objects' own, not those Python would inherit from a builtin or
from torch: a method without one takes the docstring of the method it overrides in
an optimlab class; data take the ``#:`` comment above their assignment (or the string
below it), as Sphinx's autodoc does.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import inspect
import pkgutil
from dataclasses import dataclass
from functools import cache
from types import ModuleType

from sphinx.pycode import ModuleAnalyzer

PACKAGE = "optimlab"


@dataclass(frozen=True)
class Member:
    """A method or property that a public class defines itself."""

    name: str
    kind: str                  # "method", "staticmethod", "classmethod", "property"
    function: object           # the plain function (a property's getter)
    doc: str


@dataclass(frozen=True)
class Entry:
    """One public name of one module: the object, its docstring, and its home."""

    module: str
    name: str
    obj: object
    kind: str                  # "class", "exception", "function", "data"
    origin: str                # the dotted name where it is defined
    home: tuple[str, str]      # (module, name) where the reference documents it
    doc: str

    @property
    def at_home(self) -> bool:
        return self.home == (self.module, self.name)

    @property
    def home_name(self) -> str:
        return ".".join(self.home)


def public_modules(package: str = PACKAGE) -> list[str]:
    """The package and its public modules, by name (``__main__`` is private)."""
    root = importlib.import_module(package)
    found = [package]
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            found.append(info.name)
    return sorted(found)


def public_names(module: ModuleType) -> list[str]:
    """``__all__``, or the public names that the module's own source binds, in
    source order."""
    listed = getattr(module, "__all__", None)
    if listed is not None:
        missing = [name for name in listed if not hasattr(module, name)]
        if missing:
            raise AttributeError(f"{module.__name__}.__all__ names {missing}, which "
                                 "the module does not define")
        return list(listed)
    return [name for name, node in _bindings(module.__name__).items()
            if not name.startswith("_") and not isinstance(node, _IMPORTS)
            and hasattr(module, name)]          # not in a branch that did not run


_IMPORTS = (ast.Import, ast.ImportFrom)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


@cache
def _bindings(module_name: str) -> dict[str, ast.stmt]:
    """The top-level statements of a module's source by the names they bind."""
    source = _source(module_name)
    if source is None:
        return {}
    tree = ast.parse(source)
    found: dict[str, ast.stmt] = {}

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, _DEFINITIONS):
                found.setdefault(node.name, node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target in _targets(node):
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            found.setdefault(name.id, node)
            elif isinstance(node, _IMPORTS):
                for alias in node.names:
                    found.setdefault(alias.asname or alias.name.split(".")[0], node)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body + node.orelse + getattr(node, "finalbody", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return found


@cache
def _source(module_name: str) -> str | None:
    try:
        return inspect.getsource(importlib.import_module(module_name))
    except (OSError, TypeError):          # no source (built or made at run time)
        return None


def assigned_source(defined_at: str) -> str | None:
    """The source text of the value that a module assigns to a name (on one line),
    None if it does not assign that name alone."""
    module_name, _, name = defined_at.rpartition(".")
    node = _bindings(module_name).get(name)
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
        return None
    targets = _targets(node)
    if len(targets) != 1 or not isinstance(targets[0], ast.Name):
        return None
    return " ".join(ast.get_source_segment(_source(module_name), node.value).split())


def origin(module_name: str, name: str) -> str:
    """Where the object that a module makes public under ``name`` is defined.

    Classes and functions say so themselves; data are followed through the
    ``from ... import`` statements of the modules' sources."""
    obj = getattr(importlib.import_module(module_name), name)
    if kind_of(obj) != "data":
        return f"{obj.__module__}.{obj.__qualname__}"
    node = _bindings(module_name).get(name)
    if isinstance(node, ast.ImportFrom):
        source = importlib.util.resolve_name("." * node.level + (node.module or ""),
                                             _package_of(module_name))
        original = next(alias.name for alias in node.names
                        if (alias.asname or alias.name) == name)
        if source.split(".")[0] == PACKAGE:
            return origin(source, original)
    return f"{module_name}.{name}"


def _package_of(module_name: str) -> str:
    module = importlib.import_module(module_name)
    return module.__name__ if hasattr(module, "__path__") else module.__package__


def kind_of(obj: object) -> str:
    """``class``, ``exception`` or ``function`` for what the package defines;
    ``data`` for the rest (a torch function bound to a name here is data)."""
    if getattr(obj, "__module__", None) is None or \
            obj.__module__.split(".")[0] != PACKAGE:
        return "data"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    return "function" if inspect.isroutine(obj) else "data"


@cache
def _analyzer(module_name: str) -> ModuleAnalyzer | None:
    """Sphinx's reading of a module's source (autodoc's), None without a source."""
    try:
        analyzer = ModuleAnalyzer.for_module(module_name)
        analyzer.analyze()
    except Exception:          # noqa: BLE001  (Sphinx raises PycodeError and others)
        return None
    return analyzer


def _attribute_docs(module_name: str) -> dict[tuple[str, str], str]:
    """The ``#:`` comments (or strings below) of a module's assignments, by
    ``(scope, name)``: scope ``""`` for the module's, a class's qualified name for
    its attributes."""
    analyzer = _analyzer(module_name)
    found = analyzer.find_attr_docs() if analyzer else {}
    return {key: "\n".join(lines).strip() for key, lines in found.items()}


def own_doc(obj: object) -> str:
    """The docstring an object has itself ('' for none, or one Python made up)."""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    if not isinstance(doc, str):
        return ""
    doc = inspect.cleandoc(doc)
    if inspect.isclass(obj) and doc == _generated_doc(obj):
        return ""
    return doc


def _generated_doc(cls: type) -> str | None:
    """The docstring that dataclasses and named tuples give a class without one."""
    if dataclasses.is_dataclass(cls):
        try:
            return cls.__name__ + str(inspect.signature(cls)).replace(" -> None", "")
        except (TypeError, ValueError):
            return None
    fields = getattr(cls, "_fields", None)
    if issubclass(cls, tuple) and fields is not None:
        return f"{cls.__name__}({', '.join(fields)})"
    return None


def members(cls: type) -> list[Member]:
    """The public methods and properties that ``cls`` defines, and its attributes
    that have a ``#:`` comment, in the order of the source."""
    documented = {name: doc for (scope, name), doc
                  in _attribute_docs(cls.__module__).items()
                  if scope == cls.__qualname__ and not name.startswith("_")}
    found = [Member(name, "attribute", None, doc)
             for name, doc in documented.items()]
    for name, attribute in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(attribute, property):
            kind, function = "property", attribute.fget
        elif isinstance(attribute, (staticmethod, classmethod)):
            kind, function = type(attribute).__name__, attribute.__func__
        elif inspect.isfunction(attribute):
            kind, function = "method", attribute
        else:
            continue
        if getattr(function, "hooked", False) and not inspect.unwrap(
                function).__qualname__.startswith(f"{cls.__qualname__}."):
            continue    # torch.optim.Optimizer re-binds an inherited step on first use
        found.append(Member(name, kind, function, _member_doc(cls, name, function)))
    analyzer = _analyzer(cls.__module__)
    order = analyzer.tagorder if analyzer else {}
    return sorted(found, key=lambda member: order.get(
        f"{cls.__qualname__}.{member.name}", len(order)))


def _member_doc(cls: type, name: str, function: object) -> str:
    """Its own docstring, else that of the method it overrides in an optimlab
    class."""
    doc = own_doc(function) if function is not None else ""
    for base in cls.__mro__[1:]:
        if doc:
            break
        if base.__module__.split(".")[0] != PACKAGE or name not in vars(base):
            continue
        inherited = vars(base)[name]
        inherited = (getattr(inherited, "fget", None)
                     or getattr(inherited, "__func__", inherited))
        doc = own_doc(inherited) if inherited is not None else ""
    return doc


def _doc(module_name: str, name: str, obj: object, defined_at: str) -> str:
    if kind_of(obj) != "data":
        return own_doc(obj)
    module, _, attribute = defined_at.rpartition(".")
    return _attribute_docs(module).get(("", attribute), "")


def entries(modules: list[str] | None = None) -> dict[str, list[Entry]]:
    """Every public name of every public module (module -> entries in its order)."""
    modules = public_modules() if modules is None else modules
    listed: dict[str, list[tuple[str, str]]] = {}
    found: dict[str, list[tuple[str, object, str]]] = {}
    for module_name in modules:
        module = importlib.import_module(module_name)
        found[module_name] = []
        for name in public_names(module):
            defined_at = origin(module_name, name)
            listed.setdefault(defined_at, []).append((module_name, name))
            found[module_name].append((name, getattr(module, name), defined_at))
    homes = {defined_at: min(places, key=lambda place: _nearness(place, defined_at))
             for defined_at, places in listed.items()}
    return {module_name: [
        Entry(module_name, name, obj, kind_of(obj), defined_at, homes[defined_at],
              _doc(module_name, name, obj, defined_at))
        for name, obj, defined_at in found[module_name]] for module_name in modules}


def _nearness(place: tuple[str, str], defined_at: str) -> tuple:
    """Sort key of the modules that make an object public: the fewest dots first;
    on a tie, the module that defines it (whose name begins the object's)."""
    module, name = place
    return module.count("."), not defined_at.startswith(module + "."), module, name


def undocumented(all_entries: dict[str, list[Entry]]) -> list[str]:
    """The dotted names (at home) of the public objects and members that have no
    docstring."""
    missing = []
    for module_entries in all_entries.values():
        for entry in module_entries:
            if not entry.at_home:
                continue
            if not entry.doc:
                missing.append(entry.home_name)
            if entry.kind in ("class", "exception"):
                missing += [f"{entry.home_name}.{member.name}"
                            for member in members(entry.obj) if not member.doc]
    return missing
