"""grad(f, wrt): the gradient of a scalar expression by differential identification.

Resolves the variables, runs the reverse walk (reverse.py) once for all of them, reads off each
gradient from the final dL = sum tr(G_X.T @ dX), simplifies it to the human form (simplify.py),
and returns a Derivation holding the result and the record of every step.
"""
import sympy as sp
from sympy import MatrixSymbol, ZeroMatrix

from . import ops
from .derivation import Derivation
from .nodes import AsScalar
from .errors import MatcalcError, NotDifferentiableError, ShapeError
from .reverse import walk
from .shapes import describe, shape_of
from .simplify import simplify


def resolve(f, wrt):
    """The symbols named or given by wrt (a name, a symbol, or a list of them)."""
    single = isinstance(wrt, (str, sp.Basic))
    items = [wrt] if single else list(wrt)
    if not items:
        raise MatcalcError("wrt is empty: name at least one variable")
    free = ops.free_variables(f)
    symbols = []
    for w in items:
        name = w if isinstance(w, str) else getattr(w, "name", None)
        if not isinstance(w, (str, MatrixSymbol, sp.Symbol)):
            raise MatcalcError(f"wrt must be a name or a symbol, got {w!r}")
        if name not in free or (not isinstance(w, str) and free[name] != w):
            raise NotDifferentiableError(
                f"{name} does not occur in the function; its variables are: "
                + (", ".join(sorted(free)) or "none"))
        symbols.append(free[name])
    return symbols, single


def scalar_function(f, what="grad"):
    f = ops.sym(f)
    if ops.is_matrix(f):
        if tuple(f.shape) != (1, 1):
            raise ShapeError(f"{what} needs a scalar function, got a {describe(shape_of(f))} "
                             f"matrix; use jacobian() for vector and matrix functions")
    return f


def grad(f, wrt):
    """Gradient(s) of the scalar f with respect to wrt, by differential identification.

    wrt is a name or symbol (then `.result` is the gradient, with the variable's shape) or a
    list of them (then `.results` maps each name to its gradient, all from one expansion).
    """
    if isinstance(f, str):
        raise MatcalcError("grad() needs an expression: mc.parse(text, shapes) first")
    f = scalar_function(f)
    variables, single = resolve(f, wrt)
    adjoints, visits = walk(f, variables)
    raw, results = {}, {}
    for x in variables:
        G = adjoints.get(x)
        if G is None:
            G = ZeroMatrix(*x.shape) if ops.is_matrix(x) else sp.Integer(0)
        raw[x.name] = G
        results[x.name] = _unwrapped(simplify(G))
    return Derivation(f=f, variables=variables, single=single, raw=raw, results=results,
                      visits=visits, kind="gradient")


def _unwrapped(G):
    """A scalar result that is a 1 x 1 product is returned as that product (it prints and
    re-parses as the same object, and evaluates to a scalar)."""
    return G.arg if isinstance(G, AsScalar) else G
