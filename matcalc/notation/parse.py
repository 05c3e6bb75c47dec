"""Tokenizer and parser for the notation (docs/notation.md); it never evaluates the text.

Grammar (Python's precedence and associativity; `**` binds tightest, `-x**2` is `-(x**2)`):

    expr     := expr ("+" | "-") expr        (left associative, weakest)
              | expr ("@" | "*" | "/") expr   (left associative)
              | ("-" | "+") expr              (unary, tighter than @ * /)
              | expr "**" expr                (right associative; the exponent is a number,
                                               2, -1, (1/3), 2**2, or a scalar: x**a, or a
                                               matrix of the base's shape: a**x, X**Y)
              | atom (".T")*
    atom     := NUMBER | NAME | NAME "(" arguments ")" | "(" expr ")"

Names are declared symbols (their shapes come with the text) or the functions of the registry
(core/functions.py) and the structural functions below; `eye`, `ones` and `commutation` take
dimensions (declared dimension names or positive integers); `kron(A, B)` and
`matrix_power(A, k)` take two arguments. Everything else -- attribute access other than `.T`,
subscripts, keywords, lambdas, strings, calls of anything but a known function -- is a
ParseError pointing at its column. The text is never evaluated: the parser builds the
expression with `ops` and the registry's constructors and nothing else.

The parser is operator-precedence with explicit stacks, not recursive descent, so nesting is
bounded only by MAX_DEPTH (thousands) and the text by MAX_LENGTH; a chain of n terms
`a + b + ...` is collected and built with one n-ary sum, so it costs O(n), not O(n^2).

`source_of(expr)` returns the text and shapes an expression was parsed from (the most recent
parse that produced it): Derivation.check compares against the function as the user wrote it.
"""
import difflib
import re
from collections import OrderedDict
from dataclasses import dataclass

import sympy as sp

from ..core import functions, ops
from ..core.shapes import check_name, declared_shape, dimension, is_matrix
from ..errors import MatcalcError, ParseError, ShapeError, UnknownNameError
from .structural import DIMENSION_FUNCTIONS, STRUCTURAL
from ..core.gc_pause import without_cyclic_gc

