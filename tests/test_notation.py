"""The notation table (book/notation.md) against the chapters' LaTeX, at the source
level: no build. The rule is in the docstring of tools/notation.py."""

from __future__ import annotations

import pytest

from latex_symbols import symbols
from notation import check, check_book, math_of, read_table

NUMBERED = ["book/one", "book/two"]


def table(*rows: tuple[str, int, str]) -> str:
    """A notation page with one row per (symbol cell, chapter number, chapter)."""
    lines = ["| Symbol | Meaning | Chapter |", "|---|---|---|"]
    lines += [f"| {symbol} | a meaning | {{doc}}`{number} <{name}>` |"
              for symbol, number, name in rows]
    return "# Notation\n\n" + "\n".join(lines) + "\n"


def pages(one: str, two: str, intro: str = "") -> list[tuple[str, str]]:
    return [("book/intro", intro), ("book/one", one), ("book/two", two)]


def keys(tex: str) -> list[str]:
    return [symbol.key for symbol in symbols(tex)]


def test_every_symbol_of_the_book_is_in_the_table_with_its_first_chapter():
    assert check_book() == []


# --- reading LaTeX -------------------------------------------------------------

@pytest.mark.parametrize("tex, expected", [
    (r"\hat m_{t-1}", [r"\hat{m}_{t-1}", "t"]),
    (r"\beta_1 \odot g", [r"\beta_{1}", r"\odot", "g"]),
    (r"Hv", ["H", "v"]),
    (r"\lVert x\rVert_2^2 + \lvert y\rvert", [
        "x", r"\lVert\cdot\rVert_{2}", "y", r"\lvert\cdot\rvert"]),
    (r"\eta_\text{ema} = \eta_{\mathrm{ema}}", [r"\eta_{\mathrm{ema}}"] * 2),
    (r"v^{\max}_t \theta^\star f^*", [
        r"v^{\max}_{t}", "t", r"\theta", r"\star", "f", r"\star"]),
    (r"\operatorname{sign}(g) \mathrm{RMS} \operatorname*{arg\,max}_x \mathrm{erf}",
     [r"\operatorname{sign}", "g", r"\operatorname{RMS}", "x"]),
    (r"\nabla^2 f \nabla_z^2 \ell \mathbb E", [
        r"\nabla^2", "f", r"\nabla^2", "z", r"\ell", r"\mathbb{E}"]),
    (r"\text{regret}(T) \begin{aligned} a \\[1ex] b \end{aligned}", ["T", "a", "b"]),
    (r"\chi^2_{\rho_t} G'_t \mathcal{F}_{t-1}", [
        r"\chi_{\rho_t}", r"\rho_{t}", "t", "G_{t}", "t", r"\mathcal{F}_{t-1}",
        "t"]),
])
def test_symbols_are_read_as_a_reader_sees_them(tex, expected):
    assert keys(tex) == expected


def test_index_forms_join_the_indices_of_a_symbol_but_keep_its_labels():
    tex = r"\theta_t \theta_{t-1} \theta_0 \theta_{\tau,i} Q_L \lambda_{\max}" \
        r" g_{t,i}"
    forms = {symbol.key: symbol.index_key for symbol in symbols(tex)}
    assert forms[r"\theta_{t}"] == forms[r"\theta_{t-1}"] == r"\theta_{•}"
    assert forms[r"\theta_{0}"] == r"\theta_{•}"
    assert forms[r"\theta_{\tau,i}"] == r"\theta_{•,•}"
    assert forms["g_{t,i}"] == "g_{•,•}"
    assert forms["Q_{L}"] is None and forms[r"\lambda_{\max}"] is None


def test_an_unknown_command_is_reported_as_unknown():
    assert [s.kind for s in symbols(r"\frac{1}{2} \foo \alpha")] == [
        "unknown", "letter"]


def test_math_is_read_from_prose_and_exercises_not_from_code():
    markdown = "\n".join([
        "Text $a_1$ and `$not_math$`, $$b_2$$ then costs $5 and $6.",
        "```python", "x = '$c_3$'", "```",
        "````{exercise} Title", "Show $d_4$.", "```python", "y = '$e_5$'", "```",
        "````",
        "```{math}", ":label: eq", "f_6 = 1", "```",
    ])
    assert math_of(markdown) == ["a_1", "b_2", "d_4", "f_6 = 1"]


# --- the check, on a small fake book -----------------------------------------------

ONE = r"Gradient descent: $\theta_t = \theta_{t-1} - \eta\, g_t$, $\theta_0$."
TWO = r"Adam: $\hat m_t = m_t / (1 - \beta_1^t)$, and $\theta^\star$."
ROWS = [(r"$\theta$, $\theta_t$", 1, "one"), (r"$\eta$", 1, "one"),
        (r"$g_t$", 1, "one"), (r"$m_t$", 2, "two"), (r"$\hat m_t$", 2, "two"),
        (r"$\beta_1$", 2, "two"), (r"$x^\star$", 2, "two")]


