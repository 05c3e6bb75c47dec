"""The README's Python blocks run as written (issue 14), and the values they show are printed.

The blocks are run in order in one namespace, as a reader pastes them into one session (the
README is the project's own text, not user input). In a block, a statement whose comment
shows a value -- a quoted string, an array(...), a {dict}, a Step(...) or a <repr> -- must print
(repr) that value: `d.result  # (A + A.T)*x -- prose` compares the part before ` -- `,
`...` stands for anything, and an e-notation number or a size in `(m=5, n=4)` may differ (they
come from random draws).
"""
import ast
import contextlib
import io
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
SHOWN = re.compile(r"^('|\"|array\(|\{|Step\(|<|\()")


def python_blocks():
    blocks, inside, lines = [], False, []
    for line in README.read_text().splitlines():
        if line.startswith("```python"):
            inside, lines = True, []
        elif line.startswith("```") and inside:
            inside = False
            blocks.append("\n".join(lines))
        elif inside:
            lines.append(line)
    return blocks


def shown_value(source_line):
    """The value a line's comment shows, or None when the comment is prose."""
    code, hash_, comment = source_line.partition("  #")
    comment = comment.strip().split(" -- ")[0].strip()
    return comment if hash_ and SHOWN.match(comment) else None


def pattern(shown):
    """A regex for a shown value: ... is anything, random numbers and sizes may differ."""
    text = re.escape(shown)
    text = text.replace(r"\.\.\.", ".*")
    text = re.sub(r"[0-9]\\\.[0-9]+e\\-[0-9]+", r"[0-9.]+e[-+][0-9]+", text)
    text = re.sub(r"([a-zA-Z]+)=[0-9]+", r"\1=[0-9]+", text)
    return re.compile(text + r"\Z", re.S)


def run_block(source, namespace):
    """Run one block statement by statement; the mismatches of shown values, as text."""
    lines = source.splitlines()
    problems = []
    for node in ast.parse(source).body:
        shown = shown_value(lines[node.end_lineno - 1]) if isinstance(node, ast.Expr) else None
        with contextlib.redirect_stdout(io.StringIO()):
            if shown is None:
                exec(compile(ast.Module([node], []), str(README), "exec"), namespace)
                continue
            value = eval(compile(ast.Expression(node.value), str(README), "eval"), namespace)
        if not pattern(shown).match(repr(value)):
            problems.append(f"line {node.lineno}: shows {shown!r}, prints {repr(value)!r}")
    return problems


BLOCKS = python_blocks()
KNOWN = {}             # block index -> why it is known not to run (strict xfail)


@pytest.fixture(scope="module")
def outcomes():
    namespace, results = {"__name__": "readme"}, []
    for source in BLOCKS:
        try:
            results.append(run_block(source, namespace))
        except Exception as e:          # the outcome of this block, reported by its test
            results.append([f"{type(e).__name__}: {e}"])
    return results


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", [
    pytest.param(i, marks=[pytest.mark.xfail(strict=True, reason=KNOWN[i])] if i in KNOWN else [])
    for i in range(len(BLOCKS))], ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_a_readme_python_block_runs_and_prints_what_it_shows(index, outcomes):
    assert outcomes[index] == [], outcomes[index]


def test_a_wrong_shown_value_is_caught():
    assert run_block("1 + 1  # '3'", {}) != []
    assert run_block("'a' * 2  # 'aa'", {}) == []