MAX_DEPTH = 5000
MAX_LENGTH = 200_000
MAX_DIGITS = 300

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<number>(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<transpose>\.T(?![A-Za-z0-9_]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|[-+*/@(),])
""", re.VERBOSE)

HINTS = {
    "'": "the transpose is written .T (x.T @ A @ x)",
    '"': "strings are not part of the notation",
    "^": "the elementwise power is written ** (x**2); matrix powers matrix_power(A, k)",
    "[": "subscripts are not part of the notation",
    "]": "subscripts are not part of the notation",
    "=": "the notation has expressions only, no assignments or comparisons",
    "<": "comparisons are not part of the notation (step(x) is 1 where x > 0)",
    ">": "comparisons are not part of the notation (step(x) is 1 where x > 0)",
    "!": "the notation has no '!'",
    "%": "the notation has no '%' (use / for division)",
    "&": "the notation has no logical operators",
    "|": "the notation has no logical operators (abs(x) is the absolute value)",
    "~": "the notation has no '~'",
    ":": "slices and lambdas are not part of the notation",
    ";": "one expression at a time",
    "{": "the notation has no braces",
    "}": "the notation has no braces",
    "\\": "the notation has no backslashes (write LaTeX with --latex, read the notation)",
}


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
            if ch == "'" and pos > 0 and (text[pos - 1].isalnum() or text[pos - 1] in "_)"):
                raise ParseError(HINTS[ch], text, pos + 1)      # x' : a transpose, MATLAB-style
            if ch in "'\"":
                raise ParseError(HINTS['"'], text, pos + 1)
            if ch in HINTS:
                raise ParseError(HINTS[ch], text, pos + 1)
            if ord(ch) > 126 or ord(ch) < 32:
                raise ParseError(f"unexpected character U+{ord(ch):04X} (the notation is ASCII)",
                                 text, pos + 1)
            raise ParseError(f"unexpected character {ch!r}", text, pos + 1)
        kind = m.lastgroup
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos + 1))
        pos = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def number(text, column=None, source=None):
    """A numeric literal as a SymPy number: integers exact, decimals as floats."""
    digits = len(re.sub(r"[^0-9]", "", text))
    if digits > MAX_DIGITS:
        raise ParseError(f"a number of {digits} digits is longer than the notation takes "
                         f"({MAX_DIGITS})", source, column)
    if re.fullmatch(r"[0-9]+", text):
        return sp.Integer(int(text))
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ParseError(f"the number {text} is out of range", source, column)
    return sp.Float(value)


# ---- declared symbols ---------------------------------------------------------------------------
def symbols_from_shapes(shapes):
    """name -> SymPy symbol (MatrixSymbol for vectors and matrices) from declared shapes."""
    table = {}
    for name, spec in (shapes or {}).items():
        if isinstance(spec, (sp.MatrixSymbol, sp.Symbol)):
            symbol = spec
            check_name(symbol.name)
            if is_matrix(symbol):
                symbol = ops.matrix_symbol(symbol.name, *[dimension(d, f"the shape of {name}")
                                                        for d in symbol.shape])
            else:
                symbol = sp.Symbol(symbol.name, real=True)
            name = symbol.name
        else:
            check_name(name)
            shape = declared_shape(spec, name)
            symbol = sp.Symbol(name, real=True) if shape is None else ops.matrix_symbol(name, *shape)
        if name in known_names():
            raise MatcalcError(f"symbol name {name!r} is a function of the notation")
        table[name] = symbol
    return table


def dimensions_of(symbols):
    """Declared dimension names -> SymPy sizes."""
    dims = {}
    for s in symbols.values():
        if is_matrix(s):
            for d in s.shape:
                if d.is_Symbol:
                    dims[d.name] = d
    return dims


# ---- provenance -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    text: str
    shapes: dict
    symbols: dict          # every declared symbol, including those the expression lost (x - x)
    hints: tuple = ()      # one-line notes for the reader (tr(A*B) of squares is elementwise)


SOURCES = OrderedDict()
MAX_SOURCES = 256


def source_of(expr):
    """The Source an expression was most recently parsed from, or None."""
    try:
        return SOURCES.get(expr)
    except TypeError:
        return None


def _remember(expr, source):
    SOURCES[expr] = source
    SOURCES.move_to_end(expr)
    while len(SOURCES) > MAX_SOURCES:
        SOURCES.popitem(last=False)


# ---- the parser -----------------------------------------------------------------------------------
SYNTAXES = {}         # other input languages: name -> parse function (matrixcalculus.py: "mc")


@without_cyclic_gc
def parse(text, shapes=None, syntax="notation", hints=()):
    """The expression that `text` denotes, with symbols declared by `shapes`.

    shapes maps each symbol name to () for a scalar, (n,) for an n x 1 vector, (n, m) for a
    matrix; dimensions are names or positive integers. Symbols may also be given as SymPy
    symbols (MatrixSymbol or Symbol) in place of a shape. syntax="mc" reads matrixcalculus.org's
    input language (x'*A*x) and translates it; source_of(result).hints shows the translation.
    """
    if syntax != "notation":
        if syntax not in SYNTAXES:
            raise MatcalcError(f"unknown syntax {syntax!r}; known: notation, "
                               + ", ".join(sorted(SYNTAXES)))
        return SYNTAXES[syntax](text, shapes)
    if not isinstance(text, str):
        raise MatcalcError(f"parse() needs the expression as a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the expression is {len(text):,} characters long; the notation takes "
                         f"at most {MAX_LENGTH:,}", None, None)
    if shapes is not None and not isinstance(shapes, dict):
        raise MatcalcError("shapes must be a dict: name -> (), (n,) or (n, m)")
    symbols = symbols_from_shapes(shapes)
    for d in dimensions_of(symbols):
        if d in symbols:
            raise MatcalcError(f"{d!r} is both a dimension and a symbol name")
    if not text.strip():
        raise ParseError("empty expression", text, 1)
    parser = _Parser(text, symbols)
    expr = parser.parse()
    _remember(expr, Source(text, dict(shapes or {}), symbols, tuple(hints) + tuple(parser.hints)))
    return expr


# ---- teaching errors ------------------------------------------------------------------------------
SYNONYMS = {"trace": "tr", "Tr": "tr", "transpose": ".T", "inverse": "inv", "Inv": "inv",
            "ln": "log", "sigm": "sigmoid", "logistic": "sigmoid", "mm": "@", "matmul": "@",
            "dot": "@", "power": "**", "pow": "**", "linalg": "inv, det, logdet",
            "frobenius": "norm", "sqr": "**2", "expm": "(no matrix exponential; exp is "
            "elementwise)"}


def known_names():
    """Every function name of the notation, sorted."""
    return sorted(set(functions.BY_NOTATION) | set(functions.DEFINITIONS) | set(STRUCTURAL)
                  | set(DIMENSION_FUNCTIONS))


def did_you_mean(name, known):
    """'did you mean tr? ' for trace, the closest known names by spelling, or ''."""
    if name in SYNONYMS:
        return f"did you mean {SYNONYMS[name]}? "
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6) or \
        difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=3, cutoff=0.6)
    return f"did you mean {' or '.join(close)}? " if close else ""


def _dims(e):
    return " x ".join(str(d) for d in e.shape) if is_matrix(e) else "scalar"


def _matrix_product_fits(a, b):
    """a * b fails elementwise but a @ b has matching inner dimensions."""
    if not (is_matrix(a) and is_matrix(b)) or (1, 1) in (tuple(a.shape), tuple(b.shape)):
        return False
    return tuple(a.shape) != tuple(b.shape) and a.shape[1] == b.shape[0]


def _square_hadamard(e):
    """tr of an elementwise product of square non-1x1 matrices (the tr(A*B) slip)."""
    return isinstance(e, sp.HadamardProduct) and all(
        is_matrix(f) and f.shape[0] == f.shape[1] and f.shape[0] != 1 for f in e.args)


class _Sum:
    """A chain a + b - c collected while parsing, built once with one n-ary ops.add."""
    __slots__ = ("terms", "columns")

    def __init__(self, terms, columns):
        self.terms, self.columns = terms, columns


BINARY = {"+": 10, "-": 10, "@": 20, "*": 20, "/": 20, "**": 40}
UNARY = 30


class _Parser:
    def __init__(self, text, symbols):
        self.text = text
        self.tokens = tokenize(text)
        self.symbols = symbols
        self.dims = dimensions_of(symbols)
        self.hints = []
        self.i = 0

    def error(self, message, tok):
        found = "end of input" if tok.kind == "end" else repr(tok.text)
        raise ParseError(f"{message}, found {found}", self.text, tok.column)

    def at(self, column, fn, *args):
        """Run a constructor; a shape error gets the column of what caused it."""
        try:
            return fn(*args)
        except ShapeError as e:
            raise ShapeError(f"{e} at column {column}") from None

    def value(self, v):
        if isinstance(v, _Sum):
            return self.at(v.columns[1] if len(v.columns) > 1 else v.columns[0], ops.add, *v.terms)
        return v

    # -- the operator-precedence loop --
    def parse(self):
        operands = []           # values (or _Sum chains)
        operators = []          # ("bin", op, col) | ("neg"/"pos", col) | ("paren", col) | ("call", name, col, args)
        depth = 0
        expect_operand = True
        while True:
            tok = self.tokens[self.i]
            if expect_operand:
                if tok.kind == "op" and tok.text in "+-":
                    operators.append(("neg" if tok.text == "-" else "pos", tok.column))
                    depth += 1
                    self.check_depth(depth, tok)
                    self.i += 1
                    continue
                if tok.kind == "number":
                    operands.append(number(tok.text, tok.column, self.text))
                    self.i += 1
                    expect_operand = False
                    continue
                if tok.kind == "name":
                    self.i += 1
                    nxt = self.tokens[self.i]
                    if nxt.kind == "op" and nxt.text == "(":
                        if tok.text in DIMENSION_FUNCTIONS:
                            operands.append(self.dimension_call(tok))
                            expect_operand = False
                            continue
                        self.check_function(tok)
                        self.i += 1
                        operators.append(("call", tok.text, tok.column, []))
                        depth += 1
                        self.check_depth(depth, tok)
                        continue
                    operands.append(self.symbol(tok))
                    expect_operand = False
                    continue
                if tok.kind == "op" and tok.text == "(":
                    operators.append(("paren", tok.column))
                    depth += 1
                    self.check_depth(depth, tok)
                    self.i += 1
                    continue
                if tok.kind == "op" and tok.text == ")" and operators and operators[-1][0] == "call" \
                        and not operators[-1][3]:
                    raise ParseError(f"{operators[-1][1]}() needs an argument", self.text, tok.column)
                if tok.kind == "transpose":
                    self.error("'.T' needs an expression before it", tok)
                self.error("expected a number, a symbol, a function call or '('", tok)
            # expecting an operator
            if tok.kind == "transpose":
                operands[-1] = ops.transpose(self.value(operands[-1]))
                self.i += 1
                continue
            if tok.kind == "op" and tok.text in BINARY:
                prec = BINARY[tok.text]
                self.reduce(operands, operators, prec, right=tok.text == "**")
                operators.append(("bin", tok.text, tok.column))
                self.i += 1
                expect_operand = True
                continue
            if tok.kind == "op" and tok.text == ")":
                self.reduce(operands, operators, 0)
                if not operators or operators[-1][0] not in ("paren", "call"):
                    raise ParseError("unmatched ')'", self.text, tok.column)
                opener = operators.pop()
                depth -= 1
                if opener[0] == "call":
                    args = opener[3] + [self.value(operands.pop())]
                    operands.append(self.call(opener[1], opener[2], args))
                self.i += 1
                continue
            if tok.kind == "op" and tok.text == ",":
                self.reduce(operands, operators, 0)
                if not operators or operators[-1][0] != "call":
                    raise ParseError("',' outside the arguments of a function", self.text,
                                     tok.column)
                operators[-1][3].append(self.value(operands.pop()))
                self.i += 1
                expect_operand = True
                continue
            if tok.kind == "end":
                self.reduce(operands, operators, 0)
                if operators:
                    opener = operators[-1]
                    what = "')'" if opener[0] == "paren" else f"')' after the arguments of {opener[1]}()"
                    self.error(f"expected {what}", tok)
                return self.value(operands[0])
            if tok.kind == "name" and tok.text in ("for", "if", "lambda", "in", "and", "or",
                                                   "not", "is"):
                raise ParseError(f"the Python keyword {tok.text!r} is not part of the notation",
                                 self.text, tok.column)
            self.error("expected an operator or the end of the expression", tok)

    def check_depth(self, depth, tok):
        if depth > MAX_DEPTH:
            raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels", self.text,
                             tok.column)

    def reduce(self, operands, operators, prec, right=False):
        """Apply stacked operators that bind at least as tightly as an incoming `prec`."""
        while operators:
            top = operators[-1]
            kind = top[0]
            if kind in ("paren", "call"):
                return
            top_prec = UNARY if kind in ("neg", "pos") else BINARY[top[1]]
            if top_prec < prec or (top_prec == prec and right):
                return
            operators.pop()
            if kind in ("neg", "pos"):
                v = self.value(operands.pop())
                operands.append(ops.neg(v) if kind == "neg" else v)
                continue
            op, column = top[1], top[2]
            b = operands.pop()
            a = operands.pop()
            operands.append(self.binary(op, column, a, b))

    def binary(self, op, column, a, b):
        if op in "+-":
            b = self.value(b)
            if op == "-":
                b = ops.neg(b)
            if isinstance(a, _Sum):
                a.terms.append(b)
                a.columns.append(column)
                return a
            return _Sum([a, b], [column, column])
        a, b = self.value(a), self.value(b)
        if op == "**":      # the exponent: a number, a scalar (x**a) or a matrix (a**x, X**Y)
            return self.at(column, ops.hpow, a, b)
        if op == "@":
            # a scalar operand is a 1 x 1 matrix, as NumPy keeps exp(x.T@y) or inv(X) of a 1 x 1
            # X: s@B with B of one row (or B@s with B of one column) is s*B
            for side, e, other, fits in (("left", a, b, 0), ("right", b, a, 1)):
                if not is_matrix(e):
                    if is_matrix(other) and other.shape[fits] == 1:
                        return self.at(column, ops.hadamard, a, b)
                    raise ShapeError(f"@ needs matrices, but its {side} operand is a scalar (a "
                                     f"1 x 1 matrix only before one row or after one column); "
                                     f"use * at column {column}")
            return self.at(column, ops.matmul, a, b)
        if op == "*":
            if _matrix_product_fits(a, b):
                raise ShapeError(f"shape mismatch in *: {_dims(a)} and {_dims(b)} at column "
                                 f"{column}; * is elementwise: did you mean @ (the matrix "
                                 f"product)?")
            return self.at(column, ops.hadamard, a, b)
        return self.at(column, ops.divide, a, b)

    # -- names --
    def symbol(self, tok):
        name = tok.text
        if name in self.symbols:
            return self.symbols[name]
        if name in self.dims:          # a dimension used as a number: sum(x)/n
            return self.dims[name]
        if name in known_names():
            raise ParseError(f"function {name}() needs its arguments in parentheses",
                             self.text, tok.column + len(name))
        if name in ("lambda", "for", "if", "import", "def", "class", "None", "True", "False"):
            raise ParseError(f"the Python keyword {name!r} is not part of the notation",
                             self.text, tok.column)
        raise UnknownNameError(f"undeclared symbol {name!r} at column {tok.column}; "
                               + did_you_mean(name, self.symbols) +
                               f"declare its shape (--shape {name}=n,m for a matrix, "
                               f"{name}=n for a vector, {name}= for a scalar)")

    def check_function(self, tok):
        name = tok.text
        if name in functions.BY_NOTATION or name in STRUCTURAL or name in functions.DEFINITIONS:
            return
        if name in self.symbols:
            raise ParseError(f"{name!r} is a symbol, not a function; calls are not allowed",
                             self.text, tok.column + len(name))
        known = known_names()
        raise UnknownNameError(f"unknown function {name!r} at column {tok.column}; "
                               + did_you_mean(name, known) + "known: " + ", ".join(known))

    def call(self, name, column, args):
        if name == "tr" and len(args) == 1 and _square_hadamard(args[0]):
            self.hints.append(f"note (column {column}): * is elementwise, so this is the "
                              f"trace of an elementwise product; the trace of the matrix "
                              f"product is tr(A@B)")
        definition = functions.DEFINITIONS.get(name)
        if definition is not None and (name not in functions.BY_NOTATION or len(args) != 1):
            return self.at(column, definition.build, *args)
        if name in STRUCTURAL:
            build, arity = STRUCTURAL[name]
            if len(args) != arity:
                raise ParseError(f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, "
                                 f"got {len(args)}", self.text, column)
            return self.at(column, build, *args)
        if len(args) != 1:
            raise ParseError(f"{name}() takes exactly one argument, got {len(args)}", self.text,
                             column)
        return self.at(column, functions.apply, name, args[0])

    def dimension_call(self, tok):
        """eye(n), ones(n, m), commutation(n, m): dimensions, not expressions."""
        name = tok.text
        self.i += 1                       # the '('
        args = []
        while True:
            t = self.tokens[self.i]
            self.i += 1
            if t.kind == "number" and re.fullmatch(r"[0-9]+", t.text) and int(t.text[:12]) > 0:
                args.append(self.at(t.column, dimension, t.text))
            elif t.kind == "name" and t.text in self.dims:
                args.append(self.dims[t.text])
            elif t.kind == "name":
                raise UnknownNameError(f"unknown dimension {t.text!r} at column {t.column}; "
                                       f"declared dimensions: " + (", ".join(sorted(self.dims)) or "none"))
            else:
                self.error("expected a dimension name or a positive integer", t)
            t = self.tokens[self.i]
            self.i += 1
            if t.kind == "op" and t.text == ",":
                continue
            if t.kind == "op" and t.text == ")":
                break
            self.error(f"expected ',' or ')' in {name}()", t)
        build, lo, hi = DIMENSION_FUNCTIONS[name]
        if not lo <= len(args) <= hi:
            raise ParseError(f"{name}() takes {lo} to {hi} dimensions, got {len(args)}",
                             self.text, tok.column)
        return build(*args)