def test_a_complete_table_passes():
    assert check(pages(ONE, TWO), NUMBERED, table(*ROWS)) == []


def test_a_chapter_that_uses_a_symbol_missing_from_the_table_fails():
    problems = check(pages(ONE, TWO + r" With $\zeta_t$."), NUMBERED, table(*ROWS))
    assert problems == [r"book/two: $\zeta_t$ uses \zeta_{t}, which "
                        "book/notation.md does not list"]


@pytest.mark.parametrize("extra, missing", [
    (r"$\tilde m_t$", r"\tilde{m}_{t}"),           # a decoration is another symbol
    (r"$\bar x$", r"\bar{x}"),                     # even on a plain letter
    (r"$\beta_j$", r"\beta_{j}"),                  # β_1 stands only for itself
    (r"$m_{\max}$", r"m_{\max}"),                  # a label is not an index
    (r"$\lVert g\rVert_F$", r"\lVert\cdot\rVert_{F}"),
    (r"$\operatorname{diag}(g)$", r"\operatorname{diag}"),
])
def test_each_kind_of_symbol_must_be_listed(extra, missing):
    problems = check(pages(ONE, TWO + " " + extra), NUMBERED, table(*ROWS))
    assert len(problems) == 1 and f"uses {missing}, which" in problems[0]


def test_a_letter_index_stands_for_every_index_but_plain_letters_are_free():
    two = TWO + r" $m_{t-1}$, $m_0$, $g_{T}$, $\theta_{200}$, $a + b$, $\beta_1^2$."
    assert check(pages(ONE, two), NUMBERED, table(*ROWS)) == []


def test_a_wrong_first_chapter_fails():
    rows = [row if row[0] != r"$\eta$" else (r"$\eta$", 2, "two") for row in ROWS]
    problems = check(pages(ONE, TWO), NUMBERED, table(*rows))
    assert len(problems) == 1
    assert r"($\eta$): first used in chapter 1 (book/one), but the row says 2" \
        in problems[0]


def test_a_chapter_number_that_does_not_match_its_link_fails():
    rows = [row if row[0] != r"$\eta$" else (r"$\eta$", 2, "one") for row in ROWS]
    assert len(check(pages(ONE, TWO), NUMBERED, table(*rows))) == 1


def test_the_unnumbered_introduction_is_checked_but_is_no_first_chapter():
    intro = r"Adam's $\beta_1$ and $\kappa$."
    problems = check(pages(ONE, TWO, intro), NUMBERED, table(*ROWS))
    assert problems == [r"book/intro: $\kappa$ uses \kappa, which book/notation.md "
                        "does not list"]
    rows = ROWS + [(r"$\kappa$", 1, "one")]
    problems = check(pages(ONE, TWO, intro), NUMBERED, table(*rows))
    assert problems == [r"book/notation.md line 12 ($\kappa$): used only in "
                        "book/intro, not in a chapter"]


def test_a_stale_row_fails():
    rows = ROWS + [(r"$\omega$", 1, "one")]
    problems = check(pages(ONE, TWO), NUMBERED, table(*rows))
    assert problems == [r"book/notation.md line 12 ($\omega$): no page of the book "
                        "uses this symbol"]


def test_two_rows_for_one_symbol_fail():
    problems = check(pages(ONE, TWO), NUMBERED,
                     table(*ROWS, (r"$\theta_k$", 1, "one")))
    assert any(r"lines 5 and 12 both list \theta_{•}" in p for p in problems)


def test_an_unknown_command_in_a_chapter_fails():
    problems = check(pages(ONE, TWO + r" $\foo$"), NUMBERED, table(*ROWS))
    assert problems == [r"book/two: $\foo$ uses the LaTeX command \foo, which "
                        "tools/latex_symbols.py does not classify"]


def test_a_row_without_a_chapter_link_fails():
    page = table(*ROWS).replace("{doc}`1 <one>` |\n| $\\eta$", "one |\n| $\\eta$")
    rows, problems = read_table(page)
    assert len(rows) == len(ROWS) - 1
    assert problems == ["book/notation.md line 5: the last cell must be a chapter "
                        "link {doc}`N <name>`, not 'one'"]


def test_the_forms_of_a_row_are_its_checked_symbols_outside_subscripts():
    rows, _ = read_table(table((r"$x^\top$", 1, "one"), (r"$L$, $T$", 1, "one"),
                               (r"$f_{B_k}$", 2, "two")))
    assert [[form.key for form in row.forms] for row in rows] == [
        [r"\top"], ["L", "T"], ["f_{B_k}"]]


def test_a_formula_that_cannot_be_read_is_named_with_its_chapter():
    problems = check(pages(ONE, TWO + r" $m_{t$"), NUMBERED, table(*ROWS))
    assert problems == ["book/two: $m_{t$ cannot be read: unbalanced braces in '{t'"]
