"""vec, Kronecker products and the commutation matrix: the nodes of matrix Jacobians.

These are **matcalc extensions**: NOTATION.md says that the Jacobian of a matrix function or
with respect to a matrix is taken of vec (columns stacked), `d vec F = J d vec X`, but defines no
spelling for vec or Kronecker products. matcalc writes them

* `vec(X)`: the n*m x 1 column of X's columns stacked (column-major);
* `kron(A, B)`: the Kronecker product A (x) B, SymPy's `KroneckerProduct`;
* `commutation(n, m)`: the nm x nm commutation matrix K with K @ vec(A) = vec(A.T) for A n x m.

The constructors here are the only way matcalc builds these nodes, and they keep one canonical
form, as ops.py does for the rest: scalar coefficients are pulled in front of a Kronecker product
(`kron(2*A, B) = 2*kron(A, B)`), `kron(eye(n), eye(m)) = eye(n*m)`, the Kronecker product of
a column u and a row r is the outer product `u@r` (either order), a Kronecker factor that is
1 x 1 is a scalar, `vec(x) = x` for a column, `vec(r) = r.T` for a row, and
`commutation(n, 1) = eye(n)`. `mixed_product` applies (A (x) B)(C (x) D) = AC (x) BD, and
`chained_product` the identities that take a product of these nodes back to the notation where
a vector meets them (each function cites its identity in its docstring's first line):

    commuted_kron           commutation(p, m)@kron(A, B) = kron(B, A)@commutation(q, n)
    vec_through_kron        vec(A).T@kron(B, C) = vec(C.T@A@B).T
    vec_through_hadamard    vec(B).T@diag(vec(A)) = vec(B*A).T
    through_diag_embedding  kron(r, B)@vec(diag(v)) = B@diag(r.T)@v, for a row r
    merged_diagonals        diag(vec(A))@diag(vec(B)) = diag(vec(A*B))
    through_selection       diag_selection(H)@kron(u, B) = diag(H@u)@B, for a column u
    transposed_diagonal     commutation(k, k)@vec(diag(v)) = vec(diag(v))
    hadamard_of_outer       kron(r, C)@diag(vec(H))@kron(y, B) = C@diag(H@(y*r.T))@B
    selected_embedding      diag_selection(H)@kron(C, B)@vec(diag(v)) = (B*(H@C))@v

where diag_embedding(k) (vec(diag(v)) = E@v) and diag_selection(H) (R@vec(Y) = (H*Y)@ones,
diag(Y) for H = eye) are products of these nodes that the chaining takes as one factor.

Pipeline: nodes -> ops -> **vec** (constructors only) -> printers, evaluate, parse, and
calculus/vec_rules.py, whose table brings a differential to d vec F = J d vec X. This module
does not differentiate or identify anything.
"""
import numpy as np
import sympy as sp
from sympy import HadamardProduct, Identity, MatMul, OneMatrix, Transpose, ZeroMatrix
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.kronecker import KroneckerProduct

from ..errors import ShapeError
from . import ops
from .ops import new
from .nodes import Commutation, Vec


# ---- constructors -------------------------------------------------------------------------------
def kron(A, B):
    """kron(A, B): the Kronecker product A (x) B, (a*c) x (b*d) for A a x b and B c x d."""
    A, B = ops.sym(A), ops.sym(B)
    A, B = ops.as_scalar_if_1x1(A), ops.as_scalar_if_1x1(B)
    if not ops.is_matrix(A) or not ops.is_matrix(B):
        return ops.scale(A, B) if ops.is_matrix(B) else ops.scale(B, A)
    rows, cols = A.shape[0] * B.shape[0], A.shape[1] * B.shape[1]
    cA, mA = ops.split_coeff(A)
    cB, mB = ops.split_coeff(B)
    coeff = cA * cB
    if coeff == 0 or isinstance(A, ZeroMatrix) or isinstance(B, ZeroMatrix):
        return new(ZeroMatrix, rows, cols)
    A = mA[0] if len(mA) == 1 else new(MatMul, *mA)
    B = mB[0] if len(mB) == 1 else new(MatMul, *mB)
    if _is_col(A) and _is_row(B):
        return ops.scale(coeff, ops.matmul(A, B))      # kron(u, r) = u@r
    if _is_row(A) and _is_col(B):
        return ops.scale(coeff, ops.matmul(B, A))      # kron(r, u) = u@r
    if isinstance(A, Identity) and isinstance(B, Identity):
        body = new(Identity, rows)
    elif isinstance(A, OneMatrix) and isinstance(B, OneMatrix):
        body = new(OneMatrix, rows, cols)
    else:
        body = new(KroneckerProduct, A, B)
    return ops.scale(coeff, body)


