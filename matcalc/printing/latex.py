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


def function_symbol(word):
    """The registry's LaTeX symbol of a function whose spelling is one command (sigmoid ->
    \\sigma, tanh -> \\tanh), for values named after it; None otherwise."""
    from ..core.functions import FUNCTIONS
    record = FUNCTIONS.get(word)
    m = re.match(r"(\\[A-Za-z]+)\\left\(", getattr(record, "latex", "") or "")
    return m.group(1) if m else None


def name_latex(name):
    """W1 -> W_{1}, y_pred -> y_{\\mathrm{pred}}, lam/lambda -> \\lambda, G_Z1 -> G_{Z1}; an
    adjoint grad_h (the gradient of f with respect to h) -> \\nabla_{h}."""
    if name.startswith("grad_") and len(name) > 5:
        return rf"\nabla_{{{name_latex(name[5:])}}}"
    base, _, sub = name.partition("_")
    if not sub:
        m = re.fullmatch(r"([A-Za-z]+?)(\d+)", name)
        if m:
            base, sub = m.group(1), m.group(2)
    symbol = function_symbol(base)
    if symbol:                                 # a value named after its function: sigma_3
        base = symbol
    elif base in GREEK or base == "lam":
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


TALL = (r"\frac", r"\sum", r"\prod", r"\begin", r"\left", r"\dfrac", r"\tfrac")


class LatexPrinter(TextPrinter):
    what = "LaTeX"

    def parens(self, text):
        """Parentheses that grow only around tall content (fractions): \\left( ... \\right)
        costs 12 characters a pair, and a long derivation has thousands."""
        if any(tall in text for tall in TALL):
            return rf"\left({text}\right)"
        return f"({text})"

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

    def _Concat(self, e):
        """The block matrix: A above B for concat(A, B), A left of B for hconcat(A, B)."""
        joint = r" \\ " if e.axis == 0 else " & "
        return (r"\begin{bmatrix} " + joint.join(self.p(b)[0] for b in e.blocks)
                + r" \end{bmatrix}"), ATOM

    def _Commutation(self, e):
        n, m = e.dims
        return rf"K_{{{self.dim(n)},{self.dim(m)}}}", ATOM

    def _MatrixPower(self, e):
        return rf"{self.wrap(e.base, ATOM)}^{{{int(e.exponent)}}}", POW

    # -- convolution and pooling (core/windows.py) --
    def _Im2col(self, e):
        """im2col with its kernel, stride and padding under it: the image size is in X's shape."""
        w = e.window
        return (rf"\operatorname{{im2col}}_{{{w.KH}\times {w.KW},\,s={w.SH},\,p={w.PH}}}"
                rf"\left({self.p(e.arg)[0]}\right)"), ATOM

    def _Col2im(self, e):
        w = e.window
        return (rf"\operatorname{{col2im}}_{{{w.KH}\times {w.KW},\,s={w.SH},\,p={w.PH}}}"
                rf"\left({self.p(e.arg)[0]}\right)"), ATOM

    def _BlockMax(self, e):
        return rf"\operatorname{{blockmax}}_{{{e.blocks}}}\left({self.p(e.arg)[0]}\right)", ATOM

    def _BlockArgmax(self, e):
        return rf"\operatorname{{blockargmax}}_{{{e.blocks}}}\left({self.p(e.arg)[0]}\right)", ATOM

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
        def divides(f):
            return isinstance(f, HadamardPower) and ops.negative_number(f.args[1])
        num = [f for f in e.args if not divides(f)]      # split by the test, never by ==, which
        den = [ops.hpow(f.args[0], -f.args[1]) for f in e.args if divides(f)]   # recurses
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
        if ops.negative_number(exp):
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


# -- derivations: rows of (lhs, rhs, note) in one aligned block ------------------------------------
NOTE_LAYOUTS = ("below", "tags", "right")
WIDTH = 66            # the widest line, in character widths of 11pt math on A4 with 2.5 cm margins
NOTE_STYLE = r"\scriptstyle"     # notes are small; a math style, so KaTeX, MathJax and LaTeX agree
NOTE_SCALE = 0.72                # how wide script style is beside text style


