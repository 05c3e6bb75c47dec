"""The expression nodes SymPy lacks, each validating its shapes in __new__.

Everything else in a matcalc expression is a SymPy object: MatrixSymbol, MatMul, MatAdd,
Transpose, Trace, Determinant, Inverse, HadamardProduct, HadamardPower, Identity, OneMatrix,
ZeroMatrix, DiagMatrix, DiagonalOf, and SymPy scalars (Symbol, Add, Mul, Pow, exp, log, ...).

Added here, and only because SymPy has no equivalent:

* `Elementwise(f, X)`: f applied to every entry of X. SymPy's ElementwiseApplyFunction wraps f in
  a Lambda over a fresh Dummy, so two identical applications compare unequal; that would break
  sharing of subexpressions and parse round trips. The function is named by a `Str`.
* `sigmoid`, `relu`, `softplus`, `step`: the scalar functions of that table that SymPy lacks.
* `Softmax(X)`, `LogSumExp(x)`, `RowLogSumExp(X)`: over the entries of a vector, or row by row.
* `LogDet(A)` (log |det A|), `EntrySum(A)` (sum of entries), `Norm(A)` (Frobenius / 2-norm).
* `AsScalar(M)`: a 1 x 1 matrix used where the notation wants a scalar (`(x.T @ y) * A`).
* `Differential(X)` and `ScalarDifferential(s)`: dX and ds in a differential, so that a user's
  own symbol `dX` can never collide with one.

This module sits at the bottom of the pipeline: it imports only SymPy and `errors`/`shapes`.
"""
import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions.matexpr import MatrixExpr

from . import shape_cache  # noqa: F401  (memoised SymPy shapes; see that module)
from .errors import ShapeError
from .shapes import describe, shape_of


class _Printable:
    """SymPy's str()/repr() of a node SymPy does not know: Name(args)."""

    def _sympystr(self, printer):
        inner = ", ".join(printer._print(a) for a in self.args)
        return f"{type(self).__name__}({inner})"

    _sympyrepr = _sympystr


def _memo_shape(node, compute):
    s = node.__dict__.get("_matcalc_shape")
    if s is None:
        s = node.__dict__["_matcalc_shape"] = compute()
    return s


# ---- scalar functions SymPy lacks ---------------------------------------------------------------
class sigmoid(sp.Function):
    """sigmoid(x) = 1 / (1 + exp(-x))"""
    nargs = 1


class relu(sp.Function):
    """relu(x) = max(x, 0)"""
    nargs = 1


class softplus(sp.Function):
    """softplus(x) = log(1 + exp(x))"""
    nargs = 1


class step(sp.Function):
    """step(x) = 1 if x > 0 else 0, the derivative of relu (0 at the kink)"""
    nargs = 1


# ---- matrix-valued nodes ---------------------------------------------------------------------
class Elementwise(_Printable, MatrixExpr):
    """f(X): the scalar function named `f` applied to every entry of X."""

    def __new__(cls, name, X):
        if not getattr(X, "is_Matrix", False):
            raise ShapeError(f"{name}() of a scalar is a scalar function, not an Elementwise node")
        return MatrixExpr.__new__(cls, Str(name) if isinstance(name, str) else name, X)

    @property
    def name(self):
        return self.args[0].name

    @property
    def arg(self):
        return self.args[1]

    @property
    def shape(self):
        return _memo_shape(self, lambda: self.args[1].shape)


class Softmax(_Printable, MatrixExpr):
    """softmax(X): over the entries of an n x 1 vector, or row by row of an N x C matrix."""

    def __new__(cls, X):
        if not getattr(X, "is_Matrix", False):
            raise ShapeError("softmax() needs a vector or a matrix, got a scalar")
        return MatrixExpr.__new__(cls, X)

    @property
    def arg(self):
        return self.args[0]

    @property
    def rowwise(self):
        return self.args[0].shape[1] != 1

    @property
    def shape(self):
        return _memo_shape(self, lambda: self.args[0].shape)


class RowLogSumExp(_Printable, MatrixExpr):
    """logsumexp(X) of an N x C matrix: the N x 1 column of each row's log-sum-exp."""

    def __new__(cls, X):
        if not getattr(X, "is_Matrix", False) or X.shape[1] == 1:
            raise ShapeError(f"row-wise logsumexp needs an N x C matrix, got {describe(shape_of(X))}")
        return MatrixExpr.__new__(cls, X)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return _memo_shape(self, lambda: (self.args[0].shape[0], sp.Integer(1)))


class Differential(_Printable, MatrixExpr):
    """dX: the differential of the matrix expression X, with X's shape."""

    def __new__(cls, X):
        return MatrixExpr.__new__(cls, X)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return _memo_shape(self, lambda: self.args[0].shape)


# ---- scalar-valued nodes ---------------------------------------------------------------------
class _ScalarOfMatrix(_Printable, sp.Expr):
    """A scalar computed from one matrix argument of the shape `needs` says."""
    needs = "any"
    is_commutative = True
    is_number = False

    def __new__(cls, A):
        if not getattr(A, "is_Matrix", False):
            raise ShapeError(f"{cls.text_name}() needs a matrix or vector, got a scalar")
        rows, cols = A.shape
        ok = {"any": True, "square": rows == cols, "column": cols == 1,
              "1 x 1": (rows, cols) == (1, 1)}[cls.needs]
        if not ok:
            raise ShapeError(f"{cls.text_name}() needs a {cls.needs} matrix, "
                             f"got {describe(shape_of(A))}")
        return sp.Expr.__new__(cls, A)

    @property
    def arg(self):
        return self.args[0]

    def _eval_is_real(self):
        return True


class LogDet(_ScalarOfMatrix):
    """logdet(A) = log |det A| of a square matrix."""
    text_name = "logdet"
    needs = "square"


class EntrySum(_ScalarOfMatrix):
    """sum(A): the sum of all entries of A."""
    text_name = "sum"


class Norm(_ScalarOfMatrix):
    """norm(A): the Frobenius norm (the 2-norm of a vector)."""
    text_name = "norm"

    def _eval_is_nonnegative(self):
        return True


class LogSumExp(_ScalarOfMatrix):
    """logsumexp(x) of an n x 1 vector: log(sum(exp(x)))."""
    text_name = "logsumexp"
    needs = "column"


class AsScalar(_ScalarOfMatrix):
    """A 1 x 1 matrix read as the scalar it holds."""
    text_name = "scalar"
    needs = "1 x 1"


class ScalarDifferential(_Printable, sp.Expr):
    """ds: the differential of the scalar expression s."""
    is_commutative = True
    is_number = False

    def __new__(cls, s):
        return sp.Expr.__new__(cls, s)

    @property
    def arg(self):
        return self.args[0]


SCALAR_OF_MATRIX = (LogDet, EntrySum, Norm, LogSumExp, AsScalar)