def _is_col(M):
    return M.shape[1] == 1


def _is_row(M):
    return M.shape[0] == 1


def vec(X):
    """vec(X): X's columns stacked; vec(x) = x for a column, vec(r) = r.T for a row."""
    X = ops.sym(X)
    if not ops.is_matrix(X):
        raise ShapeError("vec() needs a vector or a matrix, got a scalar")
    if X.shape[1] == 1:
        return X
    if X.shape[0] == 1:
        return ops.transpose(X)
    if isinstance(X, ZeroMatrix):
        return new(ZeroMatrix, X.shape[0] * X.shape[1], 1)
    if isinstance(X, OneMatrix):
        return new(OneMatrix, X.shape[0] * X.shape[1], 1)
    c, ms = ops.split_coeff(X)
    if c != 1:
        return ops.scale(c, vec(ms[0] if len(ms) == 1 else new(MatMul, *ms)))
    return new(Vec, X)


def commutation(n, m=None):
    """commutation(n, m): K_{n,m} with K@vec(A) = vec(A.T) for an n x m matrix A; eye when n or m is 1."""
    m = n if m is None else m
    n, m = ops.sym(n), ops.sym(m)
    if n == 1:
        return new(Identity, m)
    if m == 1:
        return new(Identity, n)
    return new(Commutation, n, m)


def kron_factors(P):
    """(coefficient, A, B) when P is c*kron(A, B) with two factors, else None."""
    c, ms = ops.split_coeff(P)
    if len(ms) != 1 or not isinstance(ms[0], KroneckerProduct) or len(ms[0].args) != 2:
        return None
    return c, ms[0].args[0], ms[0].args[1]


def mixed_product(P, Q):
    """kron(A, B)@kron(C, D) = kron(A@C, B@D), when the shapes chain; else P@Q.

    A commutation matrix next to a Kronecker product with a vector factor swaps the factors
    (commuted_kron), and vec(A).T next to a Kronecker product is a vec again (vec_through_kron),
    so that the product can chain on; where P and Q are products, at the factors they meet.
    """
    chained = chained_product(P, Q)
    return chained if chained is not None else ops.matmul(P, Q)


def chained_product(P, Q):
    """P@Q by the mixed product, a commutation swap, vec through kron or through a Hadamard
    product, or through diag_embedding, applied to P and Q or where their factors meet, and
    again at each factor a rewrite makes (kron(A, B)@kron(C, y) = kron(A@C, B@y) may then meet
    a Hadamard product); None when nothing applies where P and Q meet."""
    chained = _chained(P, Q)
    if chained is not None:
        return chained
    cP, mP = ops.split_coeff(P)
    cQ, mQ = ops.split_coeff(Q)
    left, right = _units(mP), _units(mQ)
    if len(left) + len(right) <= 2:
        return None
    reduced = _reduced(left + right, len(left))
    if reduced is None:
        return None
    c, factors = reduced
    return ops.scale(cP * cQ * c, ops.matmul(*factors))


def _units(factors):
    """The factors of a product, with the two of a diag_embedding or of a diag_selection taken
    as one."""
    out = []
    for f in factors:
        if out and f.shape[1] != 1 and (is_diag_embedding(ops.matmul(out[-1], f))
                                        or _selection(ops.matmul(out[-1], f)) is not None):
            out[-1] = ops.matmul(out[-1], f)
        else:
            out.append(f)
    return out


