"""jacobian, hessian, hvp: second-order and vector-valued derivatives by identification.

Where this sits: nodes -> differentials -> identify -> reverse -> grad -> **jacobian**.
`grad` identifies G in the scalar form df = tr(G.T @ dX). This module identifies J in the
vector form df = J @ dx (NOTATION.md, Results), with the same differential rules:

1. **Forward differential.** The differential rules of differentials.py are applied from the
   variable up to the output (children before parents, each shared node once), with `d(child)`
   returning the child's own differential instead of a placeholder. The result is df, an
   expression linear in `dx = Differential(x)`, built from the few linear operations the rules
   use (products with constant factors, sums, transposes, Hadamard products with constant
   factors, diag, trace, sum, scalar coefficients).
2. **Vector identification.** df is brought to J @ dx by the table `JACOBIAN_RULES`, one small
   named rule per linear operation, each citing its identity (`a*dv = diag(a)@dv`, ...). A rule
   works on `dE @ r`, a linear matrix expression applied to a constant vector r, so matrix-valued
   intermediates such as `inv(A + diag(x))` are identified without vec or Kronecker products.
   A scalar part of df (tr(...), a.T@dx, sum(...)) is identified by identify.py's transpose
   rules: ds = tr(g.T @ dx) gives the 1 x n row g.T.
   For a matrix function F (p x q) or a matrix variable X (n x m), df is brought instead to
   d vec F = J @ d vec X, J (p*q) x (n*m), by the table `VEC_RULES` (NOTATION.md, Results):
   `vec(A@dX@B) = kron(B.T, A)@vec(dX)`, `vec(dX.T) = commutation(n, m)@vec(dX)`,
   `vec(A*dX) = diag(vec(A))@vec(dX)`, and ds = tr(G.T@dX) = vec(G).T@vec(dX) for scalar parts.
   vec, kron and commutation are matcalc extensions that NOTATION.md does not spell (vec.py).
3. **Hessian** of a scalar f of a vector x: the Jacobian of grad(f, x), so d2f = dx.T @ H @ dx.
4. **Hessian-vector product** for any variable X: the forward differential of grad(f, X) along
   a new symbol V of X's shape, d(grad f)[dX := V], a matrix expression in X and V.

What it deliberately does not do: differentiate (differentials.py does), print, or simplify
beyond the canonical forms of ops.py and vec.py (the mixed product kron(A, B)@kron(C, D) =
kron(A@C, B@D)). Full Hessians with respect to matrices are 4-index objects: use hvp.
"""
from dataclasses import dataclass

import sympy as sp
from sympy import (HadamardProduct, Identity, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose,
                   ZeroMatrix)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from . import ops
from .derivation import Derivation, Step
from .differentials import rule_for
from .errors import MatcalcError, NotDifferentiableError
from .grad import grad, resolve
from .simplify import simplify
from .identify import Pull
from .nodes import Differential, ScalarDifferential
from .reverse import LEAVES, children, differential_detector
from .rules import Rule, RuleTable
from .shapes import describe, shape_of
from .text import to_text
from .vec import commutation, kron, mixed_product, vec


# ---- errors -------------------------------------------------------------------------------------
class JacobianError(MatcalcError):
    """A Jacobian, Hessian or HVP asked of a function or variable of the wrong kind."""


class NotIdentifiableError(NotDifferentiableError):
    """A differential df that no rule of this module brings to the form J @ dx."""


# ---- 1. the forward differential ----------------------------------------------------------------
@dataclass(frozen=True)
class ForwardStep:
    node: object          # N
    differential: object  # dN, in terms of the direction dx (or V)
    rule: object          # differentials.Rule


def forward_order(root, x):
    """Nodes of root that depend on x, children before parents (iterative post-order)."""
    depends, order = {}, []
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            depends[node] = node == x or any(depends.get(k, False) for k in children(node))
            if depends[node]:
                order.append(node)
            continue
        if node in depends:
            continue
        depends[node] = False
        stack.append((node, True))
        for k in children(node):
            if k not in depends:
                stack.append((k, False))
    return order, depends


def zero_like(e):
    return ZeroMatrix(*e.shape) if ops.is_matrix(e) else sp.Integer(0)


def forward(f, x, direction):
    """(df, steps): the differential of f when x moves along `direction` (dx, or a symbol V).

    Every node is expanded once by its differential rule, with d(child) the child's own
    differential; df is linear in `direction`.
    """
    order, depends = forward_order(f, x)
    diff = {}
    steps = []

    def d(child):
        if not depends.get(child, False):
            return zero_like(child)
        return diff[child]

    for node in order:
        if node == x:
            diff[node] = direction
            continue
        if isinstance(node, LEAVES):
            diff[node] = zero_like(node)
            continue
        rule = rule_for(node)
        dN = rule(node, d)
        diff[node] = dN
        steps.append(ForwardStep(node, dN, rule))
    return diff.get(f, zero_like(f)), steps


