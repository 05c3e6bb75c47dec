"""Identification: the transpose rules of the few linear operations a differential is built from.

Given the adjoint G of a node (dL = tr(G.T @ dN), or dL = g * dN for a scalar node) and dN as an
expression linear in the differentials of the node's children, `Pull` rewrites tr(G.T @ dN)
into a sum of tr(G_C.T @ dC), one term per child C, and returns the G_C. Each rule is one trace
identity (JAX's transpose rules, written as the textbooks write them):

    tr(G.T @ L @ dX @ R) = tr((L.T @ G @ R.T).T @ dX)        cyclic trace
    tr(G.T @ dX.T)       = tr((G.T).T @ dX)                   tr(A.T) = tr(A)
    tr(G.T @ (A * dX))   = tr((G * A).T @ dX)                 Hadamard-trace identity
    g * tr(dX)           = tr((g * I).T @ dX)
    g * sum(dX)          = tr((g * ones).T @ dX)
    tr(G.T @ diag(dv))   = diag(G).T @ dv
    tr(G.T @ (ds * M))   = tr(G.T @ M) * ds                   a scalar differential
    tr(G.T @ im2col(dX)) = tr(col2im(G).T @ dX)               col2im is im2col's adjoint
    tr(G.T @ concat(dA, dB)) = tr(([I 0] G).T @ dA) + tr(([0 I] G).T @ dB)   blocks of G

Scalars and 1 x 1 matrices are interchangeable here: the adjoint of a 1 x 1 node may be a scalar.
The adjoint G may be a placeholder (nodes.Adjoint): the rules only build expressions in it.

Pipeline: differentials -> **transpose** -> reverse (the one place these rules run), and
vec_rules (which reads scalar parts of a differential through them). This module knows nothing
about which node is being expanded; it only transposes one linear expression.
"""
import sympy as sp
from sympy import HadamardProduct, Identity, MatAdd, MatMul, OneMatrix, Trace, Transpose
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from ..core import functions, ops
from ..core.blocks import Concat, selector
from ..core.functions import EntrySum
from ..core.nodes import DIFFERENTIALS, AsScalar
from ..core.windows import Col2im, Im2col, col2im, im2col
from ..core.rules import RuleTable

RULES = RuleTable("transpose rule")


def transposes(*op_types, name):
    """Register a transpose (identification) rule for the given exact linear op types."""
    return RULES.rule(*op_types, name=name)


def summed(A):
    return functions.apply("sum", A)


def inner(G, M):
    """tr(G.T @ M) in the form a person writes: G.T @ M for vectors, sum(G) for M = ones."""
    if not ops.is_matrix(G) or not ops.is_matrix(M):
        return ops.as_scalar_if_1x1(G) * ops.as_scalar_if_1x1(M)
    if isinstance(M, OneMatrix):
        return summed(G)
    if isinstance(G, OneMatrix):
        return summed(M)
    if isinstance(G, Identity):
        return ops.trace(M)
    if isinstance(M, Identity):
        return ops.trace(G)
    if M.shape[1] == 1:
        return ops.scalar(ops.matmul(ops.transpose(G), M))
    return ops.trace(ops.matmul(ops.transpose(G), M))


class Pull:
    """Transposes one linear expression; collects (child, G_child) and the rules it used.

    `has_differential(e)` tells whether e holds a differential (a memoised detector shared by
    a whole walk, so the cost over a derivation is linear).
    """

    def __init__(self, has_differential):
        self.has_differential = has_differential
        self.out = []
        self.used = []

    def __call__(self, G, E):
        stack = [(G, E)]
        while stack:                 # each rule pushes its (G', dE') pairs: no recursion
            G, E = stack.pop()
            if not self.has_differential(E):
                continue
            if isinstance(E, DIFFERENTIALS):
                self.out.append((E.arg, G))
                continue
            rule = RULES.get(type(E))
            if rule is None:
                raise AssertionError(f"a differential rule built a non-linear op "
                                     f"{type(E).__name__}: {E}")
            if rule not in self.used:
                self.used.append(rule)
            pushed = rule.function(self, G, E)
            stack.extend(reversed(pushed))

    def split(self, parts):
        """(index, part) of the one part holding the differential, for a product linear in it."""
        holding = [i for i, p in enumerate(parts) if self.has_differential(p)]
        assert len(holding) == 1, f"a product is not linear in the differentials: {parts}"
        i = holding[0]
        return i, parts[i]


@transposes(MatAdd, sp.Add, name="linearity")
def pull_add(pull, G, E):
    """tr(G.T@(dA + dB)) = tr(G.T@dA) + tr(G.T@dB)"""
    return [(G, term) for term in E.args]


