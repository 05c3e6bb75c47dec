"""Convolution and pooling in matrix notation: im2col, its adjoint col2im, and blockmax.

A batch of N images of H x W pixels with C channels is a matrix whose entries, read row by row,
are in (n, h, w, c) order: the N*H*W x C "pixel rows" layout that a convolution's output has
(one row per pixel, one column per channel), or the N x H*W*C "example rows" layout of a
network's input (`x.transpose(0, 2, 3, 1).reshape(N, -1)` of an N x C x H x W array). Both
hold the same entries in the same order, so im2col reads either.

* `im2col(X, C, H, W, KH, KW, SH, SW, PH, PW)`: the KH x KW windows of the images, taken with
  stride (SH, SW) after zero padding (PH, PW), one window per row: an N*OH*OW x KH*KW*C matrix
  with columns in (i, j, c) order, OH = (H + 2 PH - KH)//SH + 1 (OW likewise). A convolution
  with the KH*KW*C x F kernel matrix K is then the matrix product `im2col(X) @ K`. im2col is
  linear in X.
* `col2im(G, C, H, W, KH, KW, SH, SW, PH, PW, C_out)`: its adjoint, tr(G.T @ im2col(X)) =
  tr(col2im(G).T @ X): every window entry of G added back onto the pixel it was read from
  (overlapping windows add up; padding drops out). C_out is the number of columns of the
  result, the shape of the X it is the adjoint for (C for pixel rows, H*W*C for example rows).
* `blockmax(P, g)`: for P whose columns are g blocks of equal width, the entrywise maximum over
  the blocks. Max pooling with p x p windows is `blockmax(im2col(X, C, H, W, p, p, p, p, 0, 0),
  p*p)`; the window of a whole image is a flatten, `im2col(X, C, H, W, H, W, 1, 1, 0, 0)`.
* `blockargmax(P, g)`: P's shape; 1/k at each of the k entries that tie for the largest of the
  g entries P[r, k*C + c] (k = 0..g-1), 0 elsewhere: blockmax's derivative weights, the blockwise
  `ismax(A)/sum(ismax(A))` of `max`'s record (a tie shares the derivative, as autograd does).
  Piecewise constant in P.

Each node checks its shapes in __new__ and knows its NumPy spelling (`numpy`, with a `helper`
function the generated module defines); the d-rules are in calculus/differentials.py and the
transpose rules in calculus/transpose.py, each citing its identity; evaluate.py computes the
values and matcalc/reference.py has its own, independent implementation.

This module imports only SymPy and core modules below the registry.
"""
from dataclasses import dataclass

import sympy as sp
from sympy import ZeroMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..errors import ShapeError
from .intern import canonical
from .nodes import _memo_shape, _Printable
from .shapes import describe, is_matrix, shape_of