# ---- 2. vector identification: df = J @ dx ------------------------------------------------------
JACOBIAN_RULES = RuleTable()
DIAGONAL_RULES = RuleTable()


def identifies(*op_types, name, table=JACOBIAN_RULES):
    """Register an identification rule in one of this module's tables."""
    return table.rule(*op_types, name=name)


class Identify:
    """Reads J off a linear expression: `jac(dE, r)` is J with dE @ r = J @ dx.

    r is a constant column vector, or None when dE is itself a column vector (or a scalar, for
    which J is the 1 x n row). x is the variable; `used` records the rules applied, in order.
    """

    def __init__(self, x):
        self.x = x
        self.n = x.shape[0]
        self.has_differential = differential_detector()
        self.used = []

    def rows(self, E, r):
        """The number of rows of E @ r (1 for a scalar)."""
        if not ops.is_matrix(E):
            return sp.Integer(1)
        return E.shape[0]

    def zero(self, E, r):
        return ZeroMatrix(self.rows(E, r), self.n)

    def jac(self, E, r=None):
        if r is not None and tuple(r.shape) == (1, 1):
            return self.jac(ops.scale(ops.scalar(r), E))
        if not self.has_differential(E):
            return self.zero(E, r)
        if not ops.is_matrix(E):
            return self.record(scalar_rule, E, r)
        rule = JACOBIAN_RULES.get(type(E))
        if rule is None:
            raise NotIdentifiableError(
                f"cannot bring df = {to_text(E)} to the form J @ dx: no identification rule for "
                f"{type(E).__name__}; supported: "
                + ", ".join(sorted(t.__name__ for t in JACOBIAN_RULES)))
        return self.record(rule, E, r)

    def record(self, rule, E, r):
        if rule not in self.used:
            self.used.append(rule)
        return rule.function(self, E, r)

    def jac_scalar(self, s):
        """The 1 x n row g.T of ds = tr(g.T @ dx), by identify.py's transpose rules."""
        pull = Pull(self.has_differential)
        pull(sp.Integer(1), s)
        g = None
        for child, G in pull.out:
            assert child == self.x, f"a differential of {child}, not of {self.x}"
            if not ops.is_matrix(G):
                G = ops.scale(G, OneMatrix(*self.x.shape)) if G != 0 else ZeroMatrix(*self.x.shape)
            g = G if g is None else ops.add(g, G)
        if g is None:
            return ZeroMatrix(1, self.n)
        return ops.transpose(g)


def split_product(ident, E):
    """(coefficient, left factors, the factor holding the differential, right factors)."""
    coeff, mats = ops.split_coeff(E)
    holding = [i for i, m in enumerate(mats) if ident.has_differential(m)]
    if ident.has_differential(coeff):
        return coeff, mats, None, []
    assert len(holding) == 1, f"a product is not linear in the differential: {to_text(E)}"
    i = holding[0]
    return coeff, mats[:i], mats[i], mats[i + 1:]


def pushed_transpose(E):
    """E.T with the transpose moved inside a sum, product, Hadamard product or diag."""
    if isinstance(E, Transpose):
        return E.arg
    if isinstance(E, MatAdd):
        return ops.add(*[ops.transpose(t) for t in E.args])
    if isinstance(E, HadamardProduct):
        return ops.hadamard(*[ops.transpose(t) for t in E.args])
    return ops.transpose(E)


def jac_of_scalar(ident, s, r):
    """ds = tr(g.T@dx) = g.T@dx"""
    assert r is None
    return ident.jac_scalar(s)


scalar_rule = Rule(sp.Expr, "scalar identification", jac_of_scalar)


@identifies(Differential, name="the variable")
def jac_differential(ident, E, r):
    """dx = eye(n)@dx"""
    if E.shape[1] != 1 or r is not None:
        raise NotIdentifiableError(f"{to_text(E)} is not a vector differential")
    return Identity(ident.n)


@identifies(MatAdd, name="linearity")
def jac_add(ident, E, r):
    """J(dA + dB) = J(dA) + J(dB)"""
    return ops.add(*[ident.jac(t, r) for t in E.args if ident.has_differential(t)])