def visible_width(tex):
    """Roughly how many characters wide `tex` is typeset: command names count as one glyph,
    words in \operatorname/\mathrm/\text as their letters, sub- and superscripts as 0.7,
    a fraction as its wider part, relations and binary operators with their spaces as 2."""
    return _width(tex, 0)[0]


_GROUP_WORDS = re.compile(r"\\(?:operatorname|mathrm|text|mathbf)\{")
_SPACES = {r"\,": 0.3, r"\;": 0.4, r"\quad": 2, r"\qquad": 4, r"\ ": 0.5}


def _group(tex, i):
    """(contents, index after) of the braced group starting at tex[i] == '{'."""
    depth, j = 0, i
    while j < len(tex):
        depth += {"{": 1, "}": -1}.get(tex[j], 0)
        if depth == 0:
            return tex[i + 1:j], j + 1
        j += 1
    return tex[i + 1:], len(tex)


def _width(tex, i):
    w = 0.0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            cmd = m.group(0)
            i += len(cmd)
            if cmd in _SPACES:
                w += _SPACES[cmd]
            elif cmd in (r"\left", r"\right"):
                pass
            elif cmd == r"\frac" or cmd == r"\tfrac":
                a, i = _group(tex, i)
                b, i = _group(tex, i)
                w += max(visible_width(a), visible_width(b)) * (0.7 if cmd == r"\tfrac" else 1)
            elif _GROUP_WORDS.match(cmd + "{") and i < len(tex) and tex[i] == "{":
                inner, i = _group(tex, i)
                w += visible_width(inner) if cmd != r"\text" else len(inner) * 0.9
            elif cmd in (r"\odot", r"\otimes", r"\oslash", r"\times", r"\Rightarrow"):
                w += 2
            elif cmd in (r"\scriptstyle",):
                pass
            else:
                w += 1
        elif c in "_^":
            i += 1
            if i < len(tex) and tex[i] == "{":
                inner, i = _group(tex, i)
            else:
                inner, i = tex[i:i + 1], i + 1
            w += 0.7 * visible_width(inner)
        elif c in "{} &":
            i += 1
        elif c in "+-=<>":
            w += 2
            i += 1
        else:
            w += 1
            i += 1
    return w, i


def sum_terms(e):
    """The top-level terms of a sum as (negative, LaTeX of the term without its sign), in the
    order the printer writes them (a MatAdd as stored, a scalar Add positive terms first)."""
    if isinstance(e, sp.MatAdd):
        signed = [(ops.is_negative_term(t), ops.neg(t) if ops.is_negative_term(t) else t)
                  for t in e.args]
    else:
        args = list(e.args)
        negative = [t.could_extract_minus_sign() for t in args]
        signed = [(False, t) for t, n in zip(args, negative) if not n] + \
                 [(True, -t) for t, n in zip(args, negative) if n]
    out = []
    for neg, t in signed:
        text = latex(t)
        out.append((neg, rf"\left({text}\right)" if isinstance(t, (sp.Add, sp.MatAdd)) else text))
    return out


def rhs_lines(rhs, width):
    """The right side as one line, or, for a sum too wide for `width`, several: the terms
    packed greedily, each continuation line starting with its sign."""
    if isinstance(rhs, str):
        return [rhs]
    text = latex(rhs)
    if visible_width(text) <= width or not isinstance(rhs, (sp.Add, sp.MatAdd)):
        return [text]
    lines, current = [], ""
    for i, (neg, term) in enumerate(sum_terms(rhs)):
        piece = ("-" + term if neg else term) if i == 0 else (f"- {term}" if neg else f"+ {term}")
        if current and visible_width(current + piece) > width:
            lines.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    lines.append(current)
    return lines


class Words(str):
    """Plain words for a line of their own in render_aligned, broken to fit its width."""


def text_lines(words, width=WIDTH - 14):
    """Plain words as \\text{} lines of at most `width` (a convention, a heading), broken
    between words."""
    lines = [""]
    for word in words.split():
        if lines[-1] and visible_width(text_latex(lines[-1] + " " + word)) > width:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    return [text_latex(line) for line in lines]


