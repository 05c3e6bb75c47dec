"""The expression nodes SymPy lacks, each validating its shapes in __new__.

Everything else in a matcalc expression is a SymPy object: MatrixSymbol, MatMul, MatAdd,
Transpose, Trace, Determinant, Inverse, HadamardProduct, HadamardPower, Identity, OneMatrix,
ZeroMatrix, DiagMatrix, DiagonalOf, KroneckerProduct, and SymPy scalars (Symbol, Add, Mul, Pow).

Added here, and only because SymPy has no equivalent:

* `Elementwise(f, X)`: the function named `f` (a record of functions.py) applied to every entry
  of X. SymPy's ElementwiseApplyFunction wraps f in a Lambda over a fresh Dummy, so two identical
  applications compare unequal; that would break sharing of subexpressions and parse round trips.
* `ScalarOfMatrix` and `MatrixOfMatrix`: the bases of the matrix functions that functions.py
  registers (sum, norm, logdet, softmax, ...); each record there defines its own subclass.
* `AsScalar(M)`: a 1 x 1 matrix used where the notation wants a scalar (`(x.T @ y) * A`).
* `MatrixPower(X, k)`: X @ X @ ... @ X (k factors), so that long chains stay short.
* `Vec(X)`, `Commutation(n, m)`: the nodes of Jacobians through vec (matcalc extensions).
* `Differential(X)`, `ScalarDifferential(s)`: dX and ds in a differential, so that a user's
  own symbol `dX` can never collide with one.
* `Adjoint(N)`, `ScalarAdjoint(N)`: the placeholder for the adjoint G_N of a node N in the
  record of the reverse walk (dL = tr(G_N.T @ dN)); printed as grad_<name> by whoever names N.

This module sits at the bottom of the pipeline: it imports only SymPy, `errors` and `shapes`.
"""
import sympy as sp
from sympy.core.symbol import Str
from sympy.printing.pretty.stringpict import prettyForm
from sympy.matrices.expressions.matexpr import MatrixExpr

from . import shape_cache  # noqa: F401  (memoised SymPy shapes; see that module)
from ..errors import ShapeError
from .intern import canonical
from .shapes import describe, is_matrix, shape_of


# matcalc's printers, filled in by matcalc/sympy_printing.py (they import this module, so this
# module cannot import them): "text" (to_text), "latex", "numpy" (expression -> source).
PRINTERS = {}


class _Printable:
    """SymPy's printing hooks for a node SymPy does not know, so that str(), sympy.latex,
    sympy.pretty, Jupyter's default display and sympy.lambdify(..., "numpy") print matcalc's
    nodes as the notation, matcalc's LaTeX and NumPy do. repr() stays Name(args)."""

    def _sympyrepr(self, printer):
        inner = ", ".join(printer._print(a) for a in self.args)
        return f"{type(self).__name__}({inner})"

    def _sympystr(self, printer):
        text = PRINTERS.get("text")
        return text(self) if text else self._sympyrepr(printer)

    def _latex(self, printer, exp=None):
        latex = PRINTERS.get("latex")
        tex = latex(self) if latex else self._sympyrepr(printer)
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"

    def _pretty(self, printer):
        return prettyForm(self._sympystr(printer))

    def _numpycode(self, printer):
        numpy = PRINTERS.get("numpy")
        if numpy is None:
            return printer._print_not_supported(self)
        return numpy(self).replace("np.", printer._module_format("numpy") + ".")


def _memo_shape(node, compute):
    s = node.__dict__.get("_matcalc_shape")
    if s is None:
        s = node.__dict__["_matcalc_shape"] = compute()
    return s


class _OneArgument:
    @property
    def arg(self):
        return self.args[0]


class _ShapeOfFirst:
    """A matrix node with the shape of its first argument (dX, G_N, X^k, a named value)."""

    @property
    def shape(self):
        return _memo_shape(self, lambda: self.args[0].shape)