@dataclass(frozen=True)
class Window:
    """The geometry of a convolution: C channels of H x W images, a KH x KW kernel, stride
    (SH, SW), zero padding (PH, PW)."""
    C: int
    H: int
    W: int
    KH: int
    KW: int
    SH: int = 1
    SW: int = 1
    PH: int = 0
    PW: int = 0

    FIELDS = ("C", "H", "W", "KH", "KW", "SH", "SW", "PH", "PW")

    def __post_init__(self):
        for field, value in zip(self.FIELDS[:7], self.numbers()[:7]):
            if value <= 0:
                raise ShapeError(f"im2col: {field} must be a positive integer, got {value}")
        if self.PH < 0 or self.PW < 0:
            raise ShapeError(f"im2col: padding must be >= 0, got ({self.PH}, {self.PW})")
        if self.KH > self.H + 2 * self.PH or self.KW > self.W + 2 * self.PW:
            raise ShapeError(f"im2col: a {self.KH} x {self.KW} kernel does not fit a "
                             f"{self.H} x {self.W} image padded by ({self.PH}, {self.PW})")

    @classmethod
    def of(cls, numbers):
        if len(numbers) != 9:
            raise ShapeError(f"im2col/col2im take a matrix and the sizes C, H, W, KH, KW, SH, SW, "
                             f"PH, PW; got {len(numbers)} sizes")
        values = []
        for x in numbers:
            x = sp.sympify(x)
            if not x.is_Integer:
                raise ShapeError(f"im2col/col2im take integer sizes, got {x}")
            values.append(int(x))
        return cls(*values)

    def numbers(self):
        return tuple(getattr(self, f) for f in self.FIELDS)

    @property
    def OH(self):
        return (self.H + 2 * self.PH - self.KH) // self.SH + 1

    @property
    def OW(self):
        return (self.W + 2 * self.PW - self.KW) // self.SW + 1

    def tiles(self):
        """Windows side by side (stride = kernel, no padding), the last rows and columns left
        out when the kernel does not divide the image: im2col then only picks and reorders
        entries, so pooling can read the images in place."""
        return (self.SH, self.SW, self.PH, self.PW) == (self.KH, self.KW, 0, 0)

    def is_flatten(self):
        """The whole image as the only window: im2col and col2im are reshapes (views)."""
        return (self.KH, self.KW, self.SH, self.SW, self.PH, self.PW) == \
            (self.H, self.W, 1, 1, 0, 0)

    def is_identity(self):
        """A 1 x 1 window over 1 x 1 images: im2col(X) is X (as N x C)."""
        return (self.H, self.W, self.KH, self.KW, self.SH, self.SW, self.PH, self.PW) == \
            (1, 1, 1, 1, 1, 1, 0, 0)

def _divided(total, by, what):
    """total/by as a dimension, or a ShapeError when it is not a whole multiple."""
    q = sp.factor_terms(sp.sympify(total) / by)
    if sp.fraction(q)[1] != 1:
        raise ShapeError(what)
    return q


def batch_of(X, window):
    """N, the number of images in X (its entries are N*C*H*W)."""
    if not is_matrix(X):
        raise ShapeError("im2col() needs a matrix of images, got a scalar")
    w = window
    return _divided(X.shape[0] * X.shape[1], w.C * w.H * w.W,
                    f"im2col() needs N*{w.H}*{w.W} x {w.C} pixel rows or N x {w.H}*{w.W}*{w.C} "
                    f"example rows, got {describe(shape_of(X))}")


class Im2col(_Printable, MatrixExpr):
    """im2col(X, C, H, W, KH, KW, SH, SW, PH, PW): the windows of the images in X, one a row."""
    notation = "im2col"
    numpy = "_im2col"

    def __new__(cls, X, *numbers):
        window = Window.of(numbers)
        batch_of(X, window)
        return canonical(MatrixExpr.__new__(cls, X, *[sp.Integer(n) for n in window.numbers()]))

    @property
    def arg(self):
        return self.args[0]

    @property
    def window(self):
        return Window.of(self.args[1:])

    @property
    def parameters(self):
        return self.window.numbers()

    @property
    def shape(self):
        def compute():
            w = self.window
            return batch_of(self.arg, w) * w.OH * w.OW, sp.Integer(w.KH * w.KW * w.C)
        return _memo_shape(self, compute)


class Col2im(_Printable, MatrixExpr):
    """col2im(G, C, H, W, KH, KW, SH, SW, PH, PW, C_out): the adjoint of im2col."""
    notation = "col2im"
    numpy = "_col2im"

    def __new__(cls, G, *numbers):
        if len(numbers) != 10:
            raise ShapeError(f"col2im() takes a matrix and 10 sizes (C, H, W, KH, KW, SH, SW, PH, "
                             f"PW, C_out), got {len(numbers)}")
        window = Window.of(numbers[:9])
        c_out = sp.sympify(numbers[9])
        if not is_matrix(G):
            raise ShapeError("col2im() needs a matrix of windows, got a scalar")
        w = window
        if G.shape[1] != w.KH * w.KW * w.C:
            raise ShapeError(f"col2im() needs {w.KH}*{w.KW}*{w.C} columns (one a window entry), "
                             f"got {describe(shape_of(G))}")
        N = _divided(G.shape[0], w.OH * w.OW, f"col2im() needs N*{w.OH}*{w.OW} rows (one a "
                                              f"window), got {describe(shape_of(G))}")
        _divided(N * w.H * w.W * w.C, c_out,
                 f"col2im(): {c_out} columns do not hold N*{w.H}*{w.W}*{w.C} entries")
        return canonical(MatrixExpr.__new__(cls, G, *[sp.Integer(n) for n in window.numbers()],
                                            c_out))

    @property
    def arg(self):
        return self.args[0]

    @property
    def window(self):
        return Window.of(self.args[1:10])

    @property
    def parameters(self):
        return self.window.numbers() + (int(self.args[10]),)

    @property
    def shape(self):
        def compute():
            w, c_out = self.window, self.args[10]
            N = self.arg.shape[0] / (w.OH * w.OW)
            return sp.factor_terms(N * w.H * w.W * w.C / c_out), c_out
        return _memo_shape(self, compute)