@identifies(MatMul, name="product with constant factors")
def jac_matmul(ident, E, r):
    """L@dE@R@r = L@J(dE@(R@r))@dx"""
    coeff, L, D, R = split_product(ident, E)
    if D is None:
        return jac_scalar_coefficient(ident, E, r)
    tail = R + ([r] if r is not None else [])
    right = ops.matmul(*tail) if tail else None
    if right is not None and tuple(right.shape) == (1, 1):
        coeff, right = coeff * ops.scalar(right), None
    return ops.matmul(coeff, *L, ident.jac(D, right))


def jac_scalar_coefficient(ident, E, r):
    """(ds*A)@r = (A@r)@J(ds)"""
    coeff, mats = ops.split_coeff(E)
    Ar = ops.matmul(*mats, *([r] if r is not None else []))
    if scalar_coefficient_rule not in ident.used:
        ident.used.append(scalar_coefficient_rule)
    return ops.matmul(Ar, ident.jac_scalar(coeff))


scalar_coefficient_rule = Rule(MatMul, "scalar coefficient", jac_scalar_coefficient)


def split_hadamard(ident, E):
    """(the factor of the Hadamard product E that holds the differential, the product of the rest)"""
    holding = [f for f in E.args if ident.has_differential(f)]
    assert len(holding) == 1, f"a Hadamard product is not linear in the differential: {to_text(E)}"
    D = holding[0]
    return D, ops.hadamard(*[f for f in E.args if f is not D])


@identifies(HadamardProduct, name="Hadamard product with a constant")
def jac_hadamard(ident, E, r):
    """a*dv = diag(a)@dv"""
    D, A = split_hadamard(ident, E)
    if r is None:
        return ops.matmul(ops.diag(A), ident.jac(D))
    return jac_hadamard_matrix(ident, A, D, r)


def jac_hadamard_matrix(ident, A, D, r):
    """(A*dE)@r = J((A*dE)@r)@dx, by the table HADAMARD_RULES for dE's operation"""
    if D.shape[1] == 1:
        return ident.jac(ops.scale(ops.scalar(r), ops.hadamard(A, D)))
    rule = HADAMARD_RULES.get(type(D))
    if rule is None:
        raise NotIdentifiableError(f"cannot identify ({to_text(A)})*({to_text(D)}) applied to "
                                   f"a vector: no rule for {type(D).__name__}")
    return ident.record(rule, (A, D), r)


@identifies(DiagMatrix, name="diagonal matrix")
def jac_diag_matrix(ident, E, r):
    """diag(dv)@r = diag(r)@dv"""
    if r is None:
        raise NotIdentifiableError(f"{to_text(E)} is a matrix, not a vector differential")
    return ops.matmul(ops.diag(r), ident.jac(E.args[0]))


@identifies(Transpose, name="transpose")
def jac_transpose(ident, E, r):
    """dw.T@r = r.T@dw"""
    inner = E.arg
    if r is not None and inner.shape[1] == 1:
        return ops.matmul(ops.transpose(r), ident.jac(inner))
    pushed = pushed_transpose(inner)
    if isinstance(pushed, Transpose):
        raise NotIdentifiableError(f"cannot identify the transpose {to_text(E)}")
    return ident.jac(pushed, r)


@identifies(DiagonalOf, name="diagonal of a matrix")
def jac_diagonal_of(ident, E, r):
    """diag(dM) = J(diag(dM))@dx, by the table DIAGONAL_RULES for dM's operation"""
    assert r is None
    M = E.args[0]
    rule = DIAGONAL_RULES.get(type(M))
    if rule is None:
        raise NotIdentifiableError(f"cannot identify the diagonal of {to_text(M)} ({type(M).__name__})")
    return ident.record(rule, M, None)


