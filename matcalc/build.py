"""Python builders for users who do not want to write text: mc.matrix("X", "n", "m") @ ...

Each builder goes through `ops`, so a built expression is the same object `parse` would give
for the equivalent text. Plain SymPy MatrixSymbol expressions are accepted everywhere too.
Operators on the returned SymPy objects (`@`, `+`, `.T`) are SymPy's own; use these builders
(or `parse`) for elementwise functions, traces and the rest of the notation.
"""
import sympy as sp

from . import ops
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


def _elementwise(name):
    def build(X):
        return ops.apply(name, X)
    build.__name__ = name
    build.__doc__ = f"{name}(X), elementwise (a scalar function of a scalar)."
    return build


exp, log, sin, cos, tanh = (_elementwise(n) for n in ("exp", "log", "sin", "cos", "tanh"))
sigmoid, relu, softplus, sqrt = (_elementwise(n) for n in ("sigmoid", "relu", "softplus", "sqrt"))
step, sign, abs_ = (_elementwise(n) for n in ("step", "sign", "abs"))
tr = ops.trace
det = ops.det
logdet = ops.logdet
inv = ops.inv
diag = ops.diag
norm = ops.norm
sum_ = ops.entry_sum
softmax = ops.softmax
logsumexp = ops.logsumexp


def eye(n):
    return ops.eye(sp.sympify(n) if not isinstance(n, str) else sp.Symbol(n, integer=True, positive=True))


def ones(n, m=1):
    dim = (lambda d: sp.Symbol(d, integer=True, positive=True) if isinstance(d, str) else sp.Integer(d))
    return ops.ones(dim(n), dim(m))
