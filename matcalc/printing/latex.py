"""LaTeX of expressions, using only standard amsmath (KaTeX and MathJax render it).

`latex(expr)` reuses the precedence machinery of the text printer, so parentheses are placed by
the same rules as in the notation; only the spelling differs: juxtaposition for products,
`\\odot` for Hadamard products, `A^{\\circ p}` for elementwise powers, the registry's spelling of
every function (`\\operatorname{relu}`, `\\sigma`), `\\mathbf{1}_n` for ones, `I_n` for the
identity, `\\mathrm{d}X` for a differential. SymPy's own latex() prints elementwise functions as
lambdas; hence this printer.

Every name reaching LaTeX was validated as an identifier by core/shapes.py; `name_latex` turns
it into math (subscripts, Greek letters) and `text_latex` escapes words inside \\text{}.
"""
import re
from dataclasses import dataclass

import sympy as sp
from sympy import HadamardPower, Inverse

from ..core import ops
from ..core.nodes import AsScalar
from .base import ATOM, MUL, NEG, POW, signed_fraction
from .text import TextPrinter

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "lambda", "mu", "nu", "sigma", "tau",
         "theta", "phi", "psi", "omega", "rho", "eta", "kappa", "xi", "zeta", "chi", "pi"}


def name_latex(name):
    """W1 -> W_{1}, y_pred -> y_{\\mathrm{pred}}, lam/lambda -> \\lambda, G_Z1 -> G_{Z1}."""
    base, _, sub = name.partition("_")
    if not sub:
        m = re.fullmatch(r"([A-Za-z]+?)(\d+)", name)
        if m:
            base, sub = m.group(1), m.group(2)
    if base in GREEK or base == "lam":
        base = "\\lambda" if base == "lam" else "\\" + base
    elif len(base) > 1:
        base = r"\mathrm{" + base + "}"
    elif not base:
        base = r"\_"
    if not sub:
        return base
    sub_tex = sub if sub.isdigit() or len(sub) == 1 else (
        name_latex(sub) if re.fullmatch(r"[A-Za-z]\d+", sub) else r"\mathrm{" + sub.replace("_", r"\_") + "}")
    return f"{base}_{{{sub_tex}}}"


def text_latex(s):
    """Plain words inside math: \\text{...} with LaTeX specials replaced (no `\\_`, which
    MathJax 2 shows literally inside \\text)."""
    for a, b in (("\\", "/"), ("_", " "), ("&", " and "), ("%", " percent"), ("#", "no."),
                 ("{", "("), ("}", ")"), ("^", "**"), ("~", "-"), ("$", "")):
        s = s.replace(a, b)
    return rf"\text{{{s}}}"