@identifies(MatMul, name="diagonal of a product", table=DIAGONAL_RULES)
def diag_of_matmul(ident, M, r):
    """diag(L@dv@R) = diag(R.T)@L@dv;  diag(L@dw.T@R) = diag(L)@R.T@dw;  diag(L@diag(dv)@R) = (L*R.T)@dv"""
    coeff, L, D, R = split_product(ident, M)
    if D is None:
        c, mats = ops.split_coeff(M)
        return ops.matmul(ops.diag(ops.matmul(*mats)), ident.jac_scalar(c))
    if isinstance(D, MatAdd):
        return ops.add(*[ident.jac(ops.diag(ops.matmul(coeff, *L, t, *R)))
                         for t in D.args if ident.has_differential(t)])
    if isinstance(D, Transpose) and not isinstance(pushed_transpose(D.arg), Transpose):
        return ident.jac(ops.diag(ops.matmul(coeff, *L, pushed_transpose(D.arg), *R)))
    Lm = ops.matmul(*L) if L else None
    Rm = ops.matmul(*R) if R else None
    if D.shape[1] == 1 and Rm is not None:           # a column dv times a row R
        return ops.matmul(coeff, ops.diag(ops.transpose(Rm)), ident.jac(ops.matmul(*L, D)))
    if D.shape[0] == 1 and Lm is not None:           # a column L times a row dw.T
        return ops.matmul(coeff, ops.diag(Lm), ident.jac(ops.transpose(ops.matmul(D, *R))))
    if isinstance(D, DiagMatrix):
        left = Lm if Lm is not None else Identity(D.shape[0])
        right = ops.transpose(Rm) if Rm is not None else Identity(D.shape[0])
        return ops.matmul(coeff, ops.hadamard(left, right), ident.jac(D.args[0]))
    if Lm is None and Rm is None:
        return ops.matmul(coeff, ident.jac(ops.diag(D)))
    if isinstance(D, HadamardProduct):
        product = hadamard_as_product(ident, D)
        if product is not None:
            return ident.jac(ops.diag(ops.matmul(coeff, *L, product, *R)))
    return ops.matmul(coeff, diag_of_product(ident, Lm, ops.matmul(D, *R)))


def diag_of_product(ident, L, DR):
    """diag(L@dM) = (L*dM.T)@ones(k)"""
    if L is None:
        L = Identity(DR.shape[0])
    return jac_hadamard_matrix(ident, L, ops.transpose(DR), OneMatrix(L.shape[1], 1))


def hadamard_as_product(ident, M):
    """B*(dc@w.T) = diag(dc)@B@diag(w);  B*(l@dv.T) = diag(l)@B@diag(dv);  B*(L@diag(dv)) = (B*L)@diag(dv)

    A Hadamard product with a differential of rank one becomes a product, or None.
    """
    factors = list(M.args)
    D = [f for f in factors if ident.has_differential(f)][0]
    B = ops.hadamard(*[f for f in factors if f is not D])
    if isinstance(D, MatAdd):
        parts = [hadamard_as_product(ident, ops.hadamard(B, t)) if ident.has_differential(t)
                 else None for t in D.args]
        if any(p is None for p in parts):
            return None
        return ops.add(*parts)
    if isinstance(D, Transpose):
        pushed = pushed_transpose(D.arg)
        if isinstance(pushed, Transpose):
            return None
        return hadamard_as_product(ident, ops.hadamard(B, pushed))
    if not isinstance(D, MatMul):
        return None
    coeff, L, inner, R = split_product(ident, D)
    if inner is None:
        return None
    if inner.shape[1] == 1 and R:
        return ops.matmul(coeff, ops.diag(ops.matmul(*L, inner)), B,
                          ops.diag(ops.transpose(ops.matmul(*R))))
    if inner.shape[0] == 1 and L:
        return ops.matmul(coeff, ops.diag(ops.matmul(*L)), B,
                          ops.diag(ops.transpose(ops.matmul(inner, *R))))
    if isinstance(inner, DiagMatrix) and not R:       # B*(L@diag(dv)) = (B*L)@diag(dv)
        return ops.matmul(coeff, ops.hadamard(B, ops.matmul(*L)), inner)
    if isinstance(inner, DiagMatrix) and not L:       # B*(diag(dv)@R) = diag(dv)@(B*R)
        return ops.matmul(coeff, inner, ops.hadamard(B, ops.matmul(*R)))
    return None


# ---- identification of (A * dE) @ r for a matrix dE: one rule per operation of dE -------------
HADAMARD_RULES = RuleTable()


@identifies(MatAdd, name="Hadamard product with a sum", table=HADAMARD_RULES)
def hadamard_of_add(ident, AD, r):
    """(A*(dB + dC))@r = (A*dB)@r + (A*dC)@r"""
    A, D = AD
    return ops.add(*[jac_hadamard_matrix(ident, A, t, r) for t in D.args
                     if ident.has_differential(t)])


@identifies(HadamardProduct, name="Hadamard product of Hadamard products", table=HADAMARD_RULES)
def hadamard_of_hadamard(ident, AD, r):
    """(A*(B*dE))@r = ((A*B)*dE)@r"""
    A, D = AD
    factors = list(D.args)
    inner = [f for f in factors if ident.has_differential(f)][0]
    B = ops.hadamard(*[f for f in factors if f is not inner])
    return jac_hadamard_matrix(ident, ops.hadamard(A, B), inner, r)


@identifies(DiagMatrix, name="Hadamard product with a diagonal matrix", table=HADAMARD_RULES)
def hadamard_of_diag(ident, AD, r):
    """(A*diag(dv))@r = diag(diag(A)*r)@dv"""
    A, D = AD
    return ops.matmul(ops.diag(ops.hadamard(ops.diag(A), r)), ident.jac(D.args[0]))


