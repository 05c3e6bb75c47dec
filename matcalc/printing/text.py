"""to_text: any matcalc expression printed in the notation, so that parse(to_text(e)) == e.

Beyond what Python's precedence needs, `@` and `*` are never mixed unparenthesised
(`(A @ B) * C`), as NOTATION.md's own examples write them. Differentials print as `dX` /
`d(X @ A)` and adjoint placeholders by their names (`grad_h`); they appear only in derivation
steps, never in results. A matrix power of up to three factors prints as the product
(`X@X@X`), longer ones as `matrix_power(X, k)`.

The machinery (dispatch, precedence, no recursion, the size bound) is base.Printer's; this
module only spells. LaTeX (latex.py) and NumPy (codegen) printers subclass this one.
"""
import sympy as sp
from sympy import HadamardPower, HadamardProduct, Identity, OneMatrix, ZeroMatrix
from sympy.matrices.expressions.kronecker import KroneckerProduct

from ..core import ops
from ..core.blocks import Concat
from ..core.nodes import AsScalar, MatrixPower, Named
from .base import ADD, ATOM, MUL, NEG, POW, Printer, signed_fraction

# matrix powers up to this print as products: the shared notation (and every reader of it, the
# corpus's evaluator among them) has no matrix_power, so a power the user typed as a product
# comes back as one; only longer ones are matrix_power(X, k)
EXPANDED_POWER = 16


def dimension_factors(d):
    """A size as its factors: n*m -> [n, m], n**2 -> [n, n], n -> [n]."""
    out = []
    for f in sp.Mul.make_args(d):
        if isinstance(f, sp.Pow) and f.exp.is_Integer and f.exp > 0:
            out += [f.base] * int(f.exp)
        else:
            out.append(f)
    return out


def is_product_size(d):
    return len(dimension_factors(d)) > 1


def split_sum(d):
    """A size that is a sum (the m + n rows of concat(A, B)) as (its first term, the rest);
    None for any other size."""
    if not isinstance(d, sp.Add):
        return None
    first, *rest = d.as_ordered_terms()
    return first, sp.Add(*rest)


def product_dims(rows, cols):
    """A size n*m (a product of dimensions) split into factor pairs for kron(ones(n, .), ...)."""
    r = dimension_factors(rows)
    c = dimension_factors(cols)
    k = max(len(r), len(c))
    r += [sp.Integer(1)] * (k - len(r))
    c += [sp.Integer(1)] * (k - len(c))
    return list(zip(r, c))


def expand_powers(mats):
    """Factors of a product with the short matrix powers written out: X@X@X, not (X@X@X)."""
    out = []
    for m in mats:
        if isinstance(m, MatrixPower) and int(m.exponent) <= EXPANDED_POWER:
            out += [m.base] * int(m.exponent)
        else:
            out.append(m)
    return out


def number_text(x):
    """A SymPy number as a literal the parser reads back to the same number."""
    if x.is_Integer:
        return str(int(x))
    if x.is_Rational:
        return f"{x.p}/{x.q}"
    if x.is_Float:
        f = float(x)
        return repr(int(f)) + ".0" if f == int(f) and abs(f) < 1e15 else repr(f)
    return repr(float(x))


