"""grad(f, wrt): the gradient of a scalar expression by differential identification.

Resolves the variables, runs the reverse walk (calculus/reverse.py) once for all of them, reads
off each gradient from the final dL = sum tr(G_X.T @ dX), simplifies it to the human form
(calculus/simplify.py, one memo for all variables), and returns a Derivation holding the
results and the walk itself, from which the steps are read.

A variable the user declared that the function does not depend on (`sum(x - x)` wrt x) has the
gradient zero; a name that was never declared is an error naming the function's variables.
"""
import sympy as sp
from sympy import MatrixSymbol

from ..core import ops
from ..core.nodes import AsScalar
from ..core.shapes import describe, shape_of
from ..errors import MatcalcError, NotDifferentiableError, ShapeError
from ..calculus.assumptions import assumptions_of
from ..calculus.reverse import walk
from ..calculus.simplify import simplify
from ..notation.parse import source_of
from .derivation import Derivation
from ..core.gc_pause import without_cyclic_gc


def resolve(f, wrt):
    """(the symbols named or given by wrt, whether wrt was a single name or symbol)."""
    single = isinstance(wrt, (str, sp.Basic))
    items = [wrt] if single else list(wrt)
    if not items:
        raise MatcalcError("wrt is empty: name at least one variable")
    free = ops.free_variables(f)
    source = source_of(f)
    declared = dict(source.symbols) if source is not None else {}
    declared.update(free)
    symbols = []
    for w in items:
        if not isinstance(w, (str, MatrixSymbol, sp.Symbol)):
            raise MatcalcError(f"wrt must be a name or a symbol, got {w!r}")
        name = w if isinstance(w, str) else w.name
        hit = declared.get(name)
        if hit is None or (not isinstance(w, str) and hit != w and free.get(name) != w):
            raise NotDifferentiableError(
                f"{name} does not occur in the function; its variables are: "
                + (", ".join(sorted(free)) or "none"))
        if hit in symbols:
            raise MatcalcError(f"{name} is named twice in wrt")
        symbols.append(hit)
    return symbols, single


def scalar_function(f, what="grad"):
    if isinstance(f, str):
        raise MatcalcError(f"{what}() needs an expression: mc.parse(text, shapes) first")
    f = ops.sym(f)
    if ops.is_matrix(f) and tuple(f.shape) != (1, 1):
        raise ShapeError(f"{what} needs a scalar function, got a {describe(shape_of(f))} "
                         f"matrix; use jacobian() for vector and matrix functions")
    return f


@without_cyclic_gc
def grad(f, wrt, assume=None):
    """Gradient(s) of the scalar f with respect to wrt, by differential identification.

    wrt is a name or symbol (then `.result` is the gradient, with the variable's shape) or a
    list of them (then `.results` maps each name to its gradient, all from one expansion).
    assume = {name: kind} states what the values of a variable are ("onehot", "simplex":
    calculus/assumptions.py); the simplification may then use their facts (sum(y) = 1), the
    derivation says where, and the numeric check draws values of that kind.
    """
    f = scalar_function(f)
    variables, single = resolve(f, wrt)
    assumed = assumptions_of(f, assume)
    w = walk(f, variables)
    raw, results, memo = {}, {}, {}
    for x in variables:
        G = w.gradients.get(x)
        if G is None:
            G = ops.zero_like(x)
        elif ops.is_matrix(x) and not ops.is_matrix(G):
            G = ops.scale(G, sp.OneMatrix(*x.shape))     # the variable's shape, 1 x 1 too
        raw[x.name] = G
        results[x.name] = unwrapped(simplify(G, memo, assumed))
    return Derivation(f=f, variables=variables, single=single, raw=raw, results=results,
                      walk=w, kind="gradient", assumptions=assumed)


def unwrapped(G):
    """A scalar result that is a 1 x 1 product is returned as that product (it prints and
    re-parses as the same object, and evaluates to a scalar)."""
    return G.arg if isinstance(G, AsScalar) else G