class _Blocks:
    """P and g of blockmax(P, g) and blockargmax(P, g)."""

    @property
    def arg(self):
        return self.args[0]

    @property
    def blocks(self):
        return int(self.args[1])

    @property
    def parameters(self):
        return (self.blocks,)


class BlockMax(_Blocks, _Printable, MatrixExpr):
    """blockmax(P, g): the entrywise maximum over the g column blocks of P."""
    notation = "blockmax"
    numpy = "_blockmax"

    def __new__(cls, P, g):
        g = sp.sympify(g)
        if not g.is_Integer or g < 1:
            raise ShapeError(f"blockmax(P, g) needs g a positive integer, got {g}")
        if not is_matrix(P):
            raise ShapeError("blockmax() needs a matrix, got a scalar")
        _divided(P.shape[1], g, f"blockmax(P, {g}) needs {g}*C columns, got "
                                f"{describe(shape_of(P))}")
        return canonical(MatrixExpr.__new__(cls, P, g))

    @property
    def shape(self):
        return _memo_shape(self, lambda: (self.arg.shape[0], self.arg.shape[1] / self.args[1]))


class BlockArgmax(_Blocks, _Printable, MatrixExpr):
    """blockargmax(P, g): 1/k at each of the k largest entries of every block position."""
    notation = "blockargmax"
    numpy = "_blockargmax"

    def __new__(cls, P, g):
        BlockMax(P, g)                                       # the same shape checks
        return canonical(MatrixExpr.__new__(cls, P, sp.sympify(g)))

    @property
    def shape(self):
        return self.arg.shape


# ---- constructors: canonical forms ------------------------------------------------------------
def im2col(X, *numbers):
    """im2col(X, C, H, W, KH, KW, SH, SW, PH, PW); zero stays zero, a 1 x 1 window is X."""
    node = Im2col(X, *numbers)
    if isinstance(X, ZeroMatrix):
        return canonical(ZeroMatrix(*node.shape))
    if node.window.is_identity() and tuple(node.shape) == tuple(X.shape):
        return X
    return node


def col2im(G, *numbers):
    """col2im(G, C, H, W, KH, KW, SH, SW, PH, PW, C_out); zero stays zero."""
    node = Col2im(G, *numbers)
    if isinstance(G, ZeroMatrix):
        return canonical(ZeroMatrix(*node.shape))
    if node.window.is_identity() and tuple(node.shape) == tuple(G.shape):
        return G
    return node


def blockmax(P, g):
    """blockmax(P, g); one block is P itself."""
    node = BlockMax(P, g)
    if node.blocks == 1:
        return P
    return node


def blockargmax(P, g):
    """blockargmax(P, g)."""
    return BlockArgmax(P, g)


# ---- values, for any array module (numpy or autograd.numpy) ----------------------------------
def _padded(xp, X4, w):
    """X4 (N, H, W, C) with PH zero rows and PW zero columns of pixels around each image."""
    N, H, W, C = X4.shape
    if w.PH:
        rows = xp.zeros((N, w.PH, W, C))
        X4 = xp.concatenate([rows, X4, rows], axis=1)
    if w.PW:
        cols = xp.zeros((N, H + 2 * w.PH, w.PW, C))
        X4 = xp.concatenate([cols, X4, cols], axis=2)
    return X4