@transposes(MatMul, name="cyclic trace")
def pull_matmul(pull, G, E):
    """tr(G.T@L@dX@R) = tr((L.T@G@R.T).T@dX)"""
    coeff, mats = ops.split_coeff(E)
    scalars = sp.Mul.make_args(coeff)
    if any(pull.has_differential(s) for s in scalars):
        i, ds = pull.split(list(scalars))
        rest = sp.Mul(*[s for j, s in enumerate(scalars) if j != i])
        return [(inner(G, ops.matmul(rest, *mats)), ds)]
    i, dX = pull.split(mats)
    L, R = mats[:i], mats[i + 1:]
    return [(ops.matmul(coeff, *[ops.transpose(m) for m in reversed(L)], G,
                        *[ops.transpose(m) for m in reversed(R)]), dX)]


@transposes(sp.Mul, name="scalar product")
def pull_mul(pull, G, E):
    """g*(c*ds) = (g*c)*ds"""
    factors = list(E.args)
    i, ds = pull.split(factors)
    return [(ops.as_scalar_if_1x1(G) * sp.Mul(*[f for j, f in enumerate(factors) if j != i]), ds)]


@transposes(Transpose, name="transpose")
def pull_transpose(pull, G, E):
    """tr(G.T@dX.T) = tr((G.T).T@dX)"""
    return [(ops.transpose(G), E.arg)]


@transposes(HadamardProduct, name="Hadamard-trace identity")
def pull_hadamard(pull, G, E):
    """tr(G.T@(A*dX)) = tr((G*A).T@dX)"""
    factors = list(E.args)
    i, dX = pull.split(factors)
    return [(ops.hadamard(G, *[f for j, f in enumerate(factors) if j != i]), dX)]


@transposes(Trace, name="trace of a differential")
def pull_trace(pull, G, E):
    """g*tr(dX) = tr((g*eye(n)).T@dX)"""
    return [(ops.scale(G, Identity(E.arg.shape[0])), E.arg)]


@transposes(EntrySum, name="sum of entries")
def pull_sum(pull, G, E):
    """g*sum(dX) = tr((g*ones(n, m)).T@dX)"""
    return [(ops.scale(G, OneMatrix(*E.arg.shape)), E.arg)]


@transposes(AsScalar, name="a scalar is a 1 x 1 matrix")
def pull_as_scalar(pull, G, E):
    """g*(a.T@dX@b) = tr(g.T@(a.T@dX@b))"""
    return [(G, E.arg)]


@transposes(DiagMatrix, name="diagonal matrix")
def pull_diag_matrix(pull, G, E):
    """tr(G.T@diag(dv)) = diag(G).T@dv"""
    return [(ops.diag(G) if ops.is_matrix(G) else G, E.args[0])]


@transposes(DiagonalOf, name="diagonal of a matrix")
def pull_diagonal_of(pull, G, E):
    """g.T@diag(dX) = tr(diag(g).T@dX)"""
    return [(ops.diag(G) if ops.is_matrix(G) else G, E.args[0])]


@transposes(Im2col, name="adjoint of im2col")
def pull_im2col(pull, G, E):
    """tr(G.T@im2col(dX, 1, 28, 28, 3, 3, 2, 2, 1, 1)) = tr(col2im(G, 1, 28, 28, 3, 3, 2, 2, 1, 1, 784).T@dX)

    For every geometry: col2im adds every window entry back onto the pixel it was read from
    (core/windows.py), which is what the transpose of the copying im2col does; its last size is
    the number of columns of X (here N x 784 example rows).
    """
    return [(col2im(G, *E.parameters, E.arg.shape[1]), E.arg)]


@transposes(Col2im, name="adjoint of col2im")
def pull_col2im(pull, G, E):
    """tr(G.T@col2im(dP, 1, 28, 28, 3, 3, 2, 2, 1, 1, 784)) = tr(im2col(G, 1, 28, 28, 3, 3, 2, 2, 1, 1).T@dP)

    For every geometry: im2col is col2im's adjoint, as col2im is im2col's.
    """
    return [(im2col(G, *E.window.numbers()), E.arg)]


@transposes(Concat, name="blocks of a concatenation")
def pull_concat(pull, G, E):
    """tr(G.T@concat(dA, dB)) = tr((hconcat(eye(n), 0*ones(n, p))@G).T@dA) + tr((hconcat(0*ones(p, n), eye(p))@G).T@dB)

    For A n x m above B p x m: G's first n rows are A's adjoint, its last p rows B's, each
    selected by a block matrix [I 0] or [0 I]. For hconcat(dA, dB), G's first and last columns,
    selected from the right: G @ concat(eye(m1), 0), G @ concat(0, eye(m2)).
    """
    A, B = E.blocks
    if E.axis == 0:
        return [(ops.matmul(selector(E, 0), G), A), (ops.matmul(selector(E, 1), G), B)]
    return [(ops.matmul(G, selector(E, 0)), A), (ops.matmul(G, selector(E, 1)), B)]
