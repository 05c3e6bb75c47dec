"""jacobian, hessian, hvp: vector-valued and second-order derivatives by identification.

* **Jacobian.** The forward differential df (calculus/forward.py), brought to
  d vec F = J @ d vec X by the local Jacobians of calculus/vec_rules.py (vec stacks columns; for
  vectors vec is the identity and this is df = J @ dx, J p x n).
* **Hessian** of a scalar f of a vector x: first the gradient g = grad(f, x), then the Jacobian
  of g, identified in d(g) = H @ dx; d2f = dx.T @ H @ dx.
* **Hessian-vector product** for any variable X: the forward differential of g = grad(f, X)
  along a new symbol V of X's shape, d(g)[dX := V], a matrix expression in X and V.

Each returns a Derivation whose steps are the engine's record: the gradient (for second order),
one equation dN = ... per expanded node, the identification citing the vec rules used, the
read-off. Full Hessians with respect to matrices are 4-index objects: use hvp.
"""
import sympy as sp

from ..core import ops
from ..core.nodes import Differential, ScalarDifferential, Vec
from ..core.shapes import describe, is_column, shape_of
from ..core.vec import vec
from ..errors import MatcalcError
from ..calculus.assumptions import assumptions_of
from ..calculus.forward import forward
from ..calculus.reverse import differential_detector
from ..calculus.simplify import simplify
from ..calculus.vec_rules import identify
from ..printing.text import to_text
from .derivation import Derivation, Step, cited
from .gradient import grad, resolve
from ..core.gc_pause import without_cyclic_gc


class JacobianError(MatcalcError):
    """A Jacobian, Hessian or HVP asked of a function or variable of the wrong kind."""


def differential_of(e):
    return Differential(e) if ops.is_matrix(e) else ScalarDifferential(e)


def expression(f, what):
    if isinstance(f, str):
        raise MatcalcError(f"{what}() needs an expression: mc.parse(text, shapes) first")
    return ops.sym(f)


def one_variable(f, wrt, what):
    if not isinstance(wrt, (str, sp.Basic)):
        raise JacobianError(f"{what}() takes one variable, got {wrt!r}")
    (x,), _ = resolve(f, wrt)
    return x


def forward_steps(steps, root=None, symbol=None):
    """dN = (its expansion) for every node the forward walk expanded; the root (the gradient
    of a Hessian) is written by its symbol: dg = ..."""
    out = []
    for s in steps:
        name, identity = cited(s.rule, s.derivative, s.node)
        node = symbol if symbol is not None and s.node == root else s.node
        out.append(Step(differential_of(node), s.expansion, name, identity))
    return out


def without_repeats(steps):
    """The steps, without one that says again what the previous one said."""
    out = []
    for s in steps:
        if out and to_text(s.before) == to_text(out[-1].before) and \
                to_text(s.after) == to_text(out[-1].after):
            continue
        out.append(s)
    return out


def identified(F, x, J, used, what):
    """The identification step and the read-off: d vec F = J @ d vec X => J."""
    vec_dF = Vec(differential_of(F)) if ops.is_matrix(F) and F.shape[1] != 1 else differential_of(F)
    vec_dx = vec(Differential(x)) if ops.is_matrix(x) else ScalarDifferential(x)
    names = ", ".join(r.name for r in used) or "none"
    return [Step(vec_dF, ops.matmul(J, vec_dx), f"identification through vec ({names})",
                 "; ".join(r.identity for r in used) or "df = 0"),
            Step(sp.Symbol(what), J, f"read off {what}",
                 f"{to_text(vec_dF)} = {what}@{to_text(vec_dx)}  =>  {what}")]


@without_cyclic_gc
def jacobian(f, wrt, assume=None):
    """The Jacobian of f with respect to wrt: p x n with df = J@dx for a vector f (p x 1) of a
    vector x (n x 1); (p*q) x (n*m) with d vec F = J@d vec X when f (p x q) or X (n x m) is a
    matrix (vec stacks columns; vec and kron are matcalc extensions).

    Returns a Derivation of kind "jacobian"; `.result` is J, `.raw` the unsimplified J.
    assume = {name: kind} as for grad: facts the simplification may use.
    """
    f = expression(f, "jacobian")
    x = one_variable(f, wrt, "jacobian")
    assumed = assumptions_of(f, assume)
    if isinstance(x, sp.Symbol):
        raise JacobianError(f"jacobian() is taken with respect to a vector or matrix; {x.name} is "
                            f"a scalar: use grad() of each entry, or declare {x.name} as 1 x 1")
    if not ops.is_matrix(f) or tuple(f.shape) == (1, 1):
        return scalar_jacobian(f, x, assume, assumed)
    df, steps = forward(f, x, Differential(x), placeholders=differential_of)
    J, used = identify(df, x, differential_detector())
    records = without_repeats(forward_steps(steps) + identified(f, x, J, used, "J"))
    return Derivation(f=f, variables=[x], single=True, raw={x.name: J},
                      results={x.name: simplify(J, assume=assumed)}, kind="jacobian", records=records,
                      assumptions=assumed)


