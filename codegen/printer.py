"""NumpyPrinter: a matcalc expression as one NumPy expression, the way a person writes it.

A subclass of matcalc's precedence-based `TextPrinter`: every method returns (text, precedence)
and an operand is parenthesised when its precedence is too low for its place. It prints `@`,
`*`, `.T` and `np.maximum`, never nested `np.multiply`, and it never materialises a ones,
identity or diagonal matrix that only structures a product:

    c*ones(n, m) in a sum         ->  c                        (NumPy broadcasting)
    ones(n) @ b.T in a sum        ->  b.T
    G.T @ ones(N)                 ->  G.sum(axis=0, keepdims=True).T
    A @ ones(m)                   ->  A.sum(axis=1, keepdims=True)
    diag(v) @ A,  A @ diag(v)     ->  v * A,  A * v.T
    tr(A @ B.T)                   ->  np.sum(A * B)
    step(Z) inside a product      ->  (Z > 0)                  (a mask, for relu')
    A ** 2 of a name              ->  A * A

Such a value may be *partial*: a scalar, a column or a row that NumPy broadcasts to the
expression's shape. `is_full` tells, from the expression alone, whether the printed value has
the full shape; wherever the full shape matters (an operand of `@`, a sum of entries, a value
that is stored) the printer wraps it in `np.broadcast_to`.

Naming is not decided here: the printer asks `lookup(e)` (schedule.py) for a name before it
prints any subexpression, and `temporary(text, wish)` for a helper statement (the running max
of a log-sum-exp). The printer itself emits no statements and knows no names but the dimension
names it is given.
"""
import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Identity, MatAdd, MatMul,
                   MatrixSymbol, OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.diagonal import DiagMatrix

from matcalc import ops
from matcalc.nodes import (Elementwise)
from matcalc.text import ADD, ATOM, MUL, NEG, POW, TextPrinter

CMP = 5          # `a > 0`: below every arithmetic operator

ELEMENTWISE = {
    "exp": "np.exp({})", "log": "np.log({})", "sin": "np.sin({})", "cos": "np.cos({})",
    "tanh": "np.tanh({})", "sqrt": "np.sqrt({})", "abs": "np.abs({})", "sign": "np.sign({})",
    "relu": "np.maximum({}, 0.0)", "softplus": "np.logaddexp(0.0, {})",
    "step": "np.where({} > 0, 1.0, 0.0)",
}


def float_text(x):
    """A SymPy number as a float literal: 2 -> '2.0', 1/2 -> '0.5'."""
    return repr(float(x))


