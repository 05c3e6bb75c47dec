"""Smart constructors: the one place where matcalc expressions are built.

The parser, the builders, the differential and identification rules and the simplifier all
build through these functions, so every expression has one canonical form and
`parse(to_text(e)) == e` holds. Each constructor does O(number of its arguments) work and never
walks into its arguments (SymPy's `.doit()` and the `@` operator do, which makes deep
expressions quadratic); each checks shapes and raises a ShapeError naming both shapes.

Every rewrite here keeps the value for all real inputs where the original is defined. That is
a rule of this module, because the parser builds through it: a rewrite that changed the function
would change what the user typed before anything could check it.

Canonical forms:
* scalar coefficients sit at the front of a MatMul: `MatMul(2, X, A)`; Identity factors vanish;
  a run of equal square factors is one `MatrixPower`: `X @ X @ X -> matrix_power(X, 3)`;
* a transpose is pushed through products to the leaves, `(A @ B).T -> B.T @ A.T`, cancels
  `X.T.T -> X`, is the identity on 1 x 1 matrices (a scalar is its own transpose), and turns a
  concatenation over, `concat(A, B).T -> hconcat(A.T, B.T)`;
* a sum collects equal terms, `X + X -> 2*X`, and drops zeros; a scalar added to a matrix means
  `c * ones(n, m)`, and a 1 x m row added to an n x m matrix means `ones(n) @ row` (and so in
  `*` and `/`: `row * X` is `(ones(n) @ row) * X`);
* a Hadamard product pulls scalars out and merges powers of equal factors, `A * A -> A**2`;
* an elementwise power of a power, `(A**a)**b`, folds to `A**(a*b)` only for an integer b, or
  through the absolute value for an even a, `(A**2)**0.5 -> abs(A)`; a power of a product
  splits, `(A*B)**p -> A**p * B**p`, only for an integer p (or a positive coefficient):
  `(x**2)**0.5` is |x|, not x. An exponent may be a scalar expression (`x**a`, `x**(2*a)`) or
  a matrix of the base's shape (`a**x`, `X**Y`); the same folds hold for it (b integer), and
  no other: `(x**a)**b` stays as written, since it is not `x**(a*b)` for a negative x;
* a 1 x 1 matrix used as a scalar is wrapped in `AsScalar`.

Elementwise and matrix functions (exp, softmax, ...) are built by their records in functions.py,
which sits above this module.
"""
import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Identity, Inverse, MatAdd, MatMul, OneMatrix,
                   Trace, Transpose, ZeroMatrix)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from ..errors import MatcalcError, ShapeError
from . import dag
from .blocks import Concat, joined
from .intern import canonical
from .nodes import AsScalar, Elementwise, MatrixPower, scalar_function
from .shapes import describe, is_matrix, mismatch, row_broadcast, shape_of

MAX_EXACT_EXPONENT = 64      # a number raised to a larger power is computed as a float


def new(cls, *args):
    """cls(*args), hash-consed (core/intern.py): the one object for that structure."""
    return canonical(cls(*args))


def assembled(cls, *args):
    """A MatMul, MatAdd or HadamardProduct of arguments whose shapes this module has already
    checked: SymPy's constructor would check them again, at a cost linear in their number,
    for every node of a long chain."""
    return canonical(sp.Basic.__new__(cls, *args))


def matrix_symbol(name, rows, cols):
    """The matrix symbol `name` (rows x cols); one object per name and shape."""
    return new(sp.MatrixSymbol, name, rows, cols)


# ---- kinds --------------------------------------------------------------------------------------
def is_zero(e):
    if is_matrix(e):
        return isinstance(e, ZeroMatrix)
    return e == 0


def zero_like(e):
    return new(ZeroMatrix, *e.shape) if is_matrix(e) else sp.Integer(0)