@identifies(Transpose, name="Hadamard product with a transpose", table=HADAMARD_RULES)
def hadamard_of_transpose(ident, AD, r):
    """(a.T*dw.T)@r = (a*r).T@dw"""
    A, D = AD
    if D.arg.shape[1] == 1:
        return ops.matmul(ops.transpose(ops.hadamard(ops.transpose(A), r)), ident.jac(D.arg))
    pushed = pushed_transpose(D.arg)
    if isinstance(pushed, Transpose):
        raise NotIdentifiableError(f"cannot identify ({to_text(A)})*({to_text(D)})")
    return jac_hadamard_matrix(ident, A, pushed, r)


@identifies(MatMul, name="Hadamard product with a product", table=HADAMARD_RULES)
def hadamard_of_matmul(ident, AD, r):
    """(A*(dc@w.T))@r = diag(A@(w*r))@dc;  (A*(l@dv.T@R))@r = diag(l)@A@diag(r)@R.T@dv;  (A*(L@diag(dv)@R))@r = (L*(A@diag(r)@R.T))@dv"""
    A, D = AD
    coeff, L, inner, R = split_product(ident, D)
    if inner is None:
        c, mats = ops.split_coeff(D)
        return ops.matmul(ops.hadamard(A, ops.matmul(*mats)), r, ident.jac_scalar(c))
    if isinstance(inner, MatAdd):
        return ops.add(*[jac_hadamard_matrix(ident, A, ops.matmul(coeff, *L, t, *R), r)
                         for t in inner.args if ident.has_differential(t)])
    if inner.shape[1] == 1 and R:                           # a column dc times a row w.T
        w = ops.transpose(ops.matmul(*R))
        return ops.matmul(coeff, ops.diag(ops.matmul(A, ops.hadamard(w, r))),
                          ident.jac(ops.matmul(*L, inner)))
    if inner.shape[0] == 1 and L:                           # a column l times a row dv.T@R
        l = ops.matmul(*L)
        return ops.matmul(coeff, ops.diag(l), A, ops.diag(r),
                          ident.jac(ops.transpose(ops.matmul(inner, *R))))
    if isinstance(inner, DiagMatrix):
        left = ops.matmul(*L) if L else Identity(inner.shape[0])
        right = ops.transpose(ops.matmul(*R)) if R else Identity(inner.shape[0])
        return ops.matmul(coeff, ops.hadamard(left, ops.matmul(A, ops.diag(r), right)),
                          ident.jac(inner.args[0]))
    if isinstance(inner, Transpose) and not isinstance(pushed_transpose(inner.arg), Transpose):
        return jac_hadamard_matrix(ident, A, ops.matmul(coeff, *L, pushed_transpose(inner.arg), *R), r)
    if isinstance(inner, HadamardProduct):
        product = hadamard_as_product(ident, inner)
        if product is not None:
            return jac_hadamard_matrix(ident, A, ops.matmul(coeff, *L, product, *R), r)
    raise NotIdentifiableError(f"cannot identify ({to_text(A)})*({to_text(D)}) applied to a vector")


@identifies(MatAdd, name="diagonal of a sum", table=DIAGONAL_RULES)
def diag_of_add(ident, M, r):
    """diag(dA + dB) = diag(dA) + diag(dB)"""
    return ops.add(*[ident.jac(ops.diag(t)) for t in M.args if ident.has_differential(t)])


@identifies(HadamardProduct, name="diagonal of a Hadamard product", table=DIAGONAL_RULES)
def diag_of_hadamard(ident, M, r):
    """diag(A*dE) = diag(diag(A))@diag(dE)"""
    factors = list(M.args)
    D = [f for f in factors if ident.has_differential(f)][0]
    A = ops.hadamard(*[f for f in factors if f is not D])
    return ops.matmul(ops.diag(ops.diag(A)), ident.jac(ops.diag(D)))


@identifies(DiagMatrix, name="diagonal of a diagonal matrix", table=DIAGONAL_RULES)
def diag_of_diag_matrix(ident, M, r):
    """diag(diag(dv)) = dv"""
    return ident.jac(M.args[0])


@identifies(Transpose, name="diagonal of a transpose", table=DIAGONAL_RULES)
def diag_of_transpose(ident, M, r):
    """diag(dE.T) = diag(dE)"""
    return ident.jac(ops.diag(M.arg))


# ---- 3. identification through vec: d vec F = J @ d vec X ----------------------------------------
VEC_RULES = RuleTable()