def im2col_array(xp, X, w):
    """The windows of X, one a row, by strided slices of the padded images."""
    C = w.C
    X4 = _padded(xp, xp.reshape(X, (-1, w.H, w.W, C)), w)
    OH, OW = w.OH, w.OW
    pieces = [X4[:, i:i + w.SH * (OH - 1) + 1:w.SH, j:j + w.SW * (OW - 1) + 1:w.SW, :]
              for i in range(w.KH) for j in range(w.KW)]
    return xp.reshape(xp.stack(pieces, axis=3), (-1, w.KH * w.KW * C))


def _spread(xp, A, axis, stride, start, length):
    """A along `axis` placed at start, start + stride, ... of a zero array `length` long."""
    if stride > 1:
        shape = list(A.shape)
        gaps = xp.zeros(shape[:axis + 1] + [stride - 1] + shape[axis + 1:])
        A = xp.concatenate([xp.expand_dims(A, axis + 1), gaps], axis=axis + 1)
        shape[axis] *= stride
        A = xp.reshape(A, shape)
        A = A[(slice(None),) * axis + (slice(0, shape[axis] - stride + 1),)]
    before = list(A.shape)
    before[axis] = start
    after = list(A.shape)
    after[axis] = length - start - A.shape[axis]
    return xp.concatenate([xp.zeros(before), A, xp.zeros(after)], axis=axis)


def col2im_array(xp, G, w, c_out):
    """Every window entry of G added onto its pixel; the padding cut off; c_out columns."""
    C = w.C
    G6 = xp.reshape(G, (-1, w.OH, w.OW, w.KH, w.KW, C))
    Hp, Wp = w.H + 2 * w.PH, w.W + 2 * w.PW
    total = 0.0
    for i in range(w.KH):
        for j in range(w.KW):
            piece = _spread(xp, G6[:, :, :, i, j, :], 1, w.SH, i, Hp)
            total = total + _spread(xp, piece, 2, w.SW, j, Wp)
    images = total[:, w.PH:w.PH + w.H, w.PW:w.PW + w.W, :]
    return xp.reshape(images, (-1, c_out))