def scalar_jacobian(f, x, assume, assumed):
    """The Jacobian of a scalar (or 1 x 1) f: the 1 x n row df = J@dx, the transposed gradient
    (for a matrix X, vec(G).T: d f = tr(G.T@dX) = vec(G).T@vec(dX)). grad's derivation, then
    the read-off."""
    g = grad(f, x, assume).result
    symbol, first = gradient_step(f, x, g)
    row = ops.transpose(symbol if is_column(x) else vec(symbol))
    J = ops.transpose(g if is_column(x) else vec(g))
    dx = Differential(x) if is_column(x) else vec(Differential(x))
    read = Step(sp.Symbol("J"), row, "read off J",
                f"df = tr(g.T@d{x.name}) = {to_text(row)}@{to_text(dx)}  =>  J = {to_text(row)}")
    return Derivation(f=f, variables=[x], single=True, raw={x.name: J},
                      results={x.name: simplify(J, assume=assumed)}, kind="jacobian",
                      records=[first, read], gradient=g, assumptions=assumed)


def gradient_name(f, x):
    """A name for the gradient that no symbol of f has: g, or grad_f, ..."""
    taken = set(ops.free_variables(f))
    for name in ("g", "grad_f", "g_" + x.name) + tuple(f"g{i}" for i in range(2, 100)):
        if name not in taken:
            return name
    raise AssertionError("no free name for the gradient")


def gradient_step(f, x, g):
    symbol = ops.matrix_symbol(gradient_name(f, x), *x.shape) if ops.is_matrix(x) \
        else sp.Symbol(gradient_name(f, x))
    return symbol, Step(symbol, g, "the gradient (mc.grad)",
                        f"df = tr(g.T@d{x.name})  =>  g = df/d{x.name}")


@without_cyclic_gc
def hessian(f, wrt, assume=None):
    """The Hessian of the scalar f with respect to the vector wrt (n x 1): n x n, d2f = dx.T@H@dx.
    A 1 x 1 variable (a vector of length 1) has a 1 x 1 Hessian.

    Computed as the Jacobian of grad(f, wrt). Returns a Derivation of kind "hessian".
    assume = {name: kind} as for grad: facts the simplification may use.
    """
    f = expression(f, "hessian")
    if ops.is_matrix(f) and tuple(f.shape) != (1, 1):
        raise JacobianError(f"hessian() needs a scalar function, got a {describe(shape_of(f))} "
                            f"matrix; use jacobian() for a vector function")
    x = one_variable(f, wrt, "hessian")
    if not (is_column(x) or (ops.is_matrix(x) and tuple(x.shape) == (1, 1))):   # a vector, or 1 x 1
        kind = "scalar" if not ops.is_matrix(x) else f"{describe(shape_of(x))} matrix"
        raise JacobianError(f"hessian() is taken with respect to a vector; {x.name} is a {kind}"
                            + ("" if not ops.is_matrix(x) else
                               f", whose full Hessian is a 4-index object: use hvp(f, {x.name!r})"
                               f" for the Hessian applied to a direction V"))
    assumed = assumptions_of(f, assume)
    g = grad(f, x, assume).result
    symbol, first = gradient_step(f, x, g)
    dg, steps = forward(g, x, Differential(x), placeholders=differential_of)
    H, used = identify(dg, x, differential_detector())
    records = without_repeats([first] + forward_steps(steps, g, symbol) +
                              identified(symbol, x, H, used, "H"))
    result = simplify(H, assume=assumed)
    if not ops.is_matrix(result):                # x is 1 x 1: so is its Hessian
        result = ops.scale(result, sp.OneMatrix(1, 1))
    return Derivation(f=f, variables=[x], single=True, raw={x.name: H},
                      results={x.name: result}, kind="hessian", records=records,
                      gradient=g, assumptions=assumed)


def fresh_direction(f, x):
    """A new symbol V of x's shape whose name occurs nowhere in f."""
    taken = set(ops.free_variables(f))
    for name in ["V", f"V_{x.name}"] + [f"V{i}" for i in range(2, 100)]:
        if name not in taken:
            return ops.matrix_symbol(name, *x.shape) if ops.is_matrix(x) else sp.Symbol(name, real=True)
    raise AssertionError("no free name for the direction")


@without_cyclic_gc
def hvp(f, wrt, assume=None):
    """The Hessian of the scalar f applied to a direction V of wrt's shape: d(grad f)[dX := V].

    For a matrix X the full Hessian is a 4-index object; the HVP is a matrix expression in X
    and the new symbol V (also in `.direction`), e.g. logdet(X) -> -(inv(X)@V@inv(X)).T.
    Returns a Derivation of kind "hvp". assume = {name: kind} as for grad.
    """
    f = expression(f, "hvp")
    if ops.is_matrix(f) and tuple(f.shape) != (1, 1):
        raise JacobianError(f"hvp() needs a scalar function, got a {describe(shape_of(f))} matrix")
    x = one_variable(f, wrt, "hvp")
    assumed = assumptions_of(f, assume)
    g = grad(f, x, assume).result
    V = fresh_direction(f, x)
    symbol, first = gradient_step(f, x, g)
    HV, steps = forward(g, x, V, placeholders=differential_of)
    if ops.is_zero(HV):
        HV = ops.zero_like(x)
    records = [first] + forward_steps(steps, g, symbol) + [
        Step(sp.Symbol("HV"), HV, "the directional derivative of the gradient",
             f"H[{V.name}] = d(g) with d{x.name} := {V.name}")]
    return Derivation(f=f, variables=[x], single=True, raw={x.name: HV},
                      results={x.name: simplify(HV, assume=assumed)}, kind="hvp", records=records,
                      gradient=g, direction=V, assumptions=assumed)