class VecIdentify(Identify):
    """Reads J off a linear matrix expression: `jac(dE)` is J with vec(dE) = J @ vec(dX).

    For a matrix function F (p x q) or a matrix variable X (n x m) the Jacobian is taken of vec,
    columns stacked (NOTATION.md, Results): J is (p*q) x (n*m). Each operation of df has one rule
    in VEC_RULES, whose docstring's first line is its vec identity. vec, kron and commutation
    are matcalc extensions (vec.py). A column is its own vec, so for vectors the rules give the
    same J as the vector identification above.
    """

    def __init__(self, x):
        super().__init__(x)
        self.n = x.shape[0] * x.shape[1]      # the length of vec(dX)

    def zero(self, E, r=None):
        rows = E.shape[0] * E.shape[1] if ops.is_matrix(E) else sp.Integer(1)
        return ZeroMatrix(rows, self.n)

    def jac(self, E, r=None):
        assert r is None, "vec identification takes the whole differential"
        if not self.has_differential(E):
            return self.zero(E)
        if not ops.is_matrix(E):
            return self.record(vec_scalar_rule, E, None)
        rule = VEC_RULES.get(type(E))
        if rule is None:
            raise NotIdentifiableError(
                f"cannot bring d vec F = vec({to_text(E)}) to the form J @ vec(dX): no rule for "
                f"{type(E).__name__}; supported: " + ", ".join(sorted(t.__name__ for t in VEC_RULES)))
        return self.record(rule, E, None)

    def jac_scalar(self, s):
        """The 1 x (n*m) row vec(G).T of ds = tr(G.T @ dX), by identify.py's transpose rules."""
        g = super().jac_scalar(s)
        if isinstance(g, ZeroMatrix):
            return ZeroMatrix(1, self.n)
        return ops.transpose(vec(ops.transpose(g)))


def vec_of_scalar(ident, s, r):
    """ds = tr(G.T@dX) = vec(G).T@vec(dX)"""
    return ident.jac_scalar(s)


vec_scalar_rule = Rule(sp.Expr, "scalar identification through vec", vec_of_scalar)


@identifies(Differential, name="the variable", table=VEC_RULES)
def vec_differential(ident, E, r):
    """vec(dX) = eye(n*m)@vec(dX)"""
    return Identity(ident.n)


@identifies(MatAdd, name="linearity", table=VEC_RULES)
def vec_add(ident, E, r):
    """vec(dA + dB) = vec(dA) + vec(dB)"""
    return ops.add(*[ident.jac(t) for t in E.args if ident.has_differential(t)])


@identifies(MatMul, name="Kronecker identity", table=VEC_RULES)
def vec_matmul(ident, E, r):
    """vec(A@dX@B) = kron(B.T, A)@vec(dX)

    Roth's column lemma. Source: Magnus & Neudecker, ch. 2; Matrix Cookbook (520). A missing A
    or B is an identity: vec(dX@B) = kron(B.T, eye(n)), vec(A@dX) = kron(eye(m), A).
    """
    coeff, L, D, R = split_product(ident, E)
    if D is None:
        return vec_scalar_coefficient(ident, E, r)
    left = ops.matmul(*L) if L else Identity(D.shape[0])
    right = ops.matmul(*R) if R else Identity(D.shape[1])
    return ops.scale(coeff, mixed_product(kron(ops.transpose(right), left), ident.jac(D)))


def vec_scalar_coefficient(ident, E, r):
    """vec(ds*A) = vec(A)@J(ds)"""
    coeff, mats = ops.split_coeff(E)
    if vec_scalar_coefficient_rule not in ident.used:
        ident.used.append(vec_scalar_coefficient_rule)
    return ops.matmul(vec(ops.matmul(*mats)), ident.record(vec_scalar_rule, coeff, None))


vec_scalar_coefficient_rule = Rule(MatMul, "scalar coefficient", vec_scalar_coefficient)


@identifies(Transpose, name="commutation matrix", table=VEC_RULES)
def vec_transpose(ident, E, r):
    """vec(dX.T) = commutation(n, m)@vec(dX)

    K_{n,m} vec(A) = vec(A.T) for A n x m. Source: Magnus & Neudecker, ch. 3; Matrix Cookbook (10.2.2).
    """
    inner = E.arg
    return mixed_product(commutation(inner.shape[0], inner.shape[1]), ident.jac(inner))


@identifies(HadamardProduct, name="Hadamard product with a constant", table=VEC_RULES)
def vec_hadamard(ident, E, r):
    """vec(A*dX) = diag(vec(A))@vec(dX)"""
    D, A = split_hadamard(ident, E)
    return ops.matmul(ops.diag(vec(A)), ident.jac(D))