# ---- elementwise functions of matrices ------------------------------------------------------
class Elementwise(_Printable, MatrixExpr):
    """f(X): the function named `f` applied to every entry of X."""

    def __new__(cls, name, X):
        if not is_matrix(X):
            raise ShapeError(f"{name}() of a scalar is a scalar function, not an Elementwise node")
        return canonical(MatrixExpr.__new__(cls, Str(name) if isinstance(name, str) else name, X))

    @property
    def name(self):
        return self.args[0].name

    @property
    def arg(self):
        return self.args[1]

    @property
    def shape(self):
        return _memo_shape(self, lambda: self.args[1].shape)


# ---- elementwise functions of scalars -----------------------------------------------------------
class _ScalarPrintable:
    """sigmoid(x), relu(x), ... on scalars: SymPy prints their str itself; LaTeX and NumPy come
    from matcalc's printers, as for the matrix nodes."""
    _latex = _Printable._latex
    _numpycode = _Printable._numpycode

SCALAR_FUNCTIONS = {}


def scalar_function(name):
    """The SymPy function class of the elementwise function `name` on scalars, one per name,
    without automatic evaluation (SymPy never rewrites tanh(x) or abs(x) behind matcalc's back).
    The registry (functions.py) gives each elementwise record its class from here."""
    cls = SCALAR_FUNCTIONS.get(name)
    if cls is None:
        cls = SCALAR_FUNCTIONS[name] = type(name, (_ScalarPrintable, sp.Function),
                                            {"nargs": 1, "__module__": __name__})
    return cls


# ---- the bases of registered matrix functions -------------------------------------------------
NEEDS = {
    "any": lambda r, c: True,
    "square": lambda r, c: r == c,
    "column": lambda r, c: c == 1 and r != 1,
    "matrix": lambda r, c: c != 1,
    "1 x 1": lambda r, c: (r, c) == (1, 1),
}


def check_needs(name, needs, A):
    if not is_matrix(A):
        raise ShapeError(f"{name}() needs a matrix or vector, got a scalar")
    if not NEEDS[needs](*A.shape):
        what = {"column": "column vector (n x 1)", "matrix": "matrix with more than one column",
                "square": "square matrix"}.get(needs, needs + " matrix")
        raise ShapeError(f"{name}() needs a {what}, got {describe(shape_of(A))}")


class ScalarOfMatrix(_OneArgument, _Printable, sp.Expr):
    """A scalar computed from one matrix argument (sum, norm, logdet, ...): a subclass names
    the function (`notation`) and the shape its argument needs (`needs`)."""
    notation = None
    needs = "any"
    is_commutative = True
    is_number = False
    # an atom to SymPy's scalar rewriters: Pow's factor_terms of a compound exponent went on into
    # the matrix argument and rebuilt 3*b + v as a scalar sum, so p**sum(3*b + v) raised
    # TypeError 'Mix of Matrix and Scalar symbols' (fuzz seed 207); matcalc's own walks read args
    is_Atom = True

    def __new__(cls, A):
        check_needs(cls.notation, cls.needs, A)
        return canonical(sp.Expr.__new__(cls, A))


class MatrixOfMatrix(_OneArgument, _Printable, MatrixExpr):
    """A matrix computed from one matrix argument (softmax, row-wise logsumexp): a subclass
    gives `notation`, `needs` and `out_shape(rows, cols)`."""
    notation = None
    needs = "any"

    def __new__(cls, A):
        check_needs(cls.notation, cls.needs, A)
        return canonical(MatrixExpr.__new__(cls, A))

    @staticmethod
    def out_shape(rows, cols):
        return rows, cols

    @property
    def shape(self):
        return _memo_shape(self, lambda: self.out_shape(*self.args[0].shape))


class AsScalar(ScalarOfMatrix):
    """A 1 x 1 matrix read as the scalar it holds."""
    notation = "scalar"
    needs = "1 x 1"