def blockmax_array(xp, P, g):
    return xp.max(xp.reshape(P, (P.shape[0], g, P.shape[1] // g)), axis=1)


def blockargmax_array(xp, P, g):
    """1 where an entry equals its block position's maximum, divided by how many do."""
    blocks = xp.reshape(P, (P.shape[0], g, P.shape[1] // g))
    top = (blocks == xp.max(blocks, axis=1, keepdims=True)) * 1.0
    return xp.reshape(top / xp.sum(top, axis=1, keepdims=True), P.shape)


# ---- the generated module's helpers (sliding_window_view, no loop over pixels) ----------------
IM2COL_HELPER = '''
def _im2col(X, C, H, W, KH, KW, SH, SW, PH, PW):
    """The KH x KW windows (stride SH, SW; zero padding PH, PW) of the C-channel images whose
    entries X holds in (n, h, w, c) order, one window a row, columns in (i, j, c) order: a
    window row of KW pixels is KW*C consecutive entries of an image row, so the windows are a
    view of the (N, H, W*C) images and the matrix is one copy of it. One channel: a column per
    kernel offset, each a strided copy of whole image rows (runs of OW, not of KW)."""
    X4 = X.reshape(-1, H, W, C)
    if (KH, KW, SH, SW, PH, PW) == (H, W, 1, 1, 0, 0):
        return X4.reshape(X4.shape[0], -1)
    if PH or PW:
        padded = np.zeros((X4.shape[0], H + 2 * PH, W + 2 * PW, C), X.dtype)
        padded[:, PH:PH + H, PW:PW + W] = X4
        X4 = padded
    N, HP, WP = X4.shape[:3]
    if C == 1:
        OH, OW = (HP - KH) // SH + 1, (WP - KW) // SW + 1
        out = np.empty((N, OH, OW, KH * KW), X4.dtype)
        for i in range(KH):
            for j in range(KW):
                out[:, :, :, i * KW + j] = \
                    X4[:, i:i + SH * (OH - 1) + 1:SH, j:j + SW * (OW - 1) + 1:SW, 0]
        return out.reshape(-1, KH * KW)
    rows = np.lib.stride_tricks.sliding_window_view(X4.reshape(N, HP, WP * C), (KH, KW * C),
                                                    axis=(1, 2))
    return rows[:, ::SH, ::SW * C].reshape(-1, KH * KW * C)


def _pooled_part(A, C, H, W, KH, KW):
    """The images of A (n, h, w, c order) without the rows and columns no window covers, as
    (N, OH, KH, OW*KW*C): a view when the kernel divides the image."""
    OH, OW = H // KH, W // KW
    A4 = A.reshape(-1, H, W, C)
    if OW * KW != W:
        A4 = np.ascontiguousarray(A4[:, :, :OW * KW])
    return A4[:, :OH * KH].reshape(-1, OH, KH, OW * KW * C)


def _sumpool(A, C, H, W, KH, KW):
    """_im2col(A, C, H, W, KH, KW, KH, KW, 0, 0) @ kron(ones(KH*KW), eye(C)), windows side by
    side (sum pooling), read from A in place: the sum over each window's KH image rows (runs of
    OW*KW*C entries), then over its KW pixels."""
    OH, OW = H // KH, W // KW
    parts = _pooled_part(A, C, H, W, KH, KW)
    rows = parts[:, :, 0].copy()
    for i in range(1, KH):
        rows += parts[:, :, i]
    pixels = rows.reshape(-1, OH, OW, KW, C)
    out = pixels[:, :, :, 0].copy()
    for j in range(1, KW):
        out += pixels[:, :, :, j]
    return out.reshape(-1, C)
'''

COL2IM_HELPER = '''
def _col2im(G, C, H, W, KH, KW, SH, SW, PH, PW, C_out):
    """The adjoint of _im2col: each window entry of G added onto the pixel it was read from,
    one strided slice of the images for each of the KH*KW kernel offsets."""
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    if (KH, KW, SH, SW, PH, PW) == (H, W, 1, 1, 0, 0):
        return G.reshape(-1, C_out)
    G6 = G.reshape(-1, OH, OW, KH, KW, C)
    X4 = np.zeros((G6.shape[0], H + 2 * PH, W + 2 * PW, C), dtype=G.dtype)
    for i in range(KH):
        for j in range(KW):
            X4[:, i:i + SH * (OH - 1) + 1:SH, j:j + SW * (OW - 1) + 1:SW] += G6[:, :, :, i, j]
    return X4[:, PH:PH + H, PW:PW + W].reshape(-1, C_out)


def _col2im_product(A, B, C, H, W, KH, KW, SH, SW, PH, PW, C_out):
    """_col2im(A @ B, ...) without forming A @ B: for each kernel offset (i, j), A times B's C
    columns of that offset, a contiguous block, is added onto its strided slice of the images."""
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    X4 = np.zeros((A.shape[0] // (OH * OW), H + 2 * PH, W + 2 * PW, C),
                  dtype=np.result_type(A, B))
    for i in range(KH):
        for j in range(KW):
            k = (i * KW + j) * C
            X4[:, i:i + SH * (OH - 1) + 1:SH, j:j + SW * (OW - 1) + 1:SW] += \
                (A @ B[:, k:k + C]).reshape(-1, OH, OW, C)
    return X4[:, PH:PH + H, PW:PW + W].reshape(-1, C_out)


def _unpool(G, C, H, W, KH, KW, C_out):
    """_col2im(np.tile(G, (1, KH*KW)), C, H, W, KH, KW, KH, KW, 0, 0, C_out), windows side by
    side: each window's row of G on every pixel of the window (repeated along the image rows,
    then over the window's KH rows), 0 where no window reads."""
    OH, OW = H // KH, W // KW
    along_rows = np.repeat(G.reshape(-1, OH, OW, C), KW, axis=2).reshape(-1, OH, 1, OW * KW * C)
    shape = (along_rows.shape[0], OH, KH, OW * KW * C)
    if (OH * KH, OW * KW) == (H, W):
        return np.ascontiguousarray(np.broadcast_to(along_rows, shape)).reshape(-1, C_out)
    out = np.zeros((shape[0], H, W, C), G.dtype)
    out[:, :OH * KH, :OW * KW] = np.broadcast_to(along_rows, shape).reshape(-1, OH * KH, OW * KW, C)
    return out.reshape(-1, C_out)
'''

POOLING_HELPER = '''
def _blockmax(P, g):
    """The entrywise maximum over the g column blocks of P."""
    return _largest(np.split(P, g, axis=1))


def _blockargmax(P, g):
    """1/k at each of the k largest entries of every block position of P (g column blocks), 0
    elsewhere: the weights of blockmax's derivative (a tie shares it)."""
    blocks = P.reshape(P.shape[0], g, -1)
    top = (blocks == blocks.max(axis=1, keepdims=True)).astype(P.dtype)
    top /= top.sum(axis=1, keepdims=True)
    return top.reshape(P.shape)


def _maxpool(A, C, H, W, KH, KW):
    """_blockmax(_im2col(A, C, H, W, KH, KW, KH, KW, 0, 0), KH*KW), windows side by side,
    read from A in place: the maximum over the KH image rows of each window (runs of OW*KW*C
    entries), then over its KW pixels."""
    OH, OW = H // KH, W // KW
    rows = _pooled_part(A, C, H, W, KH, KW)
    top = _largest([rows[:, :, i] for i in range(KH)]).reshape(-1, OH, OW, KW, C)
    return _largest([top[:, :, :, j] for j in range(KW)]).reshape(-1, C)


def _largest(views):
    """The entrywise maximum of the views, a new array."""
    if len(views) == 1:
        return views[0].copy()
    out = np.maximum(views[0], views[1])
    for view in views[2:]:
        np.maximum(out, view, out=out)
    return out


def _total(views, dtype):
    """The sum of the views, a new array of the dtype."""
    if len(views) == 1:
        return views[0].astype(dtype)
    out = np.add(views[0], views[1], dtype=dtype)
    for view in views[2:]:
        out += view
    return out


def _maxpool_adjoint(G, A, M, C, H, W, KH, KW, C_out):
    """_col2im(np.tile(G, (1, KH*KW)) * _blockargmax(_im2col(A, ...), KH*KW), ...), windows side
    by side, in A's layout: G shared among the entries of each window equal to its maximum M
    (1/k each at a tie of k), 0 elsewhere and where no window reads; the maxima repeated along
    the image rows, so every comparison and product runs over whole rows of OW*KW*C entries."""
    OH, OW = H // KH, W // KW
    dtype = np.result_type(G, A)
    along_rows = np.repeat(M.reshape(-1, OH, OW, C), KW, axis=2).reshape(-1, OH, 1, OW * KW * C)
    hits = _pooled_part(A, C, H, W, KH, KW) == along_rows
    ties = _total([hits[:, :, i] for i in range(KH)], dtype).reshape(-1, OH, OW, KW, C)
    count = _total([ties[:, :, :, j] for j in range(KW)], dtype)
    share = np.divide(G.reshape(count.shape), count, out=count)
    share = np.repeat(share, KW, axis=2).reshape(-1, OH, 1, OW * KW * C)
    shared = np.multiply(hits, share, dtype=dtype)
    if (OH * KH, OW * KW) == (H, W):
        return shared.reshape(-1, C_out)
    out = np.zeros((hits.shape[0], H, W, C), dtype)
    out[:, :OH * KH, :OW * KW] = shared.reshape(-1, OH * KH, OW * KW, C)
    return out.reshape(-1, C_out)
'''

Im2col.helper = IM2COL_HELPER
Col2im.helper = COL2IM_HELPER
BlockMax.helper = BlockArgmax.helper = POOLING_HELPER