def sym(x):
    """A SymPy object from a Python number or a SymPy object."""
    if isinstance(x, sp.Basic):
        return x
    if isinstance(x, bool):
        raise TypeError("booleans are not numbers here")
    if isinstance(x, int):
        return sp.Integer(x)
    if isinstance(x, float):
        return sp.Float(x)
    return sp.sympify(x, strict=True)


def scalar(e):
    """e as a scalar: a 1 x 1 matrix becomes AsScalar(e); a larger matrix is an error."""
    e = sym(e)
    if not is_matrix(e):
        return e
    if tuple(e.shape) != (1, 1):
        raise ShapeError(f"a scalar is needed here, got a {describe(shape_of(e))} matrix")
    if isinstance(e, MatMul):
        coeff, mats = split_coeff(e)
        if coeff != 1:
            return coeff * scalar(matmul(*mats))
    if isinstance(e, ZeroMatrix):
        return sp.Integer(0)
    if isinstance(e, OneMatrix):
        return sp.Integer(1)
    if isinstance(e, Identity):
        return sp.Integer(1)
    return new(AsScalar, e)


def as_scalar_if_1x1(e):
    return scalar(e) if is_matrix(e) and tuple(e.shape) == (1, 1) else e


def split_coeff(e):
    """(scalar coefficient, [matrix factors]) of a matrix expression."""
    if isinstance(e, MatMul):
        coeff = sp.Integer(1)
        mats = []
        for a in e.args:
            if is_matrix(a):
                mats.append(a)
            else:
                coeff = coeff * a
        return coeff, mats
    return sp.Integer(1), [e]


def free_variables(e):
    """name -> symbol for the MatrixSymbols and scalar Symbols of e (dimensions excluded)."""
    out = {}
    for s in dag.postorder(e):
        if isinstance(s, sp.MatrixSymbol) or (isinstance(s, sp.Symbol) and not s.is_integer):
            out[s.name] = s
    return out


def product_of(mats):
    """One matrix from a list of factors (no coefficient)."""
    return mats[0] if len(mats) == 1 else new(MatMul, *mats)


# ---- products -----------------------------------------------------------------------------------
def _power_parts(m):
    """(base, k) of a factor: matrix_power(X, k) -> (X, k), X -> (X, 1)."""
    if isinstance(m, MatrixPower):
        return m.base, int(m.exponent)
    return m, 1


def matrix_power(X, k):
    """X @ X @ ... @ X (k factors) of a square X; k a non-negative integer."""
    X = sym(X)
    if isinstance(k, sp.Basic):
        if not k.is_Integer:
            raise ShapeError("the power of matrix_power() must be a non-negative integer")
        k = int(k)
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ShapeError("the power of matrix_power() must be a non-negative integer")
    if not is_matrix(X) or X.shape[0] != X.shape[1]:
        raise ShapeError(f"matrix_power() needs a square matrix, got {describe(shape_of(X))}")
    if tuple(X.shape) == (1, 1):
        return hpow(X, k)
    if k == 0 or isinstance(X, Identity):
        return new(Identity, X.shape[0])
    if k == 1 or isinstance(X, ZeroMatrix):
        return X
    coeff, mats = split_coeff(X)
    if coeff != 1:
        return scale(coeff ** k, matrix_power(product_of(mats), k))
    base, j = _power_parts(X)
    return new(MatrixPower, base, j * k)


def _merge_powers(mats):
    """Adjacent equal square factors as one power: X @ X -> matrix_power(X, 2)."""
    out = []
    for m in mats:
        if out:
            b1, k1 = _power_parts(out[-1])
            b2, k2 = _power_parts(m)
            if b1 == b2 and b1.shape[0] == b1.shape[1] and tuple(b1.shape) != (1, 1):
                out[-1] = new(MatrixPower, b1, k1 + k2)
                continue
        out.append(m)
    return out


