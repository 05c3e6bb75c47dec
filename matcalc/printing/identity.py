"""The identities rules cite, typeset as mathematics.

A rule's identity is authored data in the notation (the first line of its docstring):
`tr(G.T@L@dX@R) = tr((L.T@G@R.T).T@dX)`. `identity_latex` reads that text with a small tokenizer
and a precedence parser and writes it the way a textbook does:

    tr(G.T@A@dW) = tr((A.T@G).T@dW)     ->  \\operatorname{tr}(G^{T} A\\,\\mathrm{d}W) = ...
    vec(A@dX@B) = kron(B.T, A)@vec(dX)  ->  \\operatorname{vec}(A\\,\\mathrm{d}X\\,B) = (B^{T} \\otimes A) ...

Spelling: `@` is juxtaposition; `*` is juxtaposition when a side is a scalar (a number, a scalar
letter a b c g p s, a trace, a sum, ...) and `\\odot` between matrices; `.T` is `^{T}`; `dX` and
`d(...)` are differentials `\\mathrm{d}X`; `inv(X)` is `X^{-1}`; `kron` is `\\otimes`; `eye(n)`,
`ones(n)`, `commutation(n, m)` are `I_n`, `\\mathbf{1}_n`, `K_{n,m}`; `concat(A, B)` and
`hconcat(A, B)` are block matrices (`bmatrix`); a registry function is
spelled as the registry spells it (`sigmoid` -> `\\sigma`), `f'(X)` with a prime; `=>` is
`\\Rightarrow`; `;` and top-level `,` separate several identities; `with`/`for` introduce a
side condition (`d(h) = dX  for h := X`). The parentheses are the ones typed (the identity was
written with exactly those it needs); new ones are added only where a new spelling needs them
(`inv(A@B)` -> `(A B)^{-1}`).

`translate(text)` returns (latex, reason): a text that is not an identity in the notation (prose
such as "take the differential of both sides") comes back as `\\text{...}` with the reason it
could not be read; `identity_latex` returns the LaTeX alone. The tests translate every identity
any rule can cite and count the fallbacks (none).
"""
import re
from dataclasses import dataclass

from ..core.functions import BY_NOTATION
from .latex import name_latex, text_latex

TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*'?)"
                   r"|(?P<op>=>|:=|\*\*|\.T\b|[@*/+\-=(),;\[\]]))")
SHAPE = re.compile(r"\s*(\w+) x (\w+)\s*")         # n x m
SCALAR_LETTERS = set("abcgps")                 # the scalars of the rule tables: a*b, g*c, p
SCALAR_FUNCTIONS = {"tr", "sum", "det", "logdet", "norm", "mean"}
DIMENSION_FUNCTIONS = {"eye", "ones", "commutation"}
WORDS = {"with", "for"}                        # a side condition: `... with dX := V`
STRUCTURAL = {"tr": r"\operatorname{tr}", "vec": r"\operatorname{vec}", "diag": r"\operatorname{diag}"}
ATOM, POW, MUL, NEG, KRON, ADD = 6, 5, 4, 3, 2.5, 2


D = r"\mathrm{d}"


class Unreadable(Exception):
    """The text is not an identity in the notation."""


@dataclass(frozen=True)
class Math:
    """A translated piece: its LaTeX, how tightly it binds, whether it is a scalar, and
    whether it ends in a differential (a product sets it off with thin spaces: A\,dX\,B)."""
    tex: str
    prec: int = ATOM
    scalar: bool = False
    differential: bool = False