def _reduced(factors, seam, most=64):
    """(coefficient, factors) with the pairs (by _chained) and triples (by hadamard_of_outer)
    rewritten, starting where the two products meet, at index `seam`, and going on at each
    place a rewrite leaves; None when nothing applies at the seam."""
    coeff, todo, changed = sp.Integer(1), [seam], False
    while todo and most > 0:
        most -= 1
        i = todo.pop()
        if not 0 < i < len(factors):
            continue
        window = 2
        new = _chained(factors[i - 1], factors[i])
        if new is None and i > 1:
            window = 3
            new = hadamard_of_outer(factors[i - 2], factors[i - 1], factors[i])
            if new is None:
                new = selected_embedding(factors[i - 2], factors[i - 1], factors[i])
        if new is None:
            continue
        c, ms = ops.split_coeff(new)
        coeff, changed = coeff * c, True
        first = i + 1 - window
        factors[first:i + 1] = _units(ms)
        todo += [first + len(ms), first]
    return (coeff, factors) if changed else None


def _chained(P, Q):
    p, q = kron_factors(P), kron_factors(Q)
    if p is not None and q is not None:
        (c1, A, B), (c2, C, D) = p, q
        if A.shape[1] == C.shape[0] and B.shape[1] == D.shape[0]:
            return ops.scale(c1 * c2, kron(ops.matmul(A, C), ops.matmul(B, D)))
    for rule in (commuted_kron, vec_through_kron, vec_through_hadamard, through_diag_embedding,
                 merged_diagonals, through_selection, transposed_diagonal):
        chained = rule(P, Q)
        if chained is not None:
            return chained
    ones = _ones_row_as_vec(P, Q)
    if ones is not None:
        column, row = ones
        for rule in (vec_through_kron, vec_through_hadamard, through_diag_embedding):
            chained = rule(row, Q)
            if chained is not None:
                return chained if column is None else ops.matmul(column, chained)
    return None


def _ones_row_as_vec(P, Q):
    """(None, c*vec(ones(r, s)).T) for P = c*ones(r*s).T (or a Kronecker product of rows of
    ones), with r x s the shape that Q (a Kronecker product, a Hadamard product or
    diag_embedding) takes the vec of; (ones(m), that row) for P = c*ones(m, r*s); None for
    another P or Q."""
    c, ms = ops.split_coeff(P)
    if len(ms) != 1:
        return None
    row = ms[0]
    if not (isinstance(row, OneMatrix) or (isinstance(row, KroneckerProduct)
                                           and all(isinstance(a, OneMatrix) for a in row.args))):
        return None
    q, d = kron_factors(Q), _diag_of_vec(Q)
    if q is not None:
        shape = (q[2].shape[0], q[1].shape[0])
    elif d is not None:
        shape = tuple(d[1].shape)
    elif is_diag_embedding(Q):
        shape = (Q.shape[1], Q.shape[1])
    else:
        return None
    if shape[0] * shape[1] != row.shape[1]:
        return None
    column = None if row.shape[0] == 1 else new(OneMatrix, row.shape[0], 1)
    return column, ops.scale(c, ops.transpose(new(Vec, new(OneMatrix, *shape))))


def transposed_diagonal(P, Q):
    """commutation(k, k)@vec(diag(v)) = vec(diag(v))

    diag(v).T = diag(v). None for another P@Q.
    """
    if isinstance(P, Commutation) and P.dims[0] == P.dims[1] and is_diag_embedding(Q):
        return Q
    return None


def _is_diagonal(H):
    """Whether H is diagonal by its form: eye, diag(v), or a product or Hadamard product with one."""
    c, ms = ops.split_coeff(H)
    if len(ms) != 1:
        return all(_is_diagonal(m) for m in ms)
    H = ms[0]
    if isinstance(H, (Identity, DiagMatrix)):
        return True
    return isinstance(H, HadamardProduct) and any(isinstance(a, (Identity, DiagMatrix)) for a in H.args)