class TextPrinter(Printer):
    """Prints in the notation."""
    what = "text"

    def call(self, name, *args):
        inner = ", ".join(self.p(a)[0] for a in args)
        return f"{name}({inner})", ATOM

    def function(self, record, arg):
        return self.call(record.notation, arg)

    def named(self, e, name):
        return name, ATOM

    # -- leaves --
    def _MatrixSymbol(self, e):
        return e.name, ATOM

    def _Symbol(self, e):
        if e.is_integer and e.is_positive:
            # a dimension used as a number (tr(eye(n)) = n): sum(ones(n)), which the shared
            # notation reads (matcalc's also reads a bare n as a number, but not every reader
            # of the shared notation does; LaTeX and generated code write n)
            return f"sum(ones({e.name}))", ATOM
        return e.name, ATOM

    def dim(self, d):
        """A dimension inside eye(...) / ones(...): its name or its size."""
        return d.name if d.is_Symbol else str(int(d))

    def _Number(self, e):
        t = number_text(e)
        if e < 0:
            return t, (MUL if e.is_Rational and not e.is_Integer else NEG)
        return t, (MUL if "/" in t else ATOM)

    def _Identity(self, e):
        split = split_sum(e.shape[0])
        if split:                # eye(m + n) of concat's adjoint: blocks eye(m), eye(n) on the diagonal
            a, b = split
            return self.p(Concat(0, Concat(1, Identity(a), ZeroMatrix(a, b)),
                                 Concat(1, ZeroMatrix(b, a), Identity(b))))
        if is_product_size(e.shape[0]):   # eye(n*m) of a Jacobian through vec: kron(eye(n), eye(m))
            factors = [f"eye({self.dim(d)})" for d in dimension_factors(e.shape[0])]
            text = factors[0]
            for f in factors[1:]:
                text = f"kron({text}, {f})"
            return text, ATOM
        return f"eye({self.dim(e.shape[0])})", ATOM

    def _OneMatrix(self, e):
        rows, cols = e.shape
        for axis, split in enumerate((split_sum(rows), split_sum(cols))):
            if split:            # ones(m + n) of concat's adjoint: concat(ones(m), ones(n))
                shapes = [(s, cols) if axis == 0 else (rows, s) for s in split]
                return self.p(Concat(axis, *(OneMatrix(*shape) for shape in shapes)))
        if is_product_size(rows) or is_product_size(cols):
            return self.p(KroneckerProduct(*[OneMatrix(r, c) for r, c in product_dims(rows, cols)]))
        if cols == 1:
            return f"ones({self.dim(rows)})", ATOM
        if rows == 1:
            return f"ones({self.dim(cols)}).T", ATOM
        return f"ones({self.dim(rows)}, {self.dim(cols)})", ATOM

    def _ZeroMatrix(self, e):
        return f"0*{self.p(OneMatrix(*e.shape))[0]}", MUL

    differential_mark = "d"

    def _Differential(self, e):
        """dX for a symbol, d(...) for an expression."""
        text = self.p(e.arg)[0]
        if not isinstance(e.arg, (sp.MatrixSymbol, sp.Symbol)) and e.arg not in self.names:
            text = self.parens(text)
        return self.differential_mark + text, ATOM

    _ScalarDifferential = _Differential

    def _Adjoint(self, e):
        """An adjoint placeholder no one named: grad[N]."""
        return f"grad[{self.p(e.arg)[0]}]", ATOM

    _ScalarAdjoint = _Adjoint

    # -- vec, Kronecker products, commutation matrices, matrix powers --
    def _KroneckerProduct(self, e):
        """kron(A, B); three or more factors nest to the left: kron(kron(A, B), C)."""
        text = self.p(e.args[0])[0]
        for factor in e.args[1:]:
            text = f"kron({text}, {self.p(factor)[0]})"
        return text, ATOM

    def _Vec(self, e):
        return self.call("vec", e.arg)

    def _window(self, e):
        """im2col(X, 1, 28, 28, 3, 3, 2, 2, 1, 1), col2im(...), blockmax(P, 4) (core/windows.py)."""
        sizes = ", ".join(str(n) for n in e.parameters)
        return f"{e.notation}({self.p(e.arg)[0]}, {sizes})", ATOM

    _Im2col = _Col2im = _BlockMax = _BlockArgmax = _window

    def _Concat(self, e):
        """concat(A, B) (A above B), hconcat(A, B) (A left of B) (core/blocks.py)."""
        return self.call(e.notation, *e.blocks)

    def _Commutation(self, e):
        n, m = e.dims
        return f"commutation({self.dim(n)}, {self.dim(m)})", ATOM

    def _MatrixPower(self, e):
        k = int(e.exponent)
        if k <= EXPANDED_POWER:
            return self.matmul_join([e.base] * k), MUL
        return f"matrix_power({self.p(e.base)[0]}, {k})", ATOM

    # -- structural functions --
    def _AsScalar(self, e):
        return self.p(e.arg)

    def _Named(self, e):
        """A named intermediate no one asked to see by name: its value."""
        return self.p(e.arg)

    def _Transpose(self, e):
        return f"{self.wrap(e.arg, ATOM)}.T", ATOM

    def _Trace(self, e):
        return self.call("tr", e.arg)

    def _Inverse(self, e):
        return self.call("inv", e.arg)

    def _DiagMatrix(self, e):
        return self.call("diag", e.args[0])

    _DiagonalOf = _DiagMatrix

    # -- products --
    def _MatMul(self, e):
        coeff, mats = ops.split_coeff(e)
        if len(mats) == 1:
            body, body_prec = self.p(mats[0])
            if coeff != 1 and body_prec <= MUL and not isinstance(mats[0], HadamardProduct):
                body, body_prec = self.parens(body), ATOM
        elif coeff != 1 and tuple(e.shape) == (1, 1):
            # a 1 x 1 product is a scalar in `c*(...)`; keep it a matrix: (c*a.T)@B@b
            head, head_prec = self.scaled(coeff, self.wrap(mats[0], MUL, strict=True), ATOM)
            head = head if head_prec >= NEG else self.parens(head)
            return "@".join([head] + [self.wrap(m, MUL, strict=True) for m in mats[1:]]), MUL
        else:
            body = self.matmul_join(mats)
            body_prec = MUL
            if coeff != 1:
                body, body_prec = self.parens(body), ATOM
        return self.scaled(coeff, body, body_prec)

    def matmul_join(self, mats):
        return "@".join(self.wrap(m, MUL, strict=True) for m in expand_powers(mats))

    def scaled(self, coeff, body, body_prec):
        """coeff * body, written as num*body/den with a leading minus where it belongs."""
        if coeff == 1:
            return body, body_prec
        negative, num, den = signed_fraction(coeff)
        text = body
        if num != 1:
            text = f"{self.factor_text(num)}*{body}"
        if den != 1:
            text = f"{text}/{self.wrap(den, MUL, strict=True)}"
        if negative:
            if text == body and body_prec >= NEG:
                return f"-{body}", NEG
            return f"-{text}", MUL
        return text, (MUL if text != body else body_prec)

    def factor_text(self, c):
        """A scalar coefficient in front of '*': plain for numbers, atoms and plain products."""
        text, prec = self.p(c)
        factors = sp.Mul.make_args(c)
        plain = not any(isinstance(f, AsScalar) for f in factors) and not text.startswith("-")
        if prec >= ATOM or (prec == MUL and plain and isinstance(c, (sp.Mul, sp.Rational))):
            return text
        return self.parens(text)

    def _HadamardProduct(self, e):
        parts = []
        for i, f in enumerate(e.args):
            if isinstance(f, HadamardPower) and ops.negative_number(f.args[1]):
                base = ops.hpow(f.args[0], -f.args[1])
                t = self.wrap(base, MUL, strict=True)
                parts.append(("/" if i else "1/") + t)
            else:
                parts.append(("*" if i else "") + self.wrap(f, MUL, strict=True))
        return "".join(parts), MUL

    def _HadamardPower(self, e):
        base, exp = e.args
        if ops.negative_number(exp):
            inverse = ops.hpow(base, -exp)
            return f"1/{self.wrap(inverse, MUL, strict=True)}", MUL
        return f"{self.wrap(base, ATOM)}**{self.exponent_text(exp)}", POW

    def exponent_text(self, x):
        if not x.is_Number:         # a scalar expression or a matrix: x**a, x**(a + 1), a**x
            return self.wrap(x, ATOM)
        t = number_text(x)
        return t if float(x) >= 0 and "/" not in t else f"({t})"

    # -- sums --
    def _MatAdd(self, e):
        terms = [(ops.is_negative_term(t), ops.neg(t) if ops.is_negative_term(t) else t)
                 for t in e.args]
        # a scalar or a row may stand for its broadcast (1 + X, X@W + b.T) only next to a term
        # printed at the full shape
        elide = any(self.broadcast_part(t, e.shape) is None for _, t in terms)
        out = [(neg, self.term_text(t, e.shape, elide, neg)) for neg, t in terms]
        return self.join_terms(out), ADD

    def broadcast_part(self, term, shape):
        """c for c*ones(n, m), the row for ones(n)@row; None for a term of the full shape."""
        c, ms = ops.split_coeff(term)
        if len(ms) == 1 and isinstance(ms[0], OneMatrix) and tuple(ms[0].shape) == tuple(shape):
            return c
        if len(ms) >= 2 and isinstance(ms[0], OneMatrix) and ms[0].shape[1] == 1 \
                and ms[1].shape[0] == 1 and shape[0] != 1:
            return ops.matmul(c, *ms[1:])
        return None

    def term_text(self, term, shape, elide=True, negative=True):
        """A term of a sum; a sum inside a sum needs parentheses only after a minus."""
        part = self.broadcast_part(term, shape) if elide else None
        text, prec = self.p(term if part is None else part)
        if prec < ADD or (prec == ADD and (negative or not isinstance(term, Named))):
            return self.parens(text)
        return text

    def join_terms(self, terms):
        s = ""
        for i, (neg, text) in enumerate(terms):
            if i == 0:
                s = f"-{text}" if neg else text
            else:
                s += f" - {text}" if neg else f" + {text}"
        return s

    def _Add(self, e):
        terms = list(e.args)
        pos = [t for t in terms if not t.could_extract_minus_sign()]
        negs = [t for t in terms if t.could_extract_minus_sign()]
        out = []
        for t in pos + negs:
            neg = t in negs
            text, prec = self.p(-t if neg else t)
            out.append((neg, self.parens(text) if prec <= ADD else text))
        return self.join_terms(out), ADD

    def mul_parts(self, e):
        """(negative, numerator factors, denominator factors) of a scalar product."""
        coeff, rest = e.as_coeff_Mul()
        negative = coeff < 0
        if negative:
            coeff = -coeff
        num, den = [], []
        if coeff != 1:
            n, d = sp.fraction(coeff) if not coeff.is_Float else (coeff, sp.Integer(1))
            if n != 1:
                num.append(n)
            if d != 1:
                den.append(d)
        for f in sp.Mul.make_args(rest):
            if isinstance(f, sp.Pow) and ops.negative_number(f.exp):
                den.append(f.base ** -f.exp)
            else:
                num.append(f)
        return negative, num, den

    def _Mul(self, e):
        negative, num, den = self.mul_parts(e)
        num_text = "*".join(self.wrap(f, MUL, strict=True) if i else self.mul_first(f)
                            for i, f in enumerate(num)) if num else "1"
        text = num_text
        if den:
            text = f"{num_text}/{self.wrap_den(den)}"
        if negative:
            return f"-{text}", (NEG if not den and len(num) == 1 and self.p(num[0])[1] >= NEG else MUL)
        return text, (MUL if (den or len(num) > 1) else self.p(num[0])[1])

    def mul_first(self, f):
        """The first factor of a product: a 1 x 1 product is parenthesised, (x.T@y)*s."""
        text, prec = self.p(f)
        if prec < MUL or (prec == MUL and isinstance(f, AsScalar)):
            return self.parens(text)
        return text

    def wrap_den(self, den):
        if len(den) == 1:
            return self.wrap(den[0], MUL, strict=True)
        return self.parens("*".join(self.wrap(f, MUL, strict=True) for f in den))

    def _Pow(self, e):
        base, exp = e.args
        if ops.negative_number(exp):
            return self._Mul(sp.Mul(1, e, evaluate=False))
        return f"{self.wrap(base, ATOM)}**{self.exponent_text(exp)}", POW


def to_text(e, names=None):
    """The expression in the notation of NOTATION.md; parse(to_text(e)) rebuilds it.

    names (node -> identifier) prints those nodes by name, as derivations do.
    """
    return TextPrinter(names).doprint(e)