class LatexPrinter(TextPrinter):
    what = "LaTeX"

    def parens(self, text):
        return rf"\left({text}\right)"

    def call(self, name, *args):
        inner = ", ".join(self.p(a)[0] for a in args)
        return rf"\operatorname{{{name}}}\left({inner}\right)", ATOM

    def function(self, record, arg):
        return record.spell(record.latex, self.p(arg)[0], self.wrap(arg, ATOM)), ATOM

    def named(self, e, name):
        return name_latex(name), ATOM

    # -- leaves --
    def _MatrixSymbol(self, e):
        return name_latex(e.name), ATOM

    def _Symbol(self, e):
        return name_latex(e.name), ATOM

    def _Identity(self, e):
        return rf"I_{{{self.dim(e.shape[0])}}}", ATOM

    def _Number(self, e):
        if e.is_Rational and not e.is_Integer:
            t = rf"\frac{{{abs(e.p)}}}{{{e.q}}}"
            return ("-" + t, NEG) if e < 0 else (t, ATOM)
        return super()._Number(e)

    def _OneMatrix(self, e):
        if e.shape[1] == 1:
            return rf"\mathbf{{1}}_{{{self.dim(e.shape[0])}}}", ATOM
        if e.shape[0] == 1:
            return rf"\mathbf{{1}}_{{{self.dim(e.shape[1])}}}^{{T}}", POW
        return rf"\mathbf{{1}}_{{{self.dim(e.shape[0])} \times {self.dim(e.shape[1])}}}", ATOM

    def _ZeroMatrix(self, e):
        return r"\mathbf{0}", ATOM

    differential_mark = r"\mathrm{d}"

    def _Adjoint(self, e):
        return rf"G_{{{self.p(e.arg)[0]}}}", ATOM

    _ScalarAdjoint = _Adjoint

    # -- vec, Kronecker products, commutation matrices, matrix powers --
    def _KroneckerProduct(self, e):
        """A \\otimes B, as tight as a product: (A \\otimes B) C."""
        return r" \otimes ".join(self.wrap(a, MUL, strict=True) for a in e.args), MUL

    def _Commutation(self, e):
        n, m = e.dims
        return rf"K_{{{self.dim(n)},{self.dim(m)}}}", ATOM

    def _MatrixPower(self, e):
        return rf"{self.wrap(e.base, ATOM)}^{{{int(e.exponent)}}}", POW

    # -- structural functions --
    def _Transpose(self, e):
        if isinstance(e.arg, Inverse):
            return rf"{self.wrap(e.arg.arg, ATOM)}^{{-T}}", POW
        return rf"{self.wrap(e.arg, ATOM)}^{{T}}", POW

    def _Inverse(self, e):
        return rf"{self.wrap(e.arg, ATOM)}^{{-1}}", POW

    def _Trace(self, e):
        return rf"\operatorname{{tr}}\left({self.p(e.arg)[0]}\right)", ATOM

    def _DiagMatrix(self, e):
        return self.call("diag", e.args[0])

    _DiagonalOf = _DiagMatrix

    # -- products --
    def matmul_join(self, mats):
        return " ".join(self.wrap(m, MUL, strict=True) for m in mats)   # X^{2} stays a power

    def _MatMul(self, e):
        coeff, mats = ops.split_coeff(e)
        body = self.matmul_join(mats) if len(mats) > 1 else self.wrap(mats[0], MUL)
        if len(mats) == 1 and isinstance(mats[0], sp.HadamardProduct) and coeff != 1:
            body = self.parens(body)
        return self.scaled(coeff, body, MUL if len(mats) > 1 else self.p(mats[0])[1])

    def scaled(self, coeff, body, body_prec):
        if coeff == 1:
            return body, body_prec
        negative, num, den = signed_fraction(coeff)
        if den != 1:
            lead = rf"\frac{{{self.p(num)[0]}}}{{{self.p(den)[0]}}}"
        elif num != 1:
            lead = self.factor_text(num)
        else:
            lead = ""
        text = f"{lead} {body}".strip() if lead else body
        if negative:
            return "-" + text, MUL
        return text, MUL

    def factor_text(self, c):
        text, prec = self.p(c)
        if prec < MUL or isinstance(c, sp.Add):
            return self.parens(text)
        return text

    def _HadamardProduct(self, e):
        num = [f for f in e.args if not (isinstance(f, HadamardPower) and f.args[1] < 0)]
        den = [ops.hpow(f.args[0], -f.args[1]) for f in e.args if f not in num]
        text = r" \odot ".join(self.wrap(f, MUL, strict=True) for f in num) or r"\mathbf{1}"
        for d in den:
            text += r" \oslash " + self.wrap(d, MUL, strict=True)
        return text, MUL

    def _HadamardPower(self, e):
        base, exp = e.args
        if exp == -1:
            return rf"\mathbf{{1}} \oslash {self.wrap(base, MUL, strict=True)}", MUL
        return rf"{self.wrap(base, ATOM)}^{{\circ {self.p(exp)[0]}}}", POW

    def dim(self, d):
        return self.p(d)[0] if not d.is_Symbol else name_latex(d.name)

    def broadcast_part(self, term, shape):
        """Only a scalar stands for its broadcast; a row keeps its ones: X W + 1 b^T, as in the
        seeds."""
        part = super().broadcast_part(term, shape)
        return part if part is not None and not ops.is_matrix(part) else None

    def _Mul(self, e):
        negative, num, den = self.mul_parts(e)
        num_text = " ".join(self.wrap(f, MUL, strict=True) if not isinstance(f, AsScalar)
                            else self.parens(self.p(f)[0]) for f in num) or "1"
        if den:
            den_text = " ".join(self.wrap(f, MUL, strict=True) for f in den)
            text = rf"\frac{{{num_text}}}{{{den_text}}}"
        else:
            text = num_text
        return ("-" + text, MUL) if negative else (text, MUL if len(num) > 1 or den else self.p(num[0])[1])

    def _Pow(self, e):
        base, exp = e.args
        if exp == sp.S.Half:
            return rf"\sqrt{{{self.p(base)[0]}}}", ATOM
        if exp.is_number and exp < 0:
            return self._Mul(sp.Mul(1, e, evaluate=False))
        return rf"{self.wrap(base, ATOM)}^{{{self.p(exp)[0]}}}", POW


def latex(e, names=None):
    """LaTeX of a matcalc expression (standard amsmath only)."""
    return LatexPrinter(names).doprint(e)


@dataclass(frozen=True)
class Note:
    """What a derivation line cites: the rule's name and its identity, in the notation
    (`d(A@B) = dA@B + A@dB`). Layouts decide where and how it is typeset."""
    rule: str
    identity: str = ""


def note_latex(note):
    """A note as LaTeX: a Note is typeset as words; a string is taken as LaTeX already."""
    if isinstance(note, Note):
        return text_latex(f"{note.rule}: {note.identity}" if note.identity else note.rule)
    return note or ""


def render_aligned(rows):
    """rows of (lhs, rhs, note) -> one aligned block; lhs and rhs are LaTeX strings, note a
    Note, a LaTeX string or empty."""
    lines = []
    for lhs, rhs, note in rows:
        note = note_latex(note)
        line = f"{lhs} &= {rhs}"
        if note:
            line += rf" && {note}"
        lines.append(line)
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
