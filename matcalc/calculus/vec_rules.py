"""Identification through vec: bring a differential df to d vec F = J @ d vec X and read off J.

One mechanism for every Jacobian. A differential df (forward.py) is an expression linear in dX,
built from a few linear operations. Each operation has one rule here, its *local Jacobian*: for
a node N = op(C1, C2, ...) linear in the child holding the differential, the matrix L with
vec(dN) = L @ vec(dC) (the docstring's first line is the identity):

    vec(A@dX@B) = kron(B.T, A)@vec(dX)                          Kronecker identity
    vec(dX.T)   = commutation(n, m)@vec(dX)                     commutation matrix
    vec(A*dX)   = diag(vec(A))@vec(dX)                          Hadamard product
    vec(diag(dv)) = diag(vec(eye(k)))@kron(ones(k), eye(k))@dv
    tr(dX)      = vec(eye(n)).T@vec(dX),   sum(dX) = ones(n*m).T@vec(dX)
    vec(ds*M)   = vec(M)@ds                                     a scalar differential
    vec(concat(dA, dB)) = kron(eye(m), P_A)@vec(dA) + kron(eye(m), P_B)@vec(dB)   blocks

J is then the sum over the paths from df down to dX of the products of the local Jacobians:
`identify` accumulates them from the top of df downwards, over the DAG in topological order,
each shared node once (reverse accumulation over the linear expression, as in reverse.py),
with no recursion. For vectors, vec is the identity and the Kronecker products collapse
(kron(1, L) = L, kron(r, u) = u@r), so vector Jacobians come out as df = J @ dx with J p x n.

A few rules skip a level for the form a person writes: L@diag(dv)@r = L@diag(r)@dv for a
column r, diag(L@dv@r) = diag(r.T)@L@dv for a row r, diag(u@dv.T@R) = diag(u)@R.T@dv for a
column u, diag(L@diag(dv)@R) = (L*R.T)@dv (diag() of a sum of such products term by term),
A*diag(dv) = diag(diag(A)*dv), A*(diag(dv)@B) = diag(dv)@(A*B). Where the local Jacobians
still meet as Kronecker products, the accumulation multiplies them by core/vec.py's
chained_product (the mixed product and the identities listed there), multiplying a sum out
term by term where each term then chains: so a Jacobian or Hessian with respect to a vector
comes out in the notation, without kron, vec or commutation.

Pipeline: forward -> **vec_rules** -> derive/second_order.py. This module reads linear
expressions only; it does not differentiate.
"""
import sympy as sp
from sympy import (HadamardProduct, Identity, MatAdd, MatMul, OneMatrix, Trace, Transpose,
                   ZeroMatrix)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from ..core import dag, ops
from ..core.blocks import Concat, placement
from ..core.functions import EntrySum
from ..core.nodes import AsScalar, Differential, ScalarDifferential
from ..core.rules import RuleTable
from ..core.vec import (chained_product, commutation, diag_embedding, diag_selection, kron,
                        mixed_product, vec)
from ..errors import NotDifferentiableError

RULES = RuleTable("vec rule")


class NotIdentifiableError(NotDifferentiableError):
    """A differential df that no rule brings to the form d vec F = J @ d vec X."""


def local(*op_types, name):
    """Register a local-Jacobian rule for the given exact linear op types."""
    return RULES.rule(*op_types, name=name)


def size(e):
    """The number of entries of e (1 for a scalar)."""
    return e.shape[0] * e.shape[1] if ops.is_matrix(e) else sp.Integer(1)


def _product(mats, n):
    return ops.matmul(*mats) if mats else Identity(n)


def split_product(E, has_differential):
    """(coefficient, left factors, the factor holding the differential, right factors); the
    factor is None when the differential is in the scalar coefficient."""
    coeff, mats = ops.split_coeff(E)
    if has_differential(coeff):
        return coeff, mats, None, []
    holding = [i for i, m in enumerate(mats) if has_differential(m)]
    assert len(holding) == 1, f"a product is not linear in the differential: {E}"
    i = holding[0]
    return coeff, mats[:i], mats[i], mats[i + 1:]


# ---- the rules ------------------------------------------------------------------------------------
@local(MatAdd, sp.Add, name="linearity")
def vec_add(E, has_differential):
    """vec(dA + dB) = vec(dA) + vec(dB)"""
    return [(t, None) for t in E.args if has_differential(t)]


