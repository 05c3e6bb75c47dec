"""Tokenizer and recursive-descent parser for the notation of NOTATION.md.

Grammar (Python's precedence and associativity; `**` binds tightest, `-x**2` is `-(x**2)`):

    expr     := term (("+" | "-") term)*
    term     := unary (("@" | "*" | "/") unary)*
    unary    := ("-" | "+") unary | power
    power    := postfix ("**" exponent)?
    exponent := ("-" | "+")? NUMBER | "(" exponent ")"
    postfix  := atom (".T")*
    atom     := NUMBER | NAME | NAME "(" arguments ")" | "(" expr ")"

Names are declared symbols (their shapes come with the text) or the functions of the notation;
`eye`, `ones` and `commutation` take dimensions (declared dimension names or positive integers);
`kron(A, B)` takes two expressions. `vec`, `kron` and `commutation` are matcalc extensions
(vec.py) that NOTATION.md does not define; they are read so that parse(to_text(J)) works for
Jacobians through vec. Every other
construct -- attribute access other than `.T`, subscripts, keywords, lambdas, strings, calls of
anything but a known function -- is a ParseError that points at its column. The text is never
evaluated: this module builds the expression with `ops` and nothing else.

Nesting deeper than MAX_DEPTH parentheses is a ParseError, not a RecursionError.
"""
import keyword
import re
import sympy as sp

from . import ops
from .limits import recursion_room
from .errors import MatcalcError, ParseError, ShapeError, UnknownNameError
from .shapes import declared_shape, dimension
from .vec import commutation, kron, vec