@identifies(DiagMatrix, name="diagonal matrix", table=VEC_RULES)
def vec_diag_matrix(ident, E, r):
    """vec(diag(dv)) = diag(vec(eye(k)))@kron(ones(k), eye(k))@dv

    kron(ones(k), eye(k)) stacks k copies of dv; diag(vec(eye(k))) keeps entry i of copy i.
    """
    v = E.args[0]
    k = v.shape[0]
    select = ops.matmul(ops.diag(vec(Identity(k))), kron(OneMatrix(k, 1), Identity(k)))
    return ops.matmul(select, ident.jac(v))


@identifies(DiagonalOf, name="diagonal of a matrix", table=VEC_RULES)
def vec_diagonal_of(ident, E, r):
    """diag(dM) = kron(ones(k).T, eye(k))@diag(vec(eye(k)))@vec(dM)

    The transpose of the rule for diag(dv): keep the diagonal entries of vec(dM), then add up
    the k blocks of length k.
    """
    M = E.args[0]
    k = M.shape[0]
    select = ops.matmul(kron(OneMatrix(1, k), Identity(k)), ops.diag(vec(Identity(k))))
    return ops.matmul(select, ident.jac(M))


def jacobian_vec_of(f, x):
    """(J, vec(df), steps) with d vec F = J @ d vec X, for a matrix f or a matrix x."""
    dx = Differential(x)
    df, fsteps = forward(f, x, dx)
    ident = VecIdentify(x)
    size = f.shape[0] * f.shape[1]
    J = ident.jac(df) if not ops.is_zero(df) else ZeroMatrix(size, ident.n)
    vec_df = vec(df) if not ops.is_zero(df) else ZeroMatrix(size, 1)
    return J, vec_df, vec_identification_steps(f, x, vec_df, J, fsteps, ident.used)


VEC_READ_OFF = "d vec F = J@d vec X  =>  J ((p*q) x (n*m)), vec stacks columns"


def vec_identification_steps(f, x, vec_df, J, forward_steps, used):
    """The forward expansion, one identification step citing every vec rule used, the read-off."""
    steps = identification_steps(f, x, vec_df, J, forward_steps, [])
    if used:
        steps.append(Step(before=vec_df, after=J,
                          rule="identification through vec (" + ", ".join(r.name for r in used) + ")",
                          identity="; ".join(r.identity for r in used)))
    steps.append(Step(before=vec_df, after=J, rule="read off the jacobian", identity=VEC_READ_OFF))
    return steps


# ---- the public functions -----------------------------------------------------------------------
CONVENTION = {
    "jacobian": "df = J@dx: J is p x n for f p x 1 and x n x 1",
    "hessian": "d2f = dx.T@H@dx: H is n x n, the Jacobian of the gradient",
    "hvp": "HV = d(grad f)[dX := V]: the directional derivative of the gradient along V",
}


def expression(f, what):
    if isinstance(f, str):
        raise MatcalcError(f"{what}() needs an expression: mc.parse(text, shapes) first")
    return ops.sym(f)


def one_variable(f, wrt, what):
    if not isinstance(wrt, (str, sp.Basic)):
        raise JacobianError(f"{what}() takes one variable, got {wrt!r}")
    (x,), _ = resolve(f, wrt)
    return x


def is_column(e):
    return ops.is_matrix(e) and e.shape[1] == 1 and e.shape[0] != 1


def identification_steps(f, x, df, J, forward_steps, used):
    steps = [Step(before=Differential(s.node) if ops.is_matrix(s.node) else ScalarDifferential(s.node),
                  after=s.differential, rule=s.rule.name, identity=s.rule.identity)
             for s in forward_steps]
    for rule in used:
        steps.append(Step(before=df, after=J, rule=rule.name, identity=rule.identity))
    return steps


def jacobian_of(f, x):
    """(J, df, steps) with df = J @ dx, for a column vector f and a vector x."""
    dx = Differential(x)
    df, fsteps = forward(f, x, dx)
    ident = Identify(x)
    J = ident.jac(df) if not ops.is_zero(df) else ZeroMatrix(f.shape[0], x.shape[0])
    return J, df, identification_steps(f, x, df, J, fsteps, ident.used)