def tokens(text):
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unreadable(f"unexpected {text[pos:].strip()[:12]!r} at column {pos + 1}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def is_differential_atom(m):
    return m.prec == ATOM and m.differential and m.tex.startswith(D) and "(" not in m.tex


def paren(m, prec):
    """m as an operand of something binding at prec: parenthesised when it binds less tightly."""
    return m.tex if m.prec >= prec else f"({m.tex})"


class Reader:
    """Recursive descent over the tokens of one identity text (they are a line long)."""

    def __init__(self, text, script=False):
        self.toks = tokens(text)
        # script style drops the spaces around = and +; a note set small writes them out
        self.rel, self.bin = (r"\;", r"\,") if script else ("", "")
        self.i = 0
        self.dimensions = False

    def peek(self, k=0):
        return self.toks[self.i + k] if self.i + k < len(self.toks) else (None, None)

    def take(self, value=None):
        kind, v = self.peek()
        if kind is None or (value is not None and v != value):
            raise Unreadable(f"expected {value or 'more'}, found {v or 'the end'}")
        self.i += 1
        return v

    def at(self, *values):
        kind, v = self.peek()
        return kind in ("op", "name") and v in values

    # statements: identities separated by ; or top-level ,
    def read(self):
        parts = [self.statement()]
        while self.at(";", ","):
            sep = self.take()
            parts.append(sep)
            parts.append(self.statement())
        if self.peek()[0] is not None:
            raise Unreadable(f"unexpected {self.peek()[1]!r}")
        return parts

    def statement(self):
        tex = self.relation()
        while self.at("=>"):
            self.take()
            tex += r" \;\Rightarrow\; " + self.relation()
        if self.at(*WORDS):
            word = self.take()
            tex += rf" \quad \text{{{word} }} " + self.statement()
        return tex

    def relation(self):
        tex = self.sum().tex
        while self.at("=", ":="):
            op = self.take()
            tex += f"{self.rel} {op} {self.rel}" + self.sum().tex
        return tex

    def sum(self):
        first = self.product()
        tex, scalar, n = first.tex, first.scalar, 1
        while self.at("+", "-"):
            op = self.take()
            term = self.product()
            tex += f"{self.bin} {op} {self.bin}" + paren(term, MUL)
            scalar = scalar and term.scalar
            n += 1
        return first if n == 1 else Math(tex, ADD, scalar)

    def product(self):
        left = self.unary()
        while self.at("@", "*", "/"):
            op = self.take()
            right = self.unary()
            left = self.combine(left, op, right)
        return left

    def combine(self, left, op, right):
        a, b = paren(left, MUL), paren(right, MUL)
        if op == "/":
            if is_differential_atom(left) and is_differential_atom(right):   # df/dX
                return Math(rf"\frac{{\partial {left.tex[len(D):]}}}{{\partial {right.tex[len(D):]}}}")
            return Math(f"{a}/{b}", MUL, left.scalar and right.scalar)
        scalar = left.scalar and right.scalar
        if op == "*" and left.tex == "0" and right.tex.startswith(r"\mathbf{1}"):
            return Math(r"\mathbf{0}" + right.tex[len(r"\mathbf{1}"):], ATOM)   # a zero block
        if op == "*" and not (left.scalar or right.scalar):
            return Math(rf"{a}{self.bin} \odot {self.bin}{b}", MUL, False)
        space = r"\," if right.differential or left.differential else " "
        return Math(f"{a}{space}{b}", MUL, scalar, right.differential)

    def unary(self):
        if self.at("-"):
            self.take()
            m = self.unary()
            return Math("-" + paren(m, MUL), NEG, m.scalar)
        return self.power()

    def power(self):
        base = self.postfix()
        if self.at("**"):
            self.take()
            exp = self.unary()
            hadamard = "" if base.scalar else r"\circ "
            return Math(f"{paren(base, ATOM)}^{{{hadamard}{exp.tex}}}", POW, base.scalar)
        return base

    def postfix(self):
        m = self.primary()
        while self.at(".T", "["):
            if self.take() == ".T":
                m = Math(f"{paren(m, POW) if m.prec != POW else '(' + m.tex + ')'}^{{T}}", POW,
                         m.scalar)
            else:
                inner = self.sum()
                self.take("]")
                m = Math(f"{paren(m, ATOM)}[{inner.tex}]", ATOM, m.scalar)
        return m

    def primary(self):
        kind, v = self.peek()
        if kind == "number":
            self.take()
            return Math(v, ATOM, True)
        if v == "(" and self.shape_ahead():
            return self.shape()
        if v == "(":
            self.take()
            inner = self.sum()
            self.take(")")
            return Math(f"({inner.tex})", ATOM, inner.scalar)
        if kind != "name" or v in WORDS:
            raise Unreadable(f"expected an operand, found {v or 'the end'}")
        self.take()
        if self.at("(") and self.shape_ahead():         # J (n x m): a result and its shape
            return Math(f"{self.name(v).tex} {self.shape().tex}", ATOM)
        if self.at("("):
            return self.call(v)
        if v in ("d", "vec") and self.peek()[0] in ("name", "number"):
            operand = self.postfix()           # d vec F: operators applied without parentheses
            head = r"\mathrm{d}" if v == "d" else r"\operatorname{vec} "
            return Math(head + operand.tex, MUL, operand.scalar, v == "d")
        return self.name(v)

    def name(self, v):
        if v.endswith("'"):
            raise Unreadable(f"{v} is not applied to an argument")
        if len(v) > 1 and v[0] == "d" and v not in BY_NOTATION and v not in STRUCTURAL:
            inner = v[1:]
            return Math(r"\mathrm{d}" + name_latex(inner), ATOM, inner in SCALAR_LETTERS, True)
        if len(v) > 1 and "_" not in v and not re.fullmatch(r"[A-Za-z]\d*", v) \
                and v not in ("lam", "lambda"):
            raise Unreadable(f"{v!r} is a word, not a name of the notation")
        return Math(name_latex(v), ATOM, v in SCALAR_LETTERS or self.dimensions)

    def shape_ahead(self):
        """At '(': is this a shape, (n x m)?"""
        return self.peek(2) == ("name", "x") and self.peek(4) == ("op", ")") and \
            self.peek(1)[0] in ("name", "number") and self.peek(3)[0] in ("name", "number")

    def shape(self):
        _, rows, _, cols, _ = (self.take() for _ in range(5))
        return Math(f"({translate(f'{rows} x {cols}')[0]})", ATOM)

    def arguments(self):
        self.take("(")
        args = [self.sum()]
        while self.at(","):
            self.take()
            args.append(self.sum())
        self.take(")")
        return args

    def call(self, f):
        self.dimensions = f in DIMENSION_FUNCTIONS    # ones(n*m): the arguments are sizes
        args = self.arguments()
        self.dimensions = False
        prime = f.endswith("'")
        f = f.rstrip("'")
        a = args[0]
        if prime:
            return Math(derivative_head(f) + f"({a.tex})", ATOM, a.scalar)
        if f == "d":
            if a.prec == ATOM and not a.tex.startswith("("):
                return Math(r"\mathrm{d}" + a.tex, ATOM, a.scalar, True)
            return Math(rf"\mathrm{{d}}({a.tex})", ATOM, a.scalar, True)
        if f in STRUCTURAL:
            return Math(rf"{STRUCTURAL[f]}({a.tex})", ATOM, f == "tr")
        if f == "inv":
            return Math(f"{paren(a, ATOM)}^{{-1}}", POW)
        if f == "kron":
            return Math(rf"{self.bin} \otimes {self.bin}".join(paren(x, POW) for x in args), KRON)   # (A ⊗ B) C
        if f == "matrix_power":
            return Math(f"{paren(a, ATOM)}^{{{args[1].tex}}}", POW)
        if f in ("im2col", "col2im") and len(args) >= 10:     # the window as latex.py writes it
            k = [x.tex for x in args[1:10]]
            return Math(rf"\operatorname{{{f}}}_{{{k[3]}\times {k[4]},\,s={k[5]},\,p={k[7]}}}"
                        rf"\left({a.tex}\right)", ATOM)
        if f in ("concat", "hconcat") and len(args) == 2:   # block matrices, as latex.py writes them
            joint = r" \\ " if f == "concat" else " & "
            return Math(r"\begin{bmatrix} " + joint.join(x.tex for x in args) + r" \end{bmatrix}",
                        ATOM)
        if f in ("blockmax", "blockargmax") and len(args) == 2:
            return Math(rf"\operatorname{{{f}}}_{{{args[1].tex}}}\left({a.tex}\right)", ATOM)
        if f == "eye":
            return Math(f"I_{{{a.tex}}}", ATOM)
        if f == "ones":
            dims = r" \times ".join(x.tex for x in args)
            return Math(rf"\mathbf{{1}}_{{{dims}}}", ATOM)
        if f == "commutation":
            return Math(f"K_{{{','.join(x.tex for x in args)}}}", ATOM)
        if f in BY_NOTATION:
            if len(args) != 1:
                raise Unreadable(f"{f} takes one argument")
            record = BY_NOTATION[f][0]
            tex = record.spell(record.latex, a.tex, paren(a, ATOM))
            return Math(tex, ATOM, a.scalar or f in SCALAR_FUNCTIONS)
        if len(f) == 1:                        # a generic function: f(X)
            return Math(f"{f}({', '.join(x.tex for x in args)})", ATOM)
        raise Unreadable(f"{f}() is not a function of the notation")


def derivative_head(f):
    """f' as LaTeX: \\sigma', \\operatorname{relu}', or (\\sqrt{\\cdot})' for a spelling that is
    not a head followed by its parenthesised argument."""
    if f not in BY_NOTATION:
        if len(f) == 1:
            return f + "'"
        raise Unreadable(f"{f}' is the derivative of no function of the notation")
    template = BY_NOTATION[f][0].latex
    call = r"\left({x}\right)"
    if template.endswith(call) and template.count("{x}") == 1:
        return template[:-len(call)] + "'"
    return r"\left(" + template.replace("{x_}", r"\cdot").replace("{x}", r"\cdot") + r"\right)'"


def translate(text, script=False):
    """(LaTeX, None) for an identity in the notation; (\\text{text}, reason) for one that is not."""
    shape = SHAPE.fullmatch(text)
    if shape:                                  # a shape, as errors and definitions name it
        return " \\times ".join(name_latex(d) if not d.isdigit() else d for d in shape.groups()), None
    try:
        parts = Reader(text, script).read()
    except Unreadable as e:
        return text_latex(text), str(e)
    tex = ""
    for p in parts:
        tex += {";": r";\quad ", ",": r",\quad "}.get(p, p)
    return tex, None


def identity_latex(text):
    """The identity in `text` (the notation) as LaTeX mathematics."""
    return translate(text)[0]


def identity_parts(text, script=False):
    """The identities of `text` (separated by ; or a top-level ,), each as LaTeX; `script`
    writes out the spaces around relations and operators that script style would drop."""
    try:
        parts = Reader(text, script).read()
    except Unreadable:
        return [text_latex(text)]
    return parts[::2]


def prose_latex(words):
    """Words that may end in a formula ("Dense layer y_pred = h_relu@W2:", "read off: the
    gradient w.r.t. W2") as \\text{words} followed by the formula as mathematics."""
    body, colon = (words[:-1], ":") if words.endswith(":") else (words, "")
    starts = [0] + [m.end() for m in re.finditer(r"\s+", body)]
    for k in starts:
        if k and translate(body[k:])[1] is None:
            return text_latex(body[:k]) + " " + identity_latex(body[k:]) + \
                (text_latex(colon) if colon else "")
    return text_latex(words)


def notes_in(words):
    """The Notes in a note written as words, "rule: identity; rule: identity" (how rows of a
    network's derivation cite): each part with a readable identity is a Note of its rule and
    identity, an identity alone a Note without a rule, anything else words (prose_latex)."""
    from .latex import Note
    notes = []
    for part in (p.strip() for p in words.split("; ") if p.strip()):
        rule, _, identity = part.partition(": ")
        if identity and translate(identity)[1] is None:
            notes.append(Note(rule, identity))
        elif translate(part)[1] is None:
            notes.append(Note("", part))
        else:
            notes.append(prose_latex(part))
    return notes