def diag_embedding(k):
    """diag(vec(eye(k)))@kron(ones(k), eye(k)): the matrix E with vec(diag(v)) = E@v."""
    return ops.matmul(ops.diag(vec(Identity(k))), kron(OneMatrix(k, 1), Identity(k)))


def diag_selection(H):
    """kron(ones(k).T, eye(k))@diag(vec(H)): the matrix R with R@vec(Y) = (H*Y)@ones(k), for
    Y and H k x k; with H = eye(k), R@vec(Y) = diag(Y)."""
    k = H.shape[0]
    return ops.matmul(kron(OneMatrix(1, k), Identity(k)), ops.diag(vec(H)))


def _selection(P):
    """(c, H) when P is c*diag_selection(H), else None."""
    c, ms = ops.split_coeff(P)
    if len(ms) != 2 or not isinstance(ms[1], DiagMatrix) or not isinstance(ms[1].args[0], Vec):
        return None
    H = ms[1].args[0].args[0]
    k = H.shape[0]
    if H.shape[1] != k or ms[0] != kron(OneMatrix(1, k), Identity(k)):
        return None
    return c, H


def through_selection(P, Q):
    """diag_selection(H)@kron(u, B) = diag(H@u)@B for a column u

    R@vec(Y) = (H*Y)@ones and H*(p@q.T) = diag(p)@H@diag(q): kron(u, B)@v = vec((B@v)@u.T)
    gives diag(H@u)@B@v, kron(C, w)@v = vec(w@(C@v).T) gives diag(w)@H@C@v; R@vec(diag(v)) =
    diag(H)*v; R@diag(vec(G)) = diag_selection(H*G). None for another P@Q.
    """
    sel = _selection(P)
    if sel is None:
        return None
    c, H = sel
    k = H.shape[0]
    q = kron_factors(Q)
    if q is not None:
        c2, A, B = q
        if A.shape == (k, 1) and B.shape[0] == k:
            return ops.scale(c * c2, ops.matmul(ops.diag(ops.matmul(H, A)), B))
        if B.shape == (k, 1) and A.shape[0] == k:
            return ops.scale(c * c2, ops.matmul(ops.diag(B), H, A))
        return None
    if is_diag_embedding(Q) and Q.shape[1] == k:
        return ops.scale(c, ops.diag(ops.diag(H)))
    if isinstance(Q, Commutation) and Q.dims == (k, k) and _is_diagonal(H):
        return P                   # (H*Y.T)@ones = (H*Y)@ones for a diagonal H
    d = _diag_of_vec(Q)
    if d is not None and d[1].shape == H.shape:
        return ops.scale(c * d[0], diag_selection(ops.hadamard(H, d[1])))
    return None


def selected_embedding(R, K, E):
    """diag_selection(H)@kron(C, B)@vec(diag(v)) = (B*(H@C))@v

    (H*(B@diag(v)@C.T))@ones = (B*(H@C))@v, for B and C k x k. None for another product.
    """
    sel, q = _selection(R), kron_factors(K)
    if sel is None or q is None or not is_diag_embedding(E):
        return None
    (c, H), (c2, C, B) = sel, q
    if not (B.shape == H.shape == C.shape and E.shape[1] == H.shape[0]):
        return None
    return ops.scale(c * c2, ops.hadamard(B, ops.matmul(H, C)))


def is_diag_embedding(Q):
    return ops.is_matrix(Q) and Q.shape[1] != 1 and Q == diag_embedding(Q.shape[1])


def _vec_row(P):
    """(c, B) when P is c*vec(B).T, else None."""
    c, ms = ops.split_coeff(P)
    if len(ms) == 1 and isinstance(ms[0], Transpose) and isinstance(ms[0].arg, Vec):
        return c, ms[0].arg.args[0]
    return None