def jacobian(f, wrt):
    """The Jacobian of f with respect to wrt: p x n with df = J@dx for a vector f (p x 1) of a
    vector x (n x 1); (p*q) x (n*m) with d vec F = J@d vec X when f (p x q) or X (n x m) is a
    matrix (vec stacks columns; vec and kron are matcalc extensions, see vec.py).

    Returns a Derivation of kind "jacobian"; `.result` is J, `.raw` the differential df (vec(df)
    for the matrix case).
    """
    f = expression(f, "jacobian")
    if not ops.is_matrix(f) or tuple(f.shape) == (1, 1):
        raise JacobianError("jacobian() needs a vector function; f is a scalar, so its derivative "
                            "is the gradient: use grad()")
    x = one_variable(f, wrt, "jacobian")
    if isinstance(x, sp.Symbol):
        raise JacobianError(_variable_message(x, "jacobian"))
    if f.shape[1] == 1 and is_column(x):
        J, df, steps = jacobian_of(f, x)
        recorded = None          # Derivation appends the read-off step
    else:
        J, df, steps = jacobian_vec_of(f, x)
        recorded = steps         # the read-off step through vec is already the last one
    return Derivation(f=f, variables=[x], single=True, raw={x.name: df},
                      results={x.name: simplify(J)}, visits=steps, kind="jacobian",
                      _steps=recorded)


def _variable_message(x, what):
    if what == "jacobian" and not isinstance(x, sp.Symbol):
        return (f"jacobian() is taken with respect to a vector; {x.name} is a "
                f"{describe(shape_of(x))} matrix, whose Jacobian is taken of vec({x.name}), "
                f"which is not supported yet")
    if isinstance(x, sp.Symbol):
        return (f"{what}() is taken with respect to a vector; {x.name} is a scalar: use grad() "
                f"(of the scalar) or differentiate the function's entries")
    return (f"{what}() is taken with respect to a vector; {x.name} is a "
            f"{describe(shape_of(x))} matrix, whose full {what} is a 4-index object: "
            f"use hvp(f, {x.name!r}) for the Hessian applied to a direction V")


def hessian(f, wrt):
    """The Hessian of the scalar f with respect to the vector wrt (n x 1): n x n, d2f = dx.T@H@dx.

    Computed as the Jacobian of grad(f, wrt). Returns a Derivation of kind "hessian".
    """
    f = expression(f, "hessian")
    if ops.is_matrix(f) and tuple(f.shape) != (1, 1):
        raise JacobianError(f"hessian() needs a scalar function, got a {describe(shape_of(f))} "
                            f"matrix; use jacobian() for a vector function")
    x = one_variable(f, wrt, "hessian")
    if not is_column(x):
        raise JacobianError(_variable_message(x, "hessian"))
    g = grad(f, x.name).result
    if ops.is_zero(g):
        H, dg, steps = ZeroMatrix(x.shape[0], x.shape[0]), g, []
    else:
        H, dg, steps = jacobian_of(g, x)
    d = Derivation(f=f, variables=[x], single=True, raw={x.name: dg},
                   results={x.name: simplify(H)}, visits=steps, kind="hessian")
    d.gradient = g
    return d


def fresh_direction(f, x):
    """A new symbol V of x's shape whose name occurs nowhere in f."""
    taken = {s.name for s in f.atoms(MatrixSymbol, sp.Symbol)}
    for name in ["V", f"V_{x.name}"] + [f"V{i}" for i in range(2, 100)]:
        if name not in taken:
            return MatrixSymbol(name, *x.shape) if ops.is_matrix(x) else sp.Symbol(name)
    raise AssertionError("no free name for the direction")


def hvp(f, wrt):
    """The Hessian of the scalar f applied to a direction V of wrt's shape: d(grad f)[dX := V].

    For a matrix X the full Hessian is a 4-index object; the HVP is a matrix expression in X
    and the new symbol V (also in `.direction`), e.g. logdet(X) -> -inv(X).T@V.T@inv(X).T.
    Returns a Derivation of kind "hvp".
    """
    f = expression(f, "hvp")
    if ops.is_matrix(f) and tuple(f.shape) != (1, 1):
        raise JacobianError(f"hvp() needs a scalar function, got a {describe(shape_of(f))} matrix")
    x = one_variable(f, wrt, "hvp")
    g = grad(f, x.name).result
    V = fresh_direction(f, x)
    HV, fsteps = forward(g, x, V)
    if ops.is_zero(HV):
        HV = zero_like(x)
    steps = [Step(before=Differential(s.node) if ops.is_matrix(s.node) else ScalarDifferential(s.node),
                  after=s.differential, rule=s.rule.name, identity=s.rule.identity)
             for s in fsteps]
    d = Derivation(f=f, variables=[x], single=True, raw={x.name: HV},
                   results={x.name: simplify(HV)}, visits=steps, kind="hvp")
    d.direction = V
    d.gradient = g
    return d
