"""The symbols a piece of the book's LaTeX uses, read the way a reader sees them.

``symbols(tex)`` turns ``\\hat m_{t-1} = \\beta_1 m_{t-2} \\odot g`` into symbols
with a *key* each: ``\\hat{m}_{t-1}``, ``\\beta_{1}``, ``m_{t-2}``, ``\\odot``,
``g``. ``tools/notation.py`` checks them against the book's notation table; its
docstring gives the rule, and this module the reading:

- Every letter is a symbol of its own (``Hv`` is H times v). A symbol's *base* is a
  Latin letter, a Greek letter, ``\\ell``, or a ``\\mathcal``/``\\mathbf`` letter.
  A base may carry a decoration (``\\hat``, ``\\bar``, ``\\tilde``), a subscript
  and a superscript; primes are dropped (θ' is read as θ).
- The key is decoration + base + label superscript + subscript. A superscript is
  part of the symbol only as a label (``v^{\\max}``, ``f^{\\mathrm{reg}}``); powers,
  ``^\\top`` and ``^\\star`` are read as what they are. A subscript is written
  without spaces or outer braces, and ``\\text`` as ``\\mathrm``.
- The *index form* of a key replaces each comma-separated part of its subscript that
  is an index -- one or two lowercase letters, N, T, a whole number or ``\\tau``,
  joined by + and - (``t``, ``t-1``, ``ij``, ``T``, ``0``) -- by ``•``: θ_t, θ_{t-1}
  and θ_0 all have the index form θ_•, while Q_L and X_B keep their labels.
- A *command symbol* is a LaTeX command with a meaning of its own: ``\\nabla`` (and
  ``\\nabla^2``, the Hessian), ``\\partial``, ``\\odot``, ``\\otimes``,
  ``\\top``, ``\\star`` (a plain ``*`` counts as ``\\star``), ``\\Pr``, the
  Loewner orders, a norm (``\\lVert\\cdot\\rVert`` with its subscript; ``\\|``
  is a norm bar too), an absolute value, an inner product, a ``\\mathbb`` letter,
  and a named operator (``\\operatorname{sign}``, or ``\\mathrm{RMS}`` outside a
  script) unless it is an ordinary function (``ORDINARY_FUNCTIONS``).
- Not symbols: ``\\text{…}`` outside scripts, numbers, punctuation, and the
  commands of ``IGNORED`` (spacing, sizes, fractions and roots, relations, big
  operators, ordinary functions such as ``\\log`` and ``\\max``, ``\\infty``,
  opening delimiters). A command this module does not know is returned as an
  *unknown* symbol, so that a new command gets a decision instead of slipping
  through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GREEK = set("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta
iota kappa lambda mu nu xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi
chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
ell""".split())
LETTER_FONTS = {"mathcal", "mathbf"}             # \mathcal{F}: a base like a letter
DECORATIONS = {"hat", "bar", "tilde", "widehat", "widetilde", "overline"}
NAMED = {"operatorname", "mathrm"}               # \operatorname{sign}, \mathrm{RMS}
TEXT = {"text", "textrm", "textit", "textbf", "mbox"}
SYMBOL_COMMANDS = {"nabla", "partial", "odot", "otimes", "top", "star", "succ",
                   "succeq", "preceq", "Pr"}
NORM = "\\lVert\\cdot\\rVert"
PAIR_CLOSERS = {"rVert": NORM, "|": NORM, "rvert": "\\lvert\\cdot\\rvert",
                "rangle": "\\langle\\cdot,\\cdot\\rangle"}
IGNORED = set("""
, ; ! : > \\ { } % # & _ quad qquad
big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr left right middle
frac dfrac tfrac sqrt textstyle displaystyle underbrace overbrace
le leq ge geq ne neq approx sim simeq propto ll gg in notin to leftarrow rightarrow
Leftarrow Rightarrow Longrightarrow longrightarrow mapsto mid pm mp times cdot cdots
dots ldots vdots equiv subset subseteq forall exists
sum prod int log ln exp cos sin tan arccos max min arg inf sup lim det bmod infty iff
lVert lvert langle lceil rceil lfloor rfloor square not begin end
""".split()) | {" "}
SPACING = {",", ";", "!", ":", ">", " ", "quad", "qquad"}
TAKES_ARGUMENT = LETTER_FONTS | DECORATIONS | NAMED | TEXT | {"mathbb"}
ORDINARY_FUNCTIONS = {"argmax", "argmin", "erf"}
INDEX = re.compile(r"(?:[a-z]{1,2}|[NT]|\d+|\\tau)(?:[+-](?:[a-z]|[NT]|\d+))*")
TOKEN = re.compile(r"\\([A-Za-z]+)\*?|\\(.)|(\s+)|(.)", re.S)