def through_diag_embedding(P, Q):
    """kron(r, B)@vec(diag(v)) = B@diag(r.T)@v for a row r

    vec(diag(v)) = E@v (diag_embedding) and kron(A, B)@vec(Y) = vec(B@Y@A.T): for A a row r,
    B@diag(v)@r.T = B@diag(r.T)@v; for B a row r, vec(r@diag(v)@A.T) = A@diag(r.T)@v; and
    vec(B).T@vec(diag(v)) = tr(B.T@diag(v)) = diag(B).T@v. None for another P or Q.
    """
    if not is_diag_embedding(Q):
        return None
    p = kron_factors(P)
    if p is not None:
        c, A, B = p
        if A.shape[0] == 1:
            return ops.scale(c, ops.matmul(B, ops.diag(ops.transpose(A))))
        if B.shape[0] == 1:
            return ops.scale(c, ops.matmul(A, ops.diag(ops.transpose(B))))
    row = _vec_row(P)
    if row is not None:
        if isinstance(row[1], OneMatrix):
            return ops.scale(row[0], new(OneMatrix, 1, row[1].shape[0]))
        return ops.scale(row[0], ops.transpose(ops.diag(row[1])))
    return None


def _diag_of_vec(D):
    """(c, H) when D is c*diag(vec(H)) with H a matrix, else None."""
    c, ms = ops.split_coeff(D)
    if len(ms) == 1 and isinstance(ms[0], DiagMatrix) and isinstance(ms[0].args[0], Vec):
        return c, ms[0].args[0].args[0]
    return None


def hadamard_of_outer(K1, D, K2):
    """kron(r, C)@diag(vec(H))@kron(y, B)@v = C@diag(H@(y*r.T))@B@v for a row r and a column y

    The Hadamard product of H with an outer product, H*(p@q.T) = diag(p)@H@diag(q), between
    two Kronecker products with a vector factor each: K2 takes v to vec(p@q.T) (kron(y, B)@v =
    vec((B@v)@y.T), kron(A, y)@v = vec(y@(A@v).T)), and K1 takes vec(Y) to C@Y'@r.T
    (kron(r, C)@vec(Y) = C@Y@r.T, kron(C, r)@vec(Y) = C@Y.T@r.T). The four combinations:
    C@diag(H@(y*r.T))@B, C@diag(y)@H.T@diag(r.T)@B, C@diag(y)@H@diag(r.T)@A and
    C@diag(H.T@(y*r.T))@A. None when K1@D@K2 is not of this form.
    """
    k1, d, k2 = kron_factors(K1), _diag_of_vec(D), kron_factors(K2)
    if k1 is None or d is None or k2 is None:
        return None
    (c1, A1, B1), (c, H), (c2, A2, B2) = k1, d, k2
    if A1.shape[0] == 1:
        r, C, transposed = A1, B1, False            # kron(r, C)@vec(Y) = C@Y@r.T
    elif B1.shape[0] == 1:
        r, C, transposed = B1, A1, True             # kron(C, r)@vec(Y) = C@Y.T@r.T
    else:
        return None
    Hs = ops.transpose(H) if transposed else H
    if A2.shape[1] == 1 and B2.shape[0] == H.shape[0] and A2.shape[0] == H.shape[1]:
        y, L, left = A2, B2, True                   # Y = diag(L@v)@H@diag(y)
    elif B2.shape[1] == 1 and B2.shape[0] == H.shape[0] and A2.shape[0] == H.shape[1]:
        y, L, left = B2, A2, False                  # Y = diag(y)@H@diag(L@v)
    else:
        return None
    if r.shape[1] != (H.shape[0] if transposed else H.shape[1]):
        return None
    coeff = c1 * c * c2
    rT = ops.transpose(r)
    if left != transposed:          # the differential's diagonal on the left of Y'
        weights = ops.matmul(Hs, ops.hadamard(y, rT))
        return ops.scale(coeff, ops.matmul(C, ops.diag(weights), L))
    return ops.scale(coeff, ops.matmul(C, ops.diag(y), Hs, ops.diag(rT), L))


