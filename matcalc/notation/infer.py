"""Shapes the command line infers for symbols given no --shape (issue 14), always announced.

    infer_shapes("x.T @ A @ x", {"x": ("n",)})   ->  {"A": ("n", "n")}

The notation itself never guesses (`mc.parse` wants every shape); the command line, asked for a
derivation with some shapes missing, looks for shapes that make the expression well formed and
says what it assumed on stderr. The search: each undeclared symbol takes, in order of
preference, the shapes its letter suggests (as on matrixcalculus.org: A-Z a square matrix, then
any matrix; a-g a scalar; h-z a vector), over the declared dimensions (or `n`, `m` when none is
declared); the first assignment, in that order, under which the expression parses is taken. So
`A` in `x.T@A@x` with x n x 1 can only be n x n, and `w` in `X@w` with X N x d only d x 1.
At most MAX_UNKNOWN symbols are inferred; beyond that, or when nothing fits, the parser's own
error (which shows the --shape syntax) stands.
"""
import itertools

from ..errors import MatcalcError
from .parse import known_names, parse, tokenize

MAX_UNKNOWN = 3
MAX_TRIALS = 2000


def undeclared(text, shapes):
    """The names in text that are neither declared, functions nor dimensions, in order."""
    tokens = tokenize(text)
    dims = {d for spec in shapes.values() for d in (spec if isinstance(spec, tuple) else ())}
    seen = []
    for i, t in enumerate(tokens):
        following = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if t.kind == "name" and t.text not in shapes and t.text not in known_names() \
                and t.text not in dims and following != "(" and t.text not in seen:
            seen.append(t.text)
    return seen


def candidates(name, dims):
    """The shapes tried for `name`, most likely first."""
    square = [(d, d) for d in dims]
    matrices = [(a, b) for a in dims for b in dims if a != b]
    vectors = [(d,) for d in dims]
    if name[0].isupper():
        return square + matrices + vectors + [()]
    if name[0] in "abcdefg":
        return [()] + vectors + square + matrices
    return vectors + [()] + square + matrices


def infer_shapes(text, shapes):
    """{name: shape} for the undeclared symbols of text, or {} when there are none; raises the
    parser's error when they are too many or no assignment parses."""
    names = undeclared(text, shapes)
    if not names:
        return {}
    if len(names) > MAX_UNKNOWN:
        parse(text, shapes)                 # the parser's error names the first one
    dims = sorted({str(d) for spec in shapes.values() for d in spec if not str(d).isdigit()}) \
        or ["n", "m"]
    tried = 0
    first_error = None
    for combo in itertools.product(*[candidates(n, dims) for n in names]):
        tried += 1
        if tried > MAX_TRIALS:
            break
        guess = dict(zip(names, combo))
        try:
            parse(text, {**shapes, **guess})
            return guess
        except MatcalcError as e:
            first_error = first_error or e
    parse(text, shapes)                     # nothing fits: the parser's own error
    raise first_error