def matmul(*factors):
    """A @ B @ ...; scalar factors are coefficients. Shapes must chain."""
    coeff = sp.Integer(1)
    mats = []
    for f in factors:
        f = sym(f)
        if not is_matrix(f):
            coeff = coeff * f
            continue
        c, ms = split_coeff(f)
        coeff = coeff * c
        for m in ms:
            if mats and mats[-1].shape[1] != m.shape[0]:
                raise ShapeError(f"shape mismatch in @: {describe(shape_of(mats[-1]))} @ "
                                 f"{describe(shape_of(m))}")
            mats.append(m)
    if not mats:
        return coeff
    rows, cols = mats[0].shape[0], mats[-1].shape[1]
    if coeff == 0 or any(isinstance(m, ZeroMatrix) for m in mats):
        return new(ZeroMatrix, rows, cols)
    kept = []
    for m in mats:
        if isinstance(m, Identity):
            continue
        if kept and isinstance(m, OneMatrix) and isinstance(kept[-1], OneMatrix):
            coeff = coeff * m.shape[0]       # ones(a, k) @ ones(k, b) = k * ones(a, b)
            kept[-1] = new(OneMatrix, kept[-1].shape[0], m.shape[1])
            continue
        kept.append(m)
    kept = _merge_powers(kept)
    if not kept:
        kept = [new(Identity, rows)]
    if coeff == 1 and len(kept) == 1:
        return kept[0]
    if coeff == 1:
        return assembled(MatMul, *kept)
    return assembled(MatMul, coeff, *kept)


def scale(c, M):
    """c * M for a scalar c (and a scalar or matrix M)."""
    c = sym(c)
    if is_matrix(c):
        c = scalar(c)
    M = sym(M)
    if not is_matrix(M):
        return c * M
    return matmul(c, M)


def neg(e):
    return scale(-1, e)


def divide(a, b):
    """a / b: by a scalar, or elementwise between equal shapes (or a row and n x m rows)."""
    a, b = sym(a), sym(b)
    a, b = as_scalar_if_1x1(a), as_scalar_if_1x1(b)
    if not is_matrix(b):
        if b == 0:
            raise ShapeError("division by the constant 0")
        return scale(power(b, -1), a)
    if not is_matrix(a):
        return scale(a, hpow(b, -1))
    return hadamard(a, hpow(b, -1))


# ---- sums ---------------------------------------------------------------------------------------
def _broadcast(term, shape):
    """A scalar or 1 x m row widened to `shape` as the notation says."""
    if not is_matrix(term):
        return scale(term, new(OneMatrix, *shape))
    if tuple(term.shape) == tuple(shape):
        return term
    if term.shape[0] == 1 and term.shape[1] == shape[1]:
        return matmul(new(OneMatrix, shape[0], 1), term)
    raise AssertionError("caller checked the shapes")


def add(*terms, op="+"):
    """a + b + ...: equal shapes, a scalar with anything, or a 1 x m row onto n x m rows."""
    terms = [sym(t) for t in terms]
    mats = [t for t in terms if is_matrix(t)]
    if not mats:
        return sp.Add(*terms)
    big = [t for t in mats if tuple(t.shape) != (1, 1)]
    if not big:          # 1 x 1 matrices next to scalars are scalars
        return sp.Add(*[scalar(t) for t in terms])
    full = [t for t in big if t.shape[0] != 1] or big
    target = full[0]
    shape = tuple(target.shape)
    for t in big:
        if tuple(t.shape) != shape and not row_broadcast(t, target):
            raise mismatch(op, target, t)
    terms = [scalar(t) if is_matrix(t) and tuple(t.shape) == (1, 1) else t for t in terms]
    scalars = [t for t in terms if not is_matrix(t)]
    widened = [t for t in terms if is_matrix(t)]
    if scalars:
        s = sp.Add(*scalars)
        if s != 0:
            widened.append(scale(s, new(OneMatrix, *shape)))
    widened = [_broadcast(t, shape) for t in widened]
    return _collect(widened, shape)