@dataclass(frozen=True)
class Symbol:
    """One symbol as used.

    ``index_key`` is the key's index form (None without an index in the subscript);
    ``letter_index`` says whether one of those indices is a letter (θ_t, not θ_0);
    ``where`` is "top", or "sub"/"sup" for a symbol in a subscript/superscript."""
    key: str
    index_key: str | None
    kind: str    # "letter" (Greek, \\ell, \\mathcal), "latin", "command", "unknown"
    base: str = ""
    decorated: bool = False
    scripted: bool = False     # has a subscript or a label superscript
    letter_index: bool = False
    where: str = "top"


def tokens(tex: str) -> list[tuple[str, str]]:
    """``(kind, value)`` pairs: ("cmd", name), ("char", c); spaces dropped."""
    out = []
    for match in TOKEN.finditer(tex):
        name, single, space, char = match.groups()
        if space is None:
            out.append(("cmd", name or single) if char is None else ("char", char))
    return out


def _argument(toks: list, i: int) -> tuple[list, int]:
    """The argument starting at ``toks[i]``: a braced group or one token."""
    if i >= len(toks):
        return [], i
    if toks[i] != ("char", "{"):
        end = i + 1
        if toks[i][0] == "cmd" and toks[i][1] in TAKES_ARGUMENT:   # _\text{ema}
            end = _argument(toks, end)[1]
        return toks[i:end], end
    depth, j = 0, i
    while j < len(toks):
        depth += {("char", "{"): 1, ("char", "}"): -1}.get(toks[j], 0)
        if depth == 0:
            return toks[i + 1:j], j + 1
        j += 1
    raise ValueError(f"unbalanced braces in {text_of(toks[i:])!r}")


def text_of(toks: list) -> str:
    """A token list written back as compact LaTeX (``\\text`` as ``\\mathrm``)."""
    out, after_command = "", False
    for kind, value in toks:
        if kind == "cmd":
            if value in SPACING:
                continue
            out += "\\" + ("mathrm" if value in TEXT else value)
            after_command = value.isalpha()
        else:
            out += (" " if after_command and value.isalpha() else "") + value
            after_command = False
    return out


def index_form(subscript: str) -> tuple[str | None, bool]:
    """The subscript with its index parts as ``•`` (None if it has none), and whether
    one of those parts holds a letter."""
    parts, changed, letter = [], False, False
    for part in _top_level_split(subscript):
        is_index = bool(INDEX.fullmatch(part))
        parts.append("•" if is_index else part)
        changed |= is_index
        letter |= is_index and not part.isdigit()
    return (",".join(parts) if changed else None), letter