@local(MatMul, name="Kronecker identity")
def vec_matmul(E, has_differential):
    """vec(A@dX@B) = kron(B.T, A)@vec(dX)

    Source: Magnus & Neudecker, ch. 2; Matrix Cookbook (520). With A or B absent it is eye.
    """
    coeff, L, D, R = split_product(E, has_differential)
    if D is None:
        return vec_scalar_coefficient(E, has_differential)
    Lm, Rm = _product(L, D.shape[0]), _product(R, D.shape[1])
    if isinstance(D, DiagMatrix) and Rm.shape[1] == 1 and not isinstance(Rm, Identity):
        return [(D.args[0], ops.matmul(coeff, Lm, ops.diag(Rm)))]     # L@diag(dv)@r
    return [(D, ops.scale(coeff, kron(ops.transpose(Rm), Lm)))]


def vec_scalar_coefficient(E, has_differential):
    """vec(ds*M) = vec(M)@ds"""
    coeff, mats = ops.split_coeff(E)
    return [(coeff, vec(ops.matmul(*mats)))]


@local(sp.Mul, name="scalar product")
def vec_mul(E, has_differential):
    """d(c*s) = c*ds"""
    factors = list(E.args)
    holding = [f for f in factors if has_differential(f)]
    assert len(holding) == 1, f"a product is not linear in the differential: {E}"
    rest = sp.Mul(*[f for f in factors if f is not holding[0]])
    return [(holding[0], rest)]


@local(Transpose, name="commutation matrix")
def vec_transpose(E, has_differential):
    """vec(dX.T) = commutation(n, m)@vec(dX)

    K_{n,m} vec(A) = vec(A.T) for A n x m. Source: Magnus & Neudecker, ch. 3.
    """
    inner = E.arg
    return [(inner, commutation(inner.shape[0], inner.shape[1]))]


@local(HadamardProduct, name="Hadamard product with a constant")
def vec_hadamard(E, has_differential):
    """vec(A*dX) = diag(vec(A))@vec(dX)

    With a diagonal dX = diag(dv), A*diag(dv) = diag(diag(A)*dv): vec(A*diag(dv)) =
    diag_embedding(k)@diag(diag(A))@dv; with rows or columns scaled by dv,
    A*(diag(dv)@B) = diag(dv)@(A*B) and A*(B@diag(dv)) = (A*B)@diag(dv), the Kronecker identity
    to diag(dv).
    """
    holding = [f for f in E.args if has_differential(f)]
    assert len(holding) == 1, f"a Hadamard product is not linear in the differential: {E}"
    A = ops.hadamard(*[f for f in E.args if f is not holding[0]])
    D = holding[0]
    terms = [t for t in D.args if has_differential(t)] if isinstance(D, MatAdd) else [D]
    return [_hadamard_term(A, t, has_differential) for t in terms]   # A*(dP + dQ) = A*dP + A*dQ


def _hadamard_term(A, D, has_differential):
    """(the node to go on to, its local Jacobian) for A*D, D a term holding the differential."""
    if isinstance(D, DiagMatrix):
        return D.args[0], ops.matmul(diag_embedding(A.shape[0]), ops.diag(ops.diag(A)))
    if isinstance(D, MatMul):                    # A*(diag(dv)@B) = diag(dv)@(A*B), A*(B@diag(dv))
        coeff, L, dD, R = split_product(D, has_differential)
        if isinstance(dD, DiagMatrix) and bool(L) != bool(R):
            k = dD.shape[0]
            if R:
                return dD, ops.scale(coeff, kron(ops.transpose(ops.hadamard(A, ops.matmul(*R))),
                                                 Identity(k)))
            return dD, ops.scale(coeff, kron(Identity(k), ops.hadamard(A, ops.matmul(*L))))
    return D, ops.diag(vec(A))


@local(DiagMatrix, name="diagonal matrix")
def vec_diag_matrix(E, has_differential):
    """vec(diag(dv)) = diag(vec(eye(k)))@kron(ones(k), eye(k))@dv

    kron(ones(k), eye(k)) stacks k copies of dv; diag(vec(eye(k))) keeps entry i of copy i.
    """
    return [(E.args[0], diag_embedding(E.shape[0]))]