def _collect(terms, shape):
    """Flatten, drop zeros and merge equal terms: X + 2*X -> 3*X (first-seen order)."""
    coeffs = {}
    for t in terms:
        parts = t.args if isinstance(t, MatAdd) else (t,)
        for p in parts:
            if isinstance(p, ZeroMatrix):
                continue
            c, ms = split_coeff(p)
            key = product_of(ms)
            coeffs[key] = coeffs.get(key, sp.Integer(0)) + c
    kept = [matmul(c, key) for key, c in coeffs.items() if c != 0]
    kept = _canonical_order(kept, shape)
    if not kept:
        return new(ZeroMatrix, *shape)
    if len(kept) == 1:
        return kept[0]
    return assembled(MatAdd, *kept)


def is_negative_term(t):
    c, _ = split_coeff(t)
    return c.could_extract_minus_sign()


def is_broadcast_scalar(t, shape=None):
    """c * ones(n, m): a scalar added to every entry."""
    c, ms = split_coeff(t)
    return len(ms) == 1 and isinstance(ms[0], OneMatrix) and (
        shape is None or tuple(ms[0].shape) == tuple(shape))


def _canonical_order(terms, shape):
    """Broadcast scalars first, then positive terms, then negative ones (each in first-seen
    order), so that `1 - s` and `A - B` print the way they are written and re-parse unchanged."""
    first = [t for t in terms if is_broadcast_scalar(t, shape) and not is_negative_term(t)]
    pos = [t for t in terms if not is_negative_term(t) and not is_broadcast_scalar(t, shape)]
    negs = [t for t in terms if is_negative_term(t)]
    return first + pos + negs


def sub(a, b):
    return add(a, neg(b), op="-")


# ---- transpose ----------------------------------------------------------------------------------
def transpose(e):
    """e.T, pushed through products to the leaves; the identity on scalars and 1 x 1 matrices."""
    e = sym(e)
    if not is_matrix(e) or tuple(e.shape) == (1, 1):
        return e
    if isinstance(e, Transpose):
        return e.arg
    if isinstance(e, (Identity, DiagMatrix)):
        return e
    if isinstance(e, ZeroMatrix):
        return new(ZeroMatrix, e.shape[1], e.shape[0])
    if isinstance(e, OneMatrix):
        return new(OneMatrix, e.shape[1], e.shape[0])
    if isinstance(e, MatMul):
        coeff, mats = split_coeff(e)
        return matmul(coeff, *[transpose(m) for m in reversed(mats)])
    if isinstance(e, MatrixPower):
        return new(MatrixPower, transpose(e.base), e.exponent)
    if isinstance(e, Concat):          # concat(A, B).T = hconcat(A.T, B.T), and back
        return joined(1 - e.axis, *[transpose(b) for b in e.blocks])
    return new(Transpose, e)


