"""Signatures for the ``optimlab`` reference, the same on every machine and run.

A default value is shown as its source text (``world=SINGLE``, ``say=print``), as
autodoc's ``autodoc_preserve_defaults`` shows it, and only where there is no source
as its ``repr`` without memory addresses. Annotations are their source text too.
Long signatures are wrapped between parameters with reST's backslash continuation,
so that no line of a page is wider than :data:`WIDTH` (Sphinx joins the lines).
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap

WIDTH = 85
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")
_FORWARD_REF = re.compile(r"ForwardRef\('([^']*)'\)")


class _Text:
    """Shown as its text in a signature (``inspect`` would quote a string)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def signature(obj: object, drop_first: bool = False,
              returns: bool = True) -> str | None:
    """``(a: int, b=2) -> str`` for a function or a class's constructor; None when
    Python knows none (a builtin's, an exception's). ``drop_first``: without
    ``self`` or ``cls``."""
    try:
        found = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    parameters = list(found.parameters.values())[1 if drop_first else 0:]
    defaults = _default_sources(obj)
    shown = [parameter.replace(annotation=_annotation(parameter.annotation),
                               default=_default(parameter, defaults))
             for parameter in parameters]
    result = _annotation(found.return_annotation) if returns else found.empty
    return str(found.replace(parameters=shown, return_annotation=result))


def _default(parameter: inspect.Parameter, sources: dict[str, str]):
    if parameter.default is parameter.empty:
        return parameter.default
    return _Text(sources.get(parameter.name) or _stable_repr(parameter.default))


def annotation_text(annotation: object) -> str | None:
    """An annotation as its source text, None for none."""
    shown = _annotation(annotation)
    return None if shown is inspect.Signature.empty else shown.text


def _annotation(annotation: object):
    if annotation is inspect.Signature.empty:
        return annotation
    if isinstance(annotation, str):
        return _Text(annotation)
    return _Text(_FORWARD_REF.sub(r"\1", inspect.formatannotation(annotation)))


def _stable_repr(value: object) -> str:
    if inspect.isroutine(value) or inspect.isclass(value):
        return value.__qualname__
    return _ADDRESS.sub("", repr(value))


def _default_sources(obj: object) -> dict[str, str]:
    """The source text of each parameter's default, where the source is found."""
    if inspect.isclass(obj):
        found = _function_defaults(getattr(obj, "__init__", None))
        return found or _field_defaults(obj)
    return _function_defaults(obj)


def _function_defaults(function: object) -> dict[str, str]:
    parsed = _parse(function)
    if parsed is None or not isinstance(parsed[1], (ast.FunctionDef,
                                                     ast.AsyncFunctionDef)):
        return {}
    source, node = parsed
    arguments = node.args
    positional = arguments.posonlyargs + arguments.args
    pairs = list(zip(positional[len(positional) - len(arguments.defaults):],
                     arguments.defaults))
    pairs += [(argument, default) for argument, default
              in zip(arguments.kwonlyargs, arguments.kw_defaults)
              if default is not None]
    return {argument.arg: _segment(source, default) for argument, default in pairs}


def _field_defaults(cls: type) -> dict[str, str]:
    """Defaults of a dataclass's or named tuple's fields, from the class bodies."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        parsed = _parse(klass)
        if parsed is None or not isinstance(parsed[1], ast.ClassDef):
            continue
        source, node = parsed
        for statement in node.body:
            if (isinstance(statement, ast.AnnAssign) and statement.value is not None
                    and isinstance(statement.target, ast.Name)):
                found[statement.target.id] = _segment(source, statement.value)
    return found


def _parse(obj: object) -> tuple[str, ast.stmt] | None:
    if obj is None:
        return None
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):          # made at run time (a dataclass's __init__)
        return None
    return source, ast.parse(source).body[0]


def _segment(source: str, node: ast.AST) -> str:
    return " ".join(ast.get_source_segment(source, node).split())


def directive_lines(head: str, indent: str) -> list[str]:
    """``.. py:function:: f(a, b)`` as lines of at most :data:`WIDTH` characters,
    broken after a parameter's comma, each continued line ending in a backslash."""
    first = indent + head
    if len(first) <= WIDTH:
        return [first]
    opening = head.find("(")
    if opening < 0:
        return [first]
    pieces = _top_level_pieces(head)
    hang = " " * (len(indent) + head.index("::") + 3)
    lines, line = [], ""
    for piece in pieces:
        start = line == ""
        if start:
            candidate = (indent if not lines else hang) + piece
        else:
            candidate = line + piece
        if not start and len(candidate) > WIDTH - 2:
            lines.append(line + "\\")
            line = hang + piece.lstrip()
        else:
            line = candidate
    return lines + [line]


def _top_level_pieces(text: str) -> list[str]:
    """``text`` cut after each comma (and space) between the parameters, and
    before the ``->`` of the return annotation."""
    pieces, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote and text[index - 1] != "\\" else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 1:
            end = index + 2 if text[index + 1:index + 2] == " " else index + 1
            pieces.append(text[start:end])
            start = end
        elif depth == 0 and text.startswith(" -> ", index) and index > start:
            pieces.append(text[start:index + 1])
            start = index + 1
    return pieces + [text[start:]]