@local(DiagonalOf, name="diagonal of a matrix")
def vec_diagonal_of(E, has_differential):
    """diag(dM) = kron(ones(k).T, eye(k))@diag(vec(eye(k)))@vec(dM)

    Keep the diagonal entries of vec(dM), then add up the k blocks of length k. Three shapes
    of dM, or of each term of a sum dM, give the forms a person writes: diag(L@dv@r) =
    diag(r.T)@L@dv for a row r, diag(u@dv.T@R) = diag(u)@R.T@dv for a column u, and
    diag(L@diag(dv)@R) = (L*R.T)@dv.
    """
    M = E.args[0]
    k = M.shape[0]
    out = [_diagonal_of_product(t, has_differential) for t in _sum_of_products(M, has_differential)]
    if all(o is not None for o in out):
        nodes = set(dag.postorder(M))           # the terms are new; what they hand on is not
        if all(child in nodes for child, _ in out):
            return out
    return [(M, diag_selection(Identity(k)))]


def _sum_of_products(M, has_differential):
    """The terms of M holding the differential, as products whose factor holding it is not a
    sum: L@(dA + dB)@R = L@dA@R + L@dB@R, and (dA + dB).T = dA.T + dB.T, (A@dB).T = dB.T@A.T."""
    out, todo = [], [M]
    while todo:
        t = todo.pop()
        if isinstance(t, MatAdd):
            todo.extend(a for a in t.args if has_differential(a))
        elif _opens(t, has_differential):
            todo.extend(_opened(t, has_differential))
        elif isinstance(t, MatMul) and _opens(split_product(t, has_differential)[2], has_differential):
            coeff, L, D, R = split_product(t, has_differential)
            todo.extend(ops.matmul(coeff, *L, a, *R) for a in _opened(D, has_differential))
        else:
            out.append(t)
    return out


def _opens(D, has_differential):
    """Whether D is a sum, or the transpose of a sum or a product, holding the differential."""
    if isinstance(D, Transpose):
        D = D.arg
        return isinstance(D, (MatAdd, MatMul)) and has_differential(D)
    return isinstance(D, MatAdd)


def _opened(D, has_differential):
    """The terms of the sum D, or of D = Y.T with the transpose taken into Y's terms."""
    if not isinstance(D, Transpose):
        return [a for a in D.args if has_differential(a)]
    Y = D.arg
    terms = Y.args if isinstance(Y, MatAdd) else (Y,)
    return [ops.transpose(a) for a in terms if has_differential(a)]


def _diagonal_of_product(M, has_differential):
    """(the vector differential, its local Jacobian) for diag(M) with M a product in the three
    forms of vec_diagonal_of; None for another M."""
    if not isinstance(M, MatMul):
        return None
    coeff, L, D, R = split_product(M, has_differential)
    if D is None:
        return None
    Lm, Rm = _product(L, D.shape[0]), _product(R, D.shape[1])
    if isinstance(D, DiagMatrix):
        return D.args[0], ops.scale(coeff, ops.hadamard(Lm, ops.transpose(Rm)))
    if D.shape[1] == 1 and Rm.shape[0] == 1:
        return D, ops.matmul(coeff, ops.diag(ops.transpose(Rm)), Lm)
    if isinstance(D, Transpose) and D.shape[0] == 1 and Lm.shape[1] == 1:
        return D.arg, ops.matmul(coeff, ops.diag(Lm), ops.transpose(Rm))
    return None


@local(Concat, name="blocks of a concatenation")
def vec_concat(E, has_differential):
    """vec(concat(dA, dB)) = kron(eye(m), concat(eye(n), 0*ones(p, n)))@vec(dA) + kron(eye(m), concat(0*ones(n, p), eye(p)))@vec(dB)

    For A n x m above B p x m: concat(dA, dB) = P_A@dA + P_B@dB with the placement matrices
    P_A = concat(eye(n), 0), P_B = concat(0, eye(p)), then the Kronecker identity; for
    hconcat(dA, dB) = dA@P_A + dB@P_B (P_A = hconcat(eye(m1), 0)), vec(dA@P_A) =
    kron(P_A.T, eye(n))@vec(dA).
    """
    out = []
    for which, block in enumerate(E.blocks):
        if not has_differential(block):
            continue
        P = placement(E, which)
        if E.axis == 0:
            out.append((block, kron(ops.eye(block.shape[1]), P)))
        else:
            out.append((block, kron(ops.transpose(P), ops.eye(block.shape[0]))))
    return out