# ---- elementwise --------------------------------------------------------------------------------
def _check_same(op, a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise mismatch(op, a, b)


def _rows_widened(factors):
    """The factors of a Hadamard product, a 1 x m row among n x m factors widened to
    ones(n) @ row (the broadcasting rule of sums, for * and / too)."""
    full = [f for f in factors if is_matrix(f) and f.shape[0] != 1]
    if not full:
        return factors
    shape = tuple(full[0].shape)
    return [_broadcast(f, shape) if is_matrix(f) and tuple(f.shape) != (1, 1)
            and row_broadcast(f, full[0]) else f for f in factors]


def hadamard(*factors):
    """A * B * ...: elementwise between equal shapes; scalar factors scale; a 1 x m row
    times n x m factors is ones(n) @ row times them."""
    coeff = sp.Integer(1)
    powers = {}
    shape = None
    first = None
    for f in _rows_widened([sym(f) for f in factors]):
        if is_matrix(f) and tuple(f.shape) == (1, 1):
            f = scalar(f)
        if not is_matrix(f):
            coeff = coeff * f
            continue
        if shape is None:
            shape, first = tuple(f.shape), f
        else:
            _check_same("*", first, f)
        c, ms = split_coeff(f)
        if c != 1:
            coeff = coeff * c
        m = product_of(ms)
        parts = m.args if isinstance(m, HadamardProduct) else (m,)
        for p in parts:                   # exponents stay Python ints in the common case
            if isinstance(p, OneMatrix):
                continue
            scalar_power = isinstance(p, HadamardPower) and not is_matrix(p.args[1])
            base, exp = (p.args[0], p.args[1]) if scalar_power else (p, 1)
            powers[base] = powers.get(base, 0) + exp    # A**a * A = A**(a + 1), a symbolic too
    if shape is None:
        return coeff
    if coeff == 0 or any(isinstance(b, ZeroMatrix) and _side(e) > 0 for b, e in powers.items()):
        return new(ZeroMatrix, *shape)
    kept = [b if e == 1 else new(HadamardPower, b, e) for b, e in powers.items()
            if _side(e) > 0] + \
        [new(HadamardPower, b, e) for b, e in powers.items() if _side(e) < 0]
    if not kept:
        body = new(OneMatrix, *shape)
    elif len(kept) == 1:
        body = kept[0]
    else:
        body = assembled(HadamardProduct, *kept)
    return scale(coeff, body)


def negative_number(x):
    """Whether x is a number known to be negative: False for symbols, matrices and numbers
    SymPy cannot order (tanh(1) of the notation's own tanh), which print and merge as symbolic
    exponents do."""
    return bool(getattr(x, "is_number", False)) and x.is_negative is True


def _side(e):
    """Where a merged exponent goes: 1 the numerator (positive or symbolic), -1 the
    denominator (a negative number), 0 nowhere (zero: the factor is 1)."""
    if type(e) is int:                  # the common case, kept cheap
        return (e > 0) - (e < 0)
    e = sym(e)
    if e == 0:
        return 0
    return -1 if negative_number(e) else 1


def power(a, p):
    """a ** p for scalars; a number to a large power is computed as a float."""
    a, p = sym(a), whole(sym(p))
    literal = a.is_Number and p.is_Number        # two numbers (is_number would walk the tree)
    if literal and abs(float(p)) > MAX_EXACT_EXPONENT and abs(a) != 1 and a != 0:
        try:
            return sp.Float(float(a) ** float(p))
        except (OverflowError, ZeroDivisionError):
            raise MatcalcError(f"the number {a}**{p} is too large") from None
    if isinstance(a, sp.Pow) and _even(a.exp) and not p.is_Integer:      # p a number or symbolic
        a, p = canonical(scalar_function("abs")(a.base)), whole(a.exp * p)   # (a**2)**p = |a|**(2p)
        if p == 1:
            return a
    value = a ** p
    if value.has(sp.I, sp.zoo, sp.nan) or (literal and value.is_extended_real is False):
        raise MatcalcError(f"({a})**({p}) is not a real number")
    return value


def whole(p):
    """2.0 -> 2: a float exponent that is a whole number is that integer (the same power)."""
    if p.is_Float and float(p).is_integer() and abs(float(p)) < 2 ** 53:
        return sp.Integer(int(p))
    return p


def _even(a):
    return a.is_Integer and int(a) % 2 == 0 and a != 0


def hpow(A, p):
    """A ** p, elementwise. p is a number, a scalar expression (`x**a` for a scalar symbol a:
    every entry to the power a), or a matrix of A's shape (`X**Y` entry by entry; `a**x`, a
    scalar to the power of every entry of x). Where the exponent varies, its derivative has
    log(A), so the base must be positive there (docs/notation.md)."""
    A, p = as_scalar_if_1x1(sym(A)), as_scalar_if_1x1(whole(sym(p)))
    if is_matrix(p):
        return _matrix_exponent(A, p)
    if not is_matrix(A):
        return power(A, p)
    if p == 1:
        return A
    if p == 0:
        return new(OneMatrix, *A.shape)
    if isinstance(A, OneMatrix):
        return A
    integer = p.is_Integer or (p.is_Float and float(p).is_integer())
    if isinstance(A, HadamardPower) and integer:
        return hpow(A.args[0], scale(p, A.args[1]))    # (A**a)**k = A**(a*k) for integer k
    if isinstance(A, HadamardPower) and _even(A.args[1]):
        return hpow(new(Elementwise, "abs", A.args[0]), whole(A.args[1] * p))  # (A**2)**p = |A|**(2p)
    c, ms = split_coeff(A)
    if c != 1 and (integer or c.is_positive):
        return scale(power(c, p), hpow(product_of(ms), p))
    if isinstance(A, HadamardProduct) and integer:
        return hadamard(*[hpow(f, p) for f in A.args])  # (A*B)**k = A**k * B**k
    return new(HadamardPower, A, p)


def _matrix_exponent(A, P):
    """A ** P for a matrix P: A a scalar (every entry of P an exponent of it) or a matrix of
    P's shape."""
    if is_matrix(A):
        _check_same("**", A, P)
    if isinstance(P, ZeroMatrix) or A == 1 or isinstance(A, OneMatrix):
        return new(OneMatrix, *P.shape)                 # A**0 = 1, 1**P = 1
    return new(HadamardPower, A, P)


# ---- functions of matrices ----------------------------------------------------------------------
def square(name, A):
    if not is_matrix(A) or A.shape[0] != A.shape[1]:
        raise ShapeError(f"{name}() needs a square matrix, got {describe(shape_of(A))}")


def trace(A):
    A = sym(A)
    if not is_matrix(A):
        raise ShapeError("tr() needs a square matrix, got a scalar")
    square("tr", A)
    if isinstance(A, ZeroMatrix):
        return sp.Integer(0)
    if isinstance(A, Identity):
        return A.shape[0]
    if isinstance(A, OneMatrix):
        return A.shape[0]
    c, ms = split_coeff(A)
    if c != 1:
        return c * trace(matmul(*ms))
    if tuple(A.shape) == (1, 1):
        return scalar(A)
    return new(Trace, A)


def inv(A):
    A = sym(A)
    if not is_matrix(A):
        return power(A, -1)
    square("inv", A)
    if tuple(A.shape) == (1, 1):
        return power(scalar(A), -1)
    if isinstance(A, Inverse):
        return A.arg
    if isinstance(A, Identity):
        return A
    c, ms = split_coeff(A)
    if c != 1:
        return scale(power(c, -1), inv(product_of(ms)))
    return new(Inverse, A)


def diag(A):
    """diag(v): vector to diagonal matrix; diag(A): square matrix to the vector of its diagonal."""
    A = sym(A)
    if not is_matrix(A):
        raise ShapeError("diag() needs a vector or a square matrix, got a scalar")
    if A.shape[1] == 1:
        if isinstance(A, OneMatrix):
            return new(Identity, A.shape[0])
        if isinstance(A, ZeroMatrix):
            return new(ZeroMatrix, A.shape[0], A.shape[0])
        c, ms = split_coeff(A)
        if c != 1:
            return scale(c, diag(product_of(ms)))
        return new(DiagMatrix, A)
    square("diag", A)
    if isinstance(A, DiagMatrix):
        return A.args[0]
    if isinstance(A, Identity):
        return new(OneMatrix, A.shape[0], 1)
    if isinstance(A, ZeroMatrix):
        return new(ZeroMatrix, A.shape[0], 1)
    c, ms = split_coeff(A)
    if c != 1:
        return scale(c, diag(product_of(ms)))
    return new(DiagonalOf, A)


def eye(n):
    return new(Identity, n)


def ones(n, m=1):
    return new(OneMatrix, n, m)


def entry_sum(A):
    """sum(A) for the shapes it simplifies: a scalar, zeros and ones (else None)."""
    if not is_matrix(A):
        return A
    if isinstance(A, ZeroMatrix):
        return sp.Integer(0)
    if isinstance(A, OneMatrix):
        return A.shape[0] * A.shape[1]
    return None

