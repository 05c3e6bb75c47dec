"""Concatenation: two matrices stacked into one, `concat(A, B)` (rows: A above B) and
`hconcat(A, B)` (columns: A left of B).

* `concat(A, B)`: A n1 x m above B n2 x m, an (n1 + n2) x m matrix (NumPy's
  `np.concatenate((A, B), axis=0)`).
* `hconcat(A, B)`: A n x m1 left of B n x m2, an n x (m1 + m2) matrix (`axis=1`).

Three or more blocks nest: `concat(concat(A, B), C)`. Concatenation is linear in its blocks,
so its d-rule (calculus/differentials.py) concatenates the differentials, and its transpose
rule (calculus/transpose.py) reads each block's adjoint off G with a block-selection matrix,
itself a concatenation of an identity and a zero block: for G = concat(G1, G2),
G1 = hconcat(eye(n1), 0) @ G. A student reads that as [I 0] G; evaluate.py and the NumPy
printer compute it, and matcalc/reference.py has its own implementation.

This module imports only SymPy and core modules below the registry.
"""
import sympy as sp
from sympy import Identity, ZeroMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..errors import ShapeError
from .intern import canonical
from .nodes import _memo_shape, _Printable
from .shapes import describe, is_matrix, shape_of

AXES = {0: "concat", 1: "hconcat"}          # the notation of each axis


class Concat(_Printable, MatrixExpr):
    """concat(A, B) (axis 0: A above B) or hconcat(A, B) (axis 1: A left of B)."""

    def __new__(cls, axis, A, B):
        axis = int(axis)
        name = AXES[axis]
        if not is_matrix(A) or not is_matrix(B):
            raise ShapeError(f"{name}() joins two matrices or vectors, got "
                             f"{describe(shape_of(A))} and {describe(shape_of(B))}")
        kept = 1 - axis                      # the dimension both blocks share
        if A.shape[kept] != B.shape[kept]:
            what = "columns" if axis == 0 else "rows"
            raise ShapeError(f"{name}() needs blocks with the same number of {what}: "
                             f"{describe(shape_of(A))} and {describe(shape_of(B))}")
        return canonical(MatrixExpr.__new__(cls, sp.Integer(axis), A, B))

    @property
    def axis(self):
        return int(self.args[0])

    @property
    def notation(self):
        return AXES[self.axis]

    @property
    def blocks(self):
        return self.args[1], self.args[2]

    @property
    def shape(self):
        def compute():
            (r1, c1), (r2, c2) = self.args[1].shape, self.args[2].shape
            return (r1 + r2, c1) if self.axis == 0 else (r1, c1 + c2)
        return _memo_shape(self, compute)


def joined(axis, A, B):
    """Concat(axis, A, B); zero blocks make a zero matrix."""
    node = Concat(axis, A, B)
    if isinstance(A, ZeroMatrix) and isinstance(B, ZeroMatrix):
        return canonical(ZeroMatrix(*node.shape))
    return node


def concat(A, B):
    """A above B: concat(A, B)."""
    return joined(0, A, B)


def hconcat(A, B):
    """A left of B: hconcat(A, B)."""
    return joined(1, A, B)


def unit_blocks(node, which, axis):
    """An eye block beside a zero block, joined on `axis`: the eye where block `which` (0 or 1)
    of the concatenation `node` sits, sized by the node's blocks along node.axis."""
    sizes = [b.shape[node.axis] for b in node.blocks]
    own, other = sizes[which], sizes[1 - which]
    zero = canonical(ZeroMatrix(own, other) if axis == 1 else ZeroMatrix(other, own))
    pair = (canonical(Identity(own)), zero)
    return joined(axis, *(pair if which == 0 else pair[::-1]))


def selector(node, which):
    """The block-selection matrix S of block `which` (0 or 1): S @ G for concat (n1 x n,
    hconcat(eye(n1), 0) for the first block), G @ S for hconcat (m x m2, concat(0, eye(m2))
    for the second)."""
    return unit_blocks(node, which, 1 - node.axis)


def placement(node, which):
    """The matrix P that puts block `which` (0 or 1) in its place: concat(dA, dB) =
    P_A@dA + P_B@dB with P_A = concat(eye(n1), 0) (n x n1); hconcat(dA, dB) = dA@P_A + dB@P_B
    with P_A = hconcat(eye(m1), 0) (m1 x m). It is the transposed block-selection matrix."""
    return unit_blocks(node, which, node.axis)