def _top_level_split(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _is_label(toks: list) -> bool:
    return (len(toks) == 1 and toks[0] in {("cmd", "max"), ("cmd", "min")}) or (
        bool(toks) and toks[0][0] == "cmd" and toks[0][1] in NAMED | TEXT)


def symbols(tex: str) -> list[Symbol]:
    """Every symbol of ``tex``, in order (see the module docstring)."""
    return list(_scan(tokens(tex), "top"))


def _command(key: str, where: str, kind: str = "command") -> Symbol:
    return Symbol(key, None, kind, key, where=where)


def _scan(toks: list, where: str):
    """The symbols of a token list found ``where`` ("top", "sub" or "sup")."""
    i = 0
    while i < len(toks):
        kind, value = toks[i]
        i += 1
        if kind == "char":
            if value.isascii() and value.isalpha():
                yield from _base(value, "latin", "", toks, i, where)
                i = _after_scripts(toks, i)
            elif value == "*":
                yield _command("\\star", where)
            elif value in "_^":                       # a script without a base
                arg, i = _argument(toks, i)
                yield from _scan(arg, _inner(where, value))
            continue
        if value in TEXT or value in {"begin", "end"}:
            i = _argument(toks, i)[1]
        elif value == "\\" and i < len(toks) and toks[i] == ("char", "["):
            while i < len(toks) and toks[i] != ("char", "]"):     # \\[1ex]
                i += 1
            i += 1
        elif value in NAMED:
            arg, i = _argument(toks, i)
            name = re.sub(r"[^A-Za-z]", "", text_of(arg).replace("\\mathrm", ""))
            if where == "top" and name not in ORDINARY_FUNCTIONS:
                yield _command(f"\\operatorname{{{name}}}", where)
        elif value in DECORATIONS:
            arg, i = _argument(toks, i)
            inner = [s for s in _scan(arg, "top") if s.where == "top"]
            if len(inner) != 1 or inner[0].kind not in ("letter", "latin"):
                raise ValueError(f"\\{value}{{{text_of(arg)}}}: a decoration must "
                                 "cover one letter")
            mark = {"widehat": "hat", "widetilde": "tilde", "overline": "bar"}.get(
                value, value)
            yield from _base(inner[0].key, inner[0].kind, mark, toks, i, where)
            i = _after_scripts(toks, i)
        elif value in GREEK or value in LETTER_FONTS:
            base = "\\" + value
            if value in LETTER_FONTS:
                arg, i = _argument(toks, i)
                base = f"\\{value}{{{text_of(arg)}}}"
            yield from _base(base, "letter", "", toks, i, where)
            i = _after_scripts(toks, i)
        elif value == "mathbb":
            arg, i = _argument(toks, i)
            yield _command(f"\\mathbb{{{text_of(arg)}}}", where)
        elif value == "nabla":                  # \nabla^2 and \nabla_z^2: Hessians
            square = _scripts(toks, i).get("^") == [("char", "2")]
            yield _command("\\nabla^2" if square else "\\nabla", where)
        elif value in PAIR_CLOSERS:
            key = PAIR_CLOSERS[value]
            subscript = _scripts(toks, i).get("_")
            if key == NORM and subscript:
                key += "_{" + text_of(subscript) + "}"
            yield _command(key, where)
        elif value in SYMBOL_COMMANDS:
            yield _command("\\" + value, where)
        elif value not in IGNORED:
            yield _command("\\" + value, where, kind="unknown")


def _inner(where: str, mark: str) -> str:
    """Where the script ``mark`` ("_" or "^") of a symbol found ``where`` is."""
    return "sub" if mark == "_" or where == "sub" else "sup"


def _scripts(toks: list, i: int) -> dict[str, list]:
    """The subscript and superscript that follow ``toks[i]`` (primes skipped)."""
    found: dict[str, list] = {}
    while i < len(toks) and toks[i] in {("char", "_"), ("char", "^"), ("char", "'")}:
        mark = toks[i][1]
        if mark == "'":
            i += 1
            continue
        found[mark], i = _argument(toks, i + 1)
    return found


def _after_scripts(toks: list, i: int) -> int:
    while i < len(toks) and toks[i] in {("char", "_"), ("char", "^"), ("char", "'")}:
        i = i + 1 if toks[i] == ("char", "'") else _argument(toks, i + 1)[1]
    return i


def _base(base: str, kind: str, decoration: str, toks: list, i: int, where: str):
    """The symbol whose base ends at ``toks[i]``, then the symbols in its scripts."""
    scripts = _scripts(toks, i)
    sub, sup = scripts.get("_"), scripts.get("^")
    label = "^{" + text_of(sup) + "}" if sup is not None and _is_label(sup) else ""
    name = (f"\\{decoration}{{{base}}}" if decoration else base) + label
    subscript = text_of(sub) if sub is not None else ""
    index, letter = index_form(subscript) if subscript else (None, False)
    key = name + (f"_{{{subscript}}}" if subscript else "")
    index_key = f"{name}_{{{index}}}" if index else None
    yield Symbol(key, index_key, kind, base, bool(decoration),
                 bool(subscript or label), letter, where)
    if sub is not None:
        yield from _scan(sub, _inner(where, "_"))
    if sup is not None and not label:
        yield from _scan(sup, _inner(where, "^"))