MAX_DEPTH = 200

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<transpose>\.T(?![A-Za-z0-9_]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|[-+*/@(),])
""", re.VERBOSE)

ELEMENTWISE = ("exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "sqrt", "abs",
               "step", "sign")
MATRIX_FUNCTIONS = {
    "tr": ops.trace, "det": ops.det, "logdet": ops.logdet, "inv": ops.inv, "sum": ops.entry_sum,
    "norm": ops.norm, "softmax": ops.softmax, "logsumexp": ops.logsumexp, "diag": ops.diag,
    "vec": vec,     # a matcalc extension (vec.py), as are kron and commutation below
}
DIMENSION_FUNCTIONS = {"eye": (1, 1), "ones": (1, 2), "commutation": (2, 2)}
DIMENSION_BUILDERS = {"eye": ops.eye, "ones": ops.ones, "commutation": commutation}
BINARY_FUNCTIONS = {"kron": kron}
FUNCTIONS = sorted(set(ELEMENTWISE) | set(MATRIX_FUNCTIONS) | set(DIMENSION_FUNCTIONS)
                   | set(BINARY_FUNCTIONS))


class Token:
    __slots__ = ("kind", "text", "column")

    def __init__(self, kind, text, column):
        self.kind, self.text, self.column = kind, text, column

    def __repr__(self):
        return f"Token({self.kind}, {self.text!r}, col {self.column})"


def tokenize(text):
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            if ch == ".":
                m2 = re.match(r"\.([A-Za-z_][A-Za-z0-9_]*)", text[pos:])
                attr = m2.group(1) if m2 else ""
                raise ParseError(f"attribute access .{attr} is not allowed (only .T)", text, pos + 1)
            if ch == "[":
                raise ParseError("subscripts are not part of the notation", text, pos + 1)
            if ch in "'\"":
                raise ParseError("strings are not part of the notation", text, pos + 1)
            raise ParseError(f"unexpected character {ch!r}", text, pos + 1)
        kind = m.lastgroup
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos + 1))
        pos = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def symbols_from_shapes(shapes):
    """name -> SymPy symbol (MatrixSymbol for vectors and matrices) from declared shapes."""
    table = {}
    for name, spec in (shapes or {}).items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) \
                or keyword.iskeyword(name):
            raise MatcalcError(f"bad symbol name {name!r}: use letters, digits and _")
        if name in FUNCTIONS:
            raise MatcalcError(f"symbol name {name!r} is a function of the notation")
        shape = declared_shape(spec, name)
        table[name] = sp.Symbol(name, real=True) if shape is None else sp.MatrixSymbol(name, *shape)
    return table


def dimensions_of(symbols):
    """Declared dimension names -> SymPy sizes."""
    dims = {}
    for s in symbols.values():
        if getattr(s, "is_Matrix", False):
            for d in s.shape:
                if d.is_Symbol:
                    dims[d.name] = d
    return dims


def parse(text, shapes=None):
    """The expression that `text` denotes, with symbols declared by `shapes`.

    shapes maps each symbol name to () for a scalar, (n,) for an n x 1 vector, (n, m) for a
    matrix; dimensions are names or positive integers. Symbols may also be given as SymPy
    symbols (MatrixSymbol or Symbol) in place of a shape.
    """
    if not isinstance(text, str):
        raise MatcalcError(f"parse() needs the expression as a string, got {type(text).__name__}")
    symbols = {}
    plain = {}
    for name, spec in (shapes or {}).items():
        if isinstance(spec, (sp.MatrixSymbol, sp.Symbol)):
            symbols[name] = spec
        else:
            plain[name] = spec
    symbols.update(symbols_from_shapes(plain))
    for d in dimensions_of(symbols):
        if d in symbols:
            raise MatcalcError(f"{d!r} is both a dimension and a symbol name")
    if not text.strip():
        raise ParseError("empty expression", text, 1)
    with recursion_room(MAX_DEPTH * 12 + 2000):
        return _Parser(text, symbols).parse()


class _Parser:
    def __init__(self, text, symbols):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.symbols = symbols
        self.dims = dimensions_of(symbols)
        self.depth = 0

    # -- token helpers --
    @property
    def tok(self):
        return self.tokens[self.i]

    def next(self):
        t = self.tokens[self.i]
        self.i += 1
        return t

    def accept(self, text):
        if self.tok.kind == "op" and self.tok.text == text:
            return self.next()
        return None

    def expect(self, text, what):
        t = self.accept(text)
        if t is None:
            self.error(f"expected {what}", self.tok)
        return t

    def error(self, message, tok):
        found = "end of input" if tok.kind == "end" else repr(tok.text)
        raise ParseError(f"{message}, found {found}", self.text, tok.column)

    def at(self, tok, fn, *args):
        """Run a constructor; a shape error gets the column of the operator that caused it."""
        try:
            return fn(*args)
        except ShapeError as e:
            raise ShapeError(f"{e} at column {tok.column}") from None

    # -- grammar --
    def parse(self):
        e = self.expr()
        if self.tok.kind != "end":
            self.error("expected an operator or the end of the expression", self.tok)
        return e

    def expr(self):
        e = self.term()
        while self.tok.kind == "op" and self.tok.text in "+-":
            op = self.next()
            rhs = self.term()
            e = self.at(op, ops.add, e, rhs) if op.text == "+" else self.at(op, ops.sub, e, rhs)
        return e

    def term(self):
        e = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("@", "*", "/"):
            op = self.next()
            rhs = self.unary()
            e = self.at(op, _BINARY[op.text], e, rhs)
        return e

    def unary(self):
        if self.tok.kind == "op" and self.tok.text in "+-":
            op = self.next()
            self.enter(op)
            e = self.unary()
            self.depth -= 1
            return ops.neg(e) if op.text == "-" else e
        return self.power()

    def power(self):
        base = self.postfix()
        if self.accept("**"):
            tok = self.tok
            p = self.exponent()
            return self.at(tok, ops.hpow, base, p)
        return base

    def exponent(self):
        sign = 1
        if self.tok.kind == "op" and self.tok.text in "+-":
            sign = -1 if self.next().text == "-" else 1
        if self.accept("("):
            p = self.exponent()
            self.expect(")", "')'")
            return sign * p
        if self.tok.kind != "number":
            self.error("the exponent of ** must be a numeric constant", self.tok)
        return sign * _number(self.next().text)

    def postfix(self):
        e = self.atom()
        while self.tok.kind == "transpose":
            self.next()
            e = ops.transpose(e)
        return e

    def enter(self, tok):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels", self.text,
                             tok.column)

    def atom(self):
        tok = self.tok
        if tok.kind == "number":
            self.next()
            return _number(tok.text)
        if tok.kind == "op" and tok.text == "(":
            self.next()
            self.enter(tok)
            e = self.expr()
            self.expect(")", "')'")
            self.depth -= 1
            return e
        if tok.kind == "name":
            self.next()
            if keyword.iskeyword(tok.text):
                raise ParseError(f"the Python keyword {tok.text!r} is not part of the notation",
                                 self.text, tok.column)
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(tok)
            if tok.text in self.symbols:
                return self.symbols[tok.text]
            if tok.text in FUNCTIONS:
                raise ParseError(f"function {tok.text}() needs its arguments in parentheses",
                                 self.text, tok.column + len(tok.text))
            raise UnknownNameError(f"undeclared symbol {tok.text!r} at column {tok.column}; "
                                   f"declare its shape")
        if tok.kind == "transpose":
            self.error("'.T' needs an expression before it", tok)
        self.error("expected a number, a symbol, a function call or '('", tok)

    def call(self, name):
        open_paren = self.next()
        self.enter(open_paren)
        f = name.text
        if f not in FUNCTIONS:
            if f in self.symbols:
                raise ParseError(f"{f!r} is a symbol, not a function; calls are not allowed",
                                 self.text, open_paren.column)
            raise UnknownNameError(f"unknown function {f!r} at column {name.column}; known: "
                                   + ", ".join(FUNCTIONS))
        if f in DIMENSION_FUNCTIONS:
            args = [self.dimension_arg()]
            while self.accept(","):
                args.append(self.dimension_arg())
            lo, hi = DIMENSION_FUNCTIONS[f]
            if not lo <= len(args) <= hi:
                raise ParseError(f"{f}() takes {lo} to {hi} dimensions, got {len(args)}",
                                 self.text, name.column)
            self.expect(")", "')'")
            self.depth -= 1
            return DIMENSION_BUILDERS[f](*args)
        if f in BINARY_FUNCTIONS:
            first = self.expr()
            self.expect(",", f"',' and a second argument of {f}()")
            second = self.expr()
            if self.tok.kind == "op" and self.tok.text == ",":
                self.error(f"{f}() takes exactly two arguments", self.tok)
            self.expect(")", "')' after the arguments of " + f + "()")
            self.depth -= 1
            return self.at(name, BINARY_FUNCTIONS[f], first, second)
        arg = self.expr()
        if self.tok.kind == "op" and self.tok.text == ",":
            self.error(f"{f}() takes exactly one argument", self.tok)
        self.expect(")", "')' after the argument of " + f + "()")
        self.depth -= 1
        if f in ELEMENTWISE:
            return self.at(name, ops.apply, f, arg)
        return self.at(name, MATRIX_FUNCTIONS[f], arg)

    def dimension_arg(self):
        tok = self.next()
        if tok.kind == "number" and tok.text.isdigit() and int(tok.text) > 0:
            return dimension(int(tok.text))
        if tok.kind == "name":
            if tok.text in self.dims:
                return self.dims[tok.text]
            raise UnknownNameError(f"unknown dimension {tok.text!r} at column {tok.column}; "
                                   f"declared dimensions: " + (", ".join(sorted(self.dims)) or "none"))
        self.error("expected a dimension name or a positive integer", tok)


def _number(text):
    if re.fullmatch(r"\d+", text):
        return sp.Integer(int(text))
    return sp.Float(float(text))




def _matmul_operator(a, b):
    for side, e in (("left", a), ("right", b)):
        if not ops.is_matrix(e):
            raise ShapeError(f"@ needs matrices, but its {side} operand is a scalar; use *")
    return ops.matmul(a, b)


_BINARY = {"@": _matmul_operator, "*": ops.hadamard, "/": ops.divide}