class NumpyPrinter(TextPrinter):
    """Prints one expression as NumPy; names come from `lookup`, dimension sizes from `dims`."""

    def __init__(self, lookup=None, temporary=None, dims=None):
        self.lookup = lookup or (lambda e: None)
        self.temporary = temporary
        self.dims = dims if dims is not None else {}
        self.used_dims = []
        self.full_memo = {}

    # -- dispatch: a named value is an atom -------------------------------------------------------
    def p(self, e):
        if isinstance(e, sp.Basic) and not isinstance(e, sp.Number):
            name = self.lookup(e)
            if name is not None:
                return name, ATOM
        return super().p(e)

    def text(self, e):
        return self.p(e)[0]

    def atom(self, e):
        """The text of e as an operand of a postfix (`.T`, `[0, 0]`, `.sum(...)`)."""
        return self.wrap(e, ATOM)

    def dim(self, d):
        if d.is_Integer:
            return str(int(d))
        name = self.dims[d]
        if d not in self.used_dims:
            self.used_dims.append(d)
        return name

    def shape_text(self, shape):
        return "(" + ", ".join(self.dim(sp.sympify(d)) for d in shape) + ")"

    # -- full and partial values ------------------------------------------------------------------
    def is_full(self, e):
        """Whether e prints as an array of e's own shape (not a value NumPy broadcasts to it)."""
        if not ops.is_matrix(e):
            return True
        hit = self.full_memo.get(e)
        if hit is None:
            hit = self._is_full(e)
            self.full_memo[e] = hit
        return hit

    def _is_full(self, e):
        if self.lookup(e) is not None or isinstance(e, (MatrixSymbol, Identity)):
            return True
        if isinstance(e, (OneMatrix, ZeroMatrix)):
            return False
        if isinstance(e, MatMul):
            coeff, mats = ops.split_coeff(e)
            mats, _ = merge_ones(mats)
            i = next((k for k, m in enumerate(mats) if isinstance(m, OneMatrix)), None)
            if i is None:
                return True
            a, b = mats[i].shape
            left, right = bool(mats[:i]), bool(mats[i + 1:])
            return (left and right) or (left and b == 1) or (right and a == 1)
        if isinstance(e, MatAdd):
            return any(self.is_full(t) for t in e.args)
        if isinstance(e, HadamardProduct):
            return any(self.is_full(t) for t in e.args)
        if isinstance(e, (HadamardPower, Elementwise)):
            return self.is_full(e.args[0] if isinstance(e, HadamardPower) else e.arg)
        return True

    def full(self, e):
        """The text of e with e's full shape, wrapped in np.broadcast_to when it is partial."""
        text, prec = self.p(e)
        if self.is_full(e):
            return text, prec
        return f"np.broadcast_to({text}, {self.shape_text(e.shape)})", ATOM

    def full_wrap(self, e, min_prec, strict=False):
        text, prec = self.full(e)
        if prec < min_prec or (strict and prec == min_prec):
            return self.parens(text)
        return text

    # -- leaves -----------------------------------------------------------------------------------
    def _Symbol(self, e):
        if e.is_integer:                      # a dimension used as a number, e.g. tr(eye(n))
            return self.dim(e), ATOM
        return e.name, ATOM

    def _Number(self, e):
        text = float_text(e)
        return text, (NEG if text.startswith("-") else ATOM)

    def _Identity(self, e):
        return f"np.eye({self.dim(e.shape[0])})", ATOM

    def _OneMatrix(self, e):
        return "1.0", ATOM

    def _ZeroMatrix(self, e):
        return "0.0", ATOM

    def exponent_text(self, x):
        if x.is_Integer:
            return str(int(x)) if x >= 0 else f"({int(x)})"
        return float_text(x) if x >= 0 else f"({float_text(x)})"

    # -- functions --------------------------------------------------------------------------------
    def function(self, name, arg):
        if name == "sigmoid":                 # the overflow-free form of 1 / (1 + exp(-x))
            return f"0.5 * (1.0 + np.tanh(0.5 * {self.wrap(arg, MUL, strict=True)}))", MUL
        return ELEMENTWISE[name].format(self.text(arg)), ATOM

    def mask(self, e):
        """step(Z) as a boolean mask, for a factor of a product: (Z > 0)."""
        return f"({self.wrap(e.arg, ADD)} > 0)", ATOM

    def _AsScalar(self, e):
        return f"{self.full_wrap(e.arg, ATOM)}[0, 0]", ATOM

    def _Transpose(self, e):
        return f"{self.full_wrap(e.arg, ATOM)}.T", ATOM

    def _Inverse(self, e):
        return f"np.linalg.inv({self.full(e.arg)[0]})", ATOM

    # -- vec, Kronecker products, commutation matrices (Jacobians of matrix functions) --
    def _KroneckerProduct(self, e):
        """kron(A, B) -> np.kron(A, B), nested to the left for more factors."""
        text = self.full(e.args[0])[0]
        for factor in e.args[1:]:
            text = f"np.kron({text}, {self.full(factor)[0]})"
        return text, ATOM

    def _Vec(self, e):
        """vec(X): the columns stacked, X.reshape(-1, 1, order="F")."""
        return f'{self.full_wrap(e.arg, ATOM)}.reshape(-1, 1, order="F")', ATOM

    def _Commutation(self, e):
        """K(n, m) vec(A) = vec(A.T): row j + m*i of K is the unit row of entry i + n*j."""
        n, m = (self.dim(d) for d in e.dims)
        return (f'np.eye({n} * {m})[np.arange({n} * {m}).reshape({n}, {m}, order="F").ravel()]',
                ATOM)

    def _Determinant(self, e):
        return f"np.linalg.det({self.full(e.arg)[0]})", ATOM

    def _LogDet(self, e):
        return f"np.linalg.slogdet({self.full(e.arg)[0]})[1]", ATOM

    def _EntrySum(self, e):
        return f"np.sum({self.full(e.arg)[0]})", ATOM

    def _Norm(self, e):
        return f"np.linalg.norm({self.full(e.arg)[0]})", ATOM

    def _DiagonalOf(self, e):
        return f"np.diagonal({self.full(e.args[0])[0]})[:, None]", ATOM

    def _DiagMatrix(self, e):
        return f"np.diagflat({self.full(e.args[0])[0]})", ATOM

    def _Trace(self, e):
        """tr(A @ B) = sum(A * B.T): O(n^2) instead of forming the product."""
        coeff, mats = ops.split_coeff(e.arg)
        plain = not any(isinstance(m, (OneMatrix, DiagMatrix, Identity)) for m in mats)
        if len(mats) == 2 and plain:
            A, B = mats
            if isinstance(B, Transpose):
                body = f"np.sum({self.full_wrap(A, MUL)} * {self.full_wrap(B.arg, MUL, True)})"
            elif isinstance(A, Transpose):
                body = f"np.sum({self.full_wrap(A.arg, MUL)} * {self.full_wrap(B, MUL, True)})"
            else:
                body = f"np.sum({self.full_wrap(A, MUL)} * {self.full_wrap(B, ATOM)}.T)"
            return self.scaled(coeff, body, ATOM)
        return f"np.trace({self.full(e.arg)[0]})", ATOM

    def named_operand(self, e, wish):
        """The text of e as a plain name, hoisting it into a helper statement if needed."""
        text, prec = self.full(e)
        if prec == ATOM and text.isidentifier():
            return text
        return self.temporary(text, wish)

    def _Softmax(self, e):
        Z = self.named_operand(e.arg, "z")
        if e.rowwise:
            E = self.temporary(f"np.exp({Z} - np.max({Z}, axis=1, keepdims=True))", f"exp_{Z}")
            return f"{E} / np.sum({E}, axis=1, keepdims=True)", MUL
        E = self.temporary(f"np.exp({Z} - np.max({Z}))", f"exp_{Z}")
        return f"{E} / np.sum({E})", MUL

    def _RowLogSumExp(self, e):
        Z = self.named_operand(e.arg, "z")
        m = self.temporary(f"np.max({Z}, axis=1, keepdims=True)", f"max_{Z}")
        return f"{m} + np.log(np.sum(np.exp({Z} - {m}), axis=1, keepdims=True))", ADD

    def _LogSumExp(self, e):
        z = self.named_operand(e.arg, "z")
        m = self.temporary(f"np.max({z})", f"max_{z}")
        return f"{m} + np.log(np.sum(np.exp({z} - {m})))", ADD

    # -- products ---------------------------------------------------------------------------------
    def scaled(self, coeff, body, body_prec):
        """coeff * body: `-body`, `2.0 * body`, `body / n`."""
        coeff = sp.sympify(coeff)
        if coeff == 1:
            return body, body_prec
        if coeff == -1:
            return f"-{body if body_prec > NEG else self.parens(body)}", NEG
        operand = body if body_prec > MUL else self.parens(body)
        c_text, c_prec = self.p(coeff)
        if c_prec < MUL:
            c_text = self.parens(c_text)
        return f"{c_text} * {operand}", MUL

    def _MatMul(self, e):
        coeff, mats = ops.split_coeff(e)
        mats, k = merge_ones(mats)
        coeff = coeff * k
        body, prec = self.product(mats)
        return self.scaled(coeff, body, prec)

    def product(self, mats):
        """The matrix product of `mats` (no coefficient), without materialising ones or diag."""
        if len(mats) == 1:
            return self.p(mats[0])
        i = next((k for k, m in enumerate(mats) if isinstance(m, OneMatrix)), None)
        if i is not None:            # L @ ones(a, b) @ R = (L @ ones(a)) @ (ones(b).T @ R)
            u = self.row_totals(mats[:i]) if mats[:i] else None
            v = self.column_totals(mats[i + 1:]) if mats[i + 1:] else None
            if u and v:
                return f"{u} * {v}", MUL
            return (u or v), ATOM
        i = next((k for k, m in enumerate(mats) if isinstance(m, DiagMatrix)), None)
        if i is not None:
            v = self.full_wrap(mats[i].args[0], ATOM)
            if i == 0:                # diag(v) @ R = v * R  (scales the rows)
                rest, _ = self.product(mats[1:])
                return f"{v} * {self.parens(rest) if ' ' in rest else rest}", MUL
            left, _ = self.product(mats[:i])
            scaled = f"{self.parens(left) if ' ' in left else left} * {v}.T"
            if i == len(mats) - 1:    # L @ diag(v) = L * v.T  (scales the columns)
                return scaled, MUL
            right, _ = self.product(mats[i + 1:])
            return f"({scaled}) @ {self.parens(right) if ' ' in right else right}", MUL
        return self.chain(mats), MUL

    def chain(self, mats):
        """A @ B @ C, associated so that a trailing column vector is multiplied first."""
        operands = [self.full_wrap(m, MUL, strict=True) for m in mats]
        if len(mats) > 2 and mats[-1].shape[1] == 1 and mats[0].shape[0] != 1:
            text = operands[-1]
            for op in reversed(operands[:-1]):
                text = f"{op} @ {text if ' ' not in text else self.parens(text)}"
            return text
        return " @ ".join(operands)

    def row_totals(self, mats):
        """(M) @ ones(m): the column of row sums of the product M."""
        if len(mats) == 1 and isinstance(mats[0], Transpose):
            return f"{self.full_wrap(mats[0].arg, ATOM)}.sum(axis=0, keepdims=True).T"
        body, prec = self.product(mats)
        body = body if prec == ATOM and self.is_full(ops.matmul(*mats)) else self.parens(body)
        return f"{body}.sum(axis=1, keepdims=True)"

    def column_totals(self, mats):
        """ones(n).T @ (M): the row of column sums of the product M."""
        if len(mats) == 1 and isinstance(mats[0], Transpose):
            return f"{self.full_wrap(mats[0].arg, ATOM)}.sum(axis=1, keepdims=True).T"
        body, prec = self.product(mats)
        body = body if prec == ATOM else self.parens(body)
        return f"{body}.sum(axis=0, keepdims=True)"

    def _HadamardProduct(self, e):
        parts = []
        for i, f in enumerate(e.args):
            if isinstance(f, HadamardPower) and f.args[1].is_number and f.args[1] < 0:
                t = self.wrap(ops.hpow(f.args[0], -f.args[1]), MUL, strict=True)
                parts.append(("1.0 / " if i == 0 else " / ") + t)
                continue
            if isinstance(f, Elementwise) and f.name == "step" and self.lookup(f) is None:
                t = self.mask(f)[0]
            else:
                t = self.wrap(f, MUL, strict=i > 0)
            parts.append((" * " if i else "") + t)
        return "".join(parts), MUL

    def _HadamardPower(self, e):
        base, exp = e.args
        if exp == -1:
            return f"1.0 / {self.wrap(base, MUL, strict=True)}", MUL
        if exp.is_number and exp < 0:
            return f"1.0 / {self.wrap(base, POW, strict=True)} ** {self.exponent_text(-exp)}", MUL
        if exp == sp.S.Half:
            return f"np.sqrt({self.text(base)})", ATOM
        text, prec = self.p(base)
        if exp == 2 and prec == ATOM:
            return f"{text} * {text}", MUL
        return f"{text if prec > POW else self.parens(text)} ** {self.exponent_text(exp)}", POW

    # -- sums and scalar products -----------------------------------------------------------------
    def _Mul(self, e):
        coeff, rest = e.as_coeff_Mul()
        num, den = [], []
        for f in sp.Mul.make_args(rest):
            if isinstance(f, sp.Pow) and f.exp.is_number and f.exp < 0:
                den.append(f.base ** -f.exp)
            else:
                num.append(f)
        text = " * ".join(self.wrap(f, MUL, strict=i > 0) for i, f in enumerate(num)) if num else "1.0"
        prec = MUL if len(num) > 1 or den else (self.p(num[0])[1] if num else ATOM)
        for d in den:
            text = f"{text} / {self.wrap(d, MUL, strict=True)}"
            prec = MUL
        return self.scaled(coeff, text, prec)

    def _Pow(self, e):
        base, exp = e.args
        if exp == sp.S.Half:
            return f"np.sqrt({self.text(base)})", ATOM
        if exp.is_number and exp < 0:
            return self._Mul(sp.Mul(1, e, evaluate=False))
        return f"{self.wrap(base, POW, strict=True)} ** {self.exponent_text(exp)}", POW


def merge_ones(mats):
    """ones(a, k) @ ones(k, b) = k * ones(a, b): (factors, k) with every run of ones merged."""
    out, k = [], sp.Integer(1)
    for m in mats:
        if isinstance(m, OneMatrix) and out and isinstance(out[-1], OneMatrix):
            k = k * m.shape[0]
            out[-1] = OneMatrix(out[-1].shape[0], m.shape[1])
        else:
            out.append(m)
    return out, k
