"""Python builders for users who do not want to write text: mc.matrix("X", "n", "m"), mc.tanh(X).

Each builder goes through `ops` or the function registry, so a built expression is the same
object `parse` would give for the equivalent text. Every function of the registry gets a builder
of its notation name here, made from the registry (no list of its own): `mc.tanh`, `mc.softmax`,
`mc.logsumexp`, ... Plain SymPy MatrixSymbol expressions are accepted everywhere too. Operators
on the returned SymPy objects (`@`, `+`, `.T`) are SymPy's own; use these builders (or `parse`)
for elementwise functions, traces and the rest of the notation.
"""

from ..core import functions, ops
from ..core.shapes import dimension
from ..core.vec import commutation, kron, vec
from .parse import symbols_from_shapes


def matrix(name, rows, cols):
    """An n x m matrix symbol; dimensions are names or positive integers."""
    return symbols_from_shapes({name: (rows, cols)})[name]


def vector(name, n):
    """An n x 1 column vector symbol."""
    return symbols_from_shapes({name: (n,)})[name]


def scalar(name):
    """A real scalar symbol."""
    return symbols_from_shapes({name: ()})[name]


def eye(n):
    return ops.eye(dimension(n, "eye()"))


def ones(n, m=1):
    return ops.ones(dimension(n, "ones()"), dimension(m, "ones()"))


def _builder(notation):
    def build(X):
        return functions.apply(notation, X)
    build.__name__ = notation
    build.__doc__ = f"{notation}(X), as the notation writes it (see matcalc.core.functions)."
    return build


FUNCTION_BUILDERS = {name: _builder(name) for name in functions.names()}
globals().update(FUNCTION_BUILDERS)

tr = ops.trace
inv = ops.inv
diag = ops.diag
matrix_power = ops.matrix_power

__all__ = ["matrix", "vector", "scalar", "eye", "ones", "tr", "inv", "diag", "matrix_power",
           "kron", "vec", "commutation"] + sorted(FUNCTION_BUILDERS)