@local(Trace, name="trace")
def vec_trace(E, has_differential):
    """tr(dM) = vec(eye(k)).T@vec(dM)"""
    n = E.arg.shape[0]
    return [(E.arg, ops.transpose(vec(Identity(n))))]


@local(EntrySum, name="sum of entries")
def vec_sum(E, has_differential):
    """sum(dX) = ones(n*m).T@vec(dX)"""
    return [(E.arg, OneMatrix(1, size(E.arg)))]


@local(AsScalar, name="a scalar is a 1 x 1 matrix")
def vec_as_scalar(E, has_differential):
    """d(a.T@x) = d(a.T@x)"""
    return [(E.arg, None)]


# ---- accumulation ---------------------------------------------------------------------------------
def _times(M, L):
    """M @ L, with the Kronecker mixed product where both are Kronecker products."""
    if L is None:
        return M
    if not ops.is_matrix(L):
        return ops.scale(L, M)
    if not ops.is_matrix(M):
        return ops.scale(M, L)
    if tuple(M.shape) == (1, 1):
        return ops.scale(ops.scalar(M), L)
    if tuple(L.shape) == (1, 1):
        return ops.scale(ops.scalar(L), M)
    return _distributed(M, L) or mixed_product(M, L)


def _distributed(M, L):
    """(P1 + P2)@L = P1@L + P2@L, when every term chains with L by the mixed product

    A node reached along several paths receives the sum of their Jacobians; the sum is kept
    whole unless each term's Kronecker product meets L's (kron(r, A)@kron(eye(n), x) =
    kron(r, A@x) = (A@x)@r), so that kron is gone from the terms of vector Jacobians.
    """
    terms = _expanded(M)
    if len(terms) < 2:
        return None
    terms = [chained_product(t, L) for t in terms]
    return ops.add(*terms) if all(t is not None for t in terms) else None


def _expanded(M, most=16):
    """The terms of M with its sums multiplied out ((P1 + P2)@D = P1@D + P2@D), or [M] when
    there would be more than `most` of them."""
    out = []
    for t in (M.args if isinstance(M, MatAdd) else (M,)):
        if isinstance(t, MatMul) and any(isinstance(a, MatAdd) for a in t.args):
            coeff, mats = ops.split_coeff(t)
            products = [[]]
            for m in mats:
                products = [p + [part] for p in products
                            for part in (m.args if isinstance(m, MatAdd) else (m,))]
                if len(products) > most:
                    return [M]
            out.extend(ops.matmul(coeff, *p) for p in products)
        else:
            out.append(t)
        if len(out) > most:
            return [M]
    return out


def identify(df, x, has_differential):
    """(J, the rules used) with d vec F = J @ d vec X, for the differential df of F."""
    rows = size(df)
    dx = Differential(x) if ops.is_matrix(x) else ScalarDifferential(x)
    n = size(x)
    if ops.is_zero(df) or not has_differential(df):
        return ZeroMatrix(rows, n), []
    order = [e for e in dag.postorder(df) if has_differential(e)][::-1]
    received = {df: [Identity(rows) if rows != 1 else sp.Integer(1)]}
    used = []
    for node in order:
        parts = received.pop(node, None)
        if parts is None:
            continue
        M = parts[0] if len(parts) == 1 else ops.add(*parts)
        if node == dx:
            received[dx] = [M]
            continue
        if isinstance(node, (Differential, ScalarDifferential)):
            raise NotIdentifiableError(f"a differential of {node.arg} in df, not of {x}")
        rule = RULES.get(type(node))
        if rule is None:
            raise NotIdentifiableError(f"cannot bring df to the form J@d vec {x}: no rule for "
                                       f"{type(node).__name__}; supported: {RULES.known()}")
        if rule not in used:
            used.append(rule)
        for child, L in rule.function(node, has_differential):
            received.setdefault(child, []).append(_times(M, L))
    return received.get(dx, [ZeroMatrix(rows, n)])[0], used