# ---- matrix powers, vec and commutation -------------------------------------------------------
class MatrixPower(_ShapeOfFirst, _Printable, MatrixExpr):
    """matrix_power(X, k) = X @ X @ ... @ X, k >= 2 factors of a square X."""

    def __new__(cls, X, k):
        k = sp.Integer(k)
        if not is_matrix(X) or X.shape[0] != X.shape[1]:
            raise ShapeError(f"matrix_power() needs a square matrix, got {describe(shape_of(X))}")
        return canonical(MatrixExpr.__new__(cls, X, k))

    @property
    def base(self):
        return self.args[0]

    @property
    def exponent(self):
        return self.args[1]


class Vec(_OneArgument, _Printable, MatrixExpr):
    """vec(X): the columns of an n x m matrix X stacked into an n*m x 1 column (matcalc extension)."""

    def __new__(cls, X):
        if not is_matrix(X):
            raise ShapeError("vec() needs a matrix, got a scalar")
        return canonical(MatrixExpr.__new__(cls, X))

    @property
    def shape(self):
        return _memo_shape(self, lambda: (self.args[0].shape[0] * self.args[0].shape[1],
                                          sp.Integer(1)))


class Commutation(_Printable, MatrixExpr):
    """commutation(n, m): the nm x nm K with K @ vec(A) = vec(A.T) for A n x m (matcalc extension)."""

    def __new__(cls, n, m):
        return canonical(MatrixExpr.__new__(cls, sp.sympify(n), sp.sympify(m)))

    @property
    def dims(self):
        """(n, m): A is n x m in K@vec(A) = vec(A.T). (rows/cols are SymPy's: both n*m.)"""
        return self.args[0], self.args[1]

    @property
    def shape(self):
        return _memo_shape(self, lambda: (self.args[0] * self.args[1],) * 2)


# ---- named intermediates --------------------------------------------------------------------------
class Named(_ShapeOfFirst, _Printable, MatrixExpr):
    """h := X: the value of X under a name (a network's layer output). It is its own node, so
    the sums and products around it are not merged into it, and the walk gives it an adjoint
    (grad_h) of its own; d(h) = dX, and it evaluates and prints (in the notation) as X."""

    def __new__(cls, X, name):
        if not is_matrix(X):
            raise ShapeError(f"a named intermediate must be a matrix, got a scalar for {name}")
        return canonical(MatrixExpr.__new__(cls, X, Str(name) if isinstance(name, str) else name))

    @property
    def arg(self):
        return self.args[0]

    @property
    def name(self):
        return self.args[1].name


# ---- differentials and adjoints ---------------------------------------------------------------
class Differential(_ShapeOfFirst, _OneArgument, _Printable, MatrixExpr):
    """dX: the differential of the matrix expression X, with X's shape."""

    def __new__(cls, X):
        return canonical(MatrixExpr.__new__(cls, X))


class ScalarDifferential(_OneArgument, _Printable, sp.Expr):
    """ds: the differential of the scalar expression s."""
    is_commutative = True
    is_number = False

    def __new__(cls, s):
        return canonical(sp.Expr.__new__(cls, s))


class Adjoint(_ShapeOfFirst, _OneArgument, _Printable, MatrixExpr):
    """G_N: the adjoint of the matrix node N (dL = tr(G_N.T @ dN)), as a placeholder."""

    def __new__(cls, N):
        return canonical(MatrixExpr.__new__(cls, N))


class ScalarAdjoint(_OneArgument, _Printable, sp.Expr):
    """g_N: the adjoint of the scalar (or 1 x 1) node N (dL = g_N * dN), as a placeholder."""
    is_commutative = True
    is_number = False

    def __new__(cls, N):
        return canonical(sp.Expr.__new__(cls, N))


DIFFERENTIALS = (Differential, ScalarDifferential)
ADJOINTS = (Adjoint, ScalarAdjoint)