def merged_diagonals(P, Q):
    """diag(vec(A))@diag(vec(B)) = diag(vec(A*B))

    Two Hadamard products in a row; and diag(vec(A))@vec(diag(v)) = vec(diag(diag(A)*v)), a
    Hadamard product with a diagonal matrix (diag_embedding). None for another P@Q.
    """
    p = _diag_of_vec(P)
    if p is None:
        return None
    q = _diag_of_vec(Q)
    if q is not None and p[1].shape == q[1].shape:
        return ops.scale(p[0] * q[0], ops.diag(vec(ops.hadamard(p[1], q[1]))))
    if is_diag_embedding(Q) and p[1].shape == (Q.shape[1], Q.shape[1]):
        return ops.scale(p[0], ops.matmul(Q, ops.diag(ops.diag(p[1]))))
    return None


def vec_through_hadamard(P, Q):
    """vec(B).T@diag(vec(A)) = vec(B*A).T

    The entries of vec(B) scaled by those of vec(A); None when P@Q is not of this form.
    """
    row = _vec_row(P)
    c, ms = ops.split_coeff(Q)
    if row is None or len(ms) != 1 or not isinstance(ms[0], DiagMatrix) \
            or not isinstance(ms[0].args[0], Vec) or ms[0].args[0].args[0].shape != row[1].shape:
        return None
    return ops.scale(c * row[0], ops.transpose(vec(ops.hadamard(row[1], ms[0].args[0].args[0]))))


def vec_through_kron(P, Q):
    """vec(A).T@kron(B, C) = vec(C.T@A@B).T

    The Kronecker identity kron(B.T, C.T)@vec(A) = vec(C.T@A@B), transposed; and
    kron(B, C)@vec(A) = vec(C@A@B.T) itself. None when P@Q is neither form.
    """
    q = kron_factors(Q)
    if q is not None:
        c, B, C = q
        row = ops.split_coeff(P)
        if len(row[1]) == 1 and isinstance(row[1][0], Transpose) and isinstance(row[1][0].arg, Vec):
            A = row[1][0].arg.args[0]
            if A.shape == (C.shape[0], B.shape[0]):
                return ops.scale(c * row[0], ops.transpose(vec(ops.matmul(ops.transpose(C), A, B))))
    p = kron_factors(P)
    if p is not None:
        c, B, C = p
        col = ops.split_coeff(Q)
        if len(col[1]) == 1 and isinstance(col[1][0], Vec):
            A = col[1][0].args[0]
            if A.shape == (C.shape[1], B.shape[1]):
                return ops.scale(c * col[0], vec(ops.matmul(C, A, ops.transpose(B))))
    return None


def commuted_kron(P, Q):
    """commutation(p, m)@kron(A, B) = kron(B, A)@commutation(q, n), for A m x n and B p x q

    Source: Magnus & Neudecker, ch. 3, theorem 9. A commutation matrix with a dimension 1 is
    eye, so when A or B is a row, kron(A, B)@commutation = kron(B, A), and when A or B is a
    column, commutation@kron(A, B) = kron(B, A). None when P@Q is not of one of these forms.
    """
    if isinstance(Q, Commutation) and kron_factors(P) is not None:
        c, A, B = kron_factors(P)
        if (A.shape[0] == 1 or B.shape[0] == 1) and Q.dims == (A.shape[1], B.shape[1]):
            return ops.scale(c, kron(B, A))
    if isinstance(P, Commutation) and kron_factors(Q) is not None:
        c, A, B = kron_factors(Q)
        if (A.shape[1] == 1 or B.shape[1] == 1) and P.dims == (B.shape[0], A.shape[0]):
            return ops.scale(c, kron(B, A))
    return None


def commutation_array(n, m):
    """The NumPy K_{n,m}: K[j + i*m, i + j*n] = 1, so K @ vec(A) = vec(A.T) for A n x m."""
    K = np.zeros((n * m, n * m))
    for i in range(n):
        for j in range(m):
            K[j + i * m, i + j * n] = 1.0
    return K