def note_parts(note, script=False):
    """A note as a list of (separator, LaTeX) pieces that may stand on lines of their own: for
    a Note, the rule in words, then its identities (after ' ' for the first, ';\quad ' between
    them); for a list of Notes, each; a string is one piece of LaTeX already."""
    from .identity import identity_parts     # identity.py spells names with name_latex above
    if isinstance(note, (list, tuple)):
        return [p for n in note for p in note_parts(n, script)]
    if not isinstance(note, Note):
        return [(r";\quad ", note)] if note else []
    if not note.identity:
        return [(r";\quad ", text_latex(note.rule))]
    parts = [(r";\quad ", p) for p in identity_parts(note.identity, script)]
    if not note.rule:
        return parts
    return [(r";\quad ", text_latex(f"{note.rule}:"))] + [(r"\ ", parts[0][1])] + parts[1:]


def note_latex(note, width=None):
    """A note as one line of LaTeX: the rule in words, the identities as mathematics. With a
    width, a list of lines set small (NOTE_STYLE), the pieces packed into lines of that
    width (a line holds at least one piece)."""
    parts = note_parts(note, script=width is not None)
    if width is None:
        return "".join((sep if i else "") + p for i, (sep, p) in enumerate(parts))
    lines = []
    for sep, p in parts:
        if lines and visible_width(lines[-1] + sep + p) * NOTE_SCALE <= width:
            lines[-1] += sep + p
        else:
            lines.append(p)
    return lines


def render_aligned(rows, notes="below", width=WIDTH):
    """rows of (lhs, rhs, note) -> one aligned block (standard amsmath: KaTeX, MathJax 2 and 3,
    pdflatex).

    lhs is LaTeX; rhs is LaTeX or a SymPy expression (a sum wider than `width` is broken into
    continuation lines `\quad + ...`); note is a Note, a list of Notes, a LaTeX string or "".
    A row (None, tex, "") is a line of its own (a heading); (None, Words(text), "") is plain
    words, broken over as many lines as the width needs. `notes` places the notes:
    "below" (each on its own small, indented line under its equation), "tags" (a numbered
    marker over the equals sign, the notes as a legend after the lines; one number per
    distinct note) or "right" (a column to the right of the equations)."""
    if notes not in NOTE_LAYOUTS:
        raise ValueError(f"notes must be one of {', '.join(NOTE_LAYOUTS)}, got {notes!r}")
    lines, legend = [], {}
    rhs_width = width - max([visible_width(lhs) for lhs, _, _ in rows if lhs] + [0]) - 2
    for lhs, rhs, note in rows:
        if lhs is None:
            lines += [f"&{t}" for t in (text_lines(rhs, rhs_width) if isinstance(rhs, Words)
                                        else [rhs])]
            continue
        relation = "="
        if notes == "tags" and note:
            key = note_latex(note)
            legend.setdefault(key, (len(legend) + 1, note))
            relation = rf"\overset{{({legend[key][0]})}}{{=}}"
        pieces = rhs_lines(rhs, rhs_width)
        first = f"{lhs} &{relation} {pieces[0]}"
        if notes == "right" and note:
            first += rf" && {note_latex(note)}"
        lines.append(first)
        lines += [rf"&\quad {p}" for p in pieces[1:]]
        if notes == "below" and note:
            lines += [rf"&\qquad {{{NOTE_STYLE} {p}}}" for p in note_latex(note, rhs_width - 4)]
    breaks = [" \\\\\n"] * len(lines)
    if legend:
        breaks[-1] = " \\\\[4pt]\n"        # a little space before the legend
        for number, note in legend.values():
            for i, p in enumerate(note_latex(note, rhs_width - 4)):
                mark = f"({number})" if i == 0 else r"\phantom{(" + str(number) + ")}"
                lines.append(rf"&{{{NOTE_STYLE} {mark}\quad {p}}}")
                breaks.append(" \\\\\n")
    body = "".join(line + sep for line, sep in zip(lines, breaks[:len(lines) - 1] + [""]))
    return "\\begin{aligned}\n" + body + "\n\\end{aligned}"
