"""matrixcalculus.org's input language, translated to the notation (`syntax="mc"`, `--syntax mc`).

    translate("x'*A*x")   ->  Translation(text='x.T@A@x', assumed={'x': ('n',), 'A': ('n', 'n')})

What it reads: `'` transpose, `*` the matrix product (scaling when a side is a scalar), `.*`
`./` `.^` entry by entry, `^` a power (of a square matrix: `X^-1` is inv(X), `X^k` the matrix
power; otherwise entry by entry), `/` division, `+ -`, parentheses, numbers, and the functions
of the notation plus matrixcalculus.org's spellings (`norm2` is `norm` of a vector, `vector(c)` a
column of c, `matrix(c)` a square matrix of c, `log`, `exp`, `det`, `tr`, `inv`, ...).
Undeclared names take matrixcalculus.org's letter conventions for their kind: a-g scalars, h-z
vectors (n x 1), A-Z matrices (n x n); every such assumption is returned, to be shown.

How: the text is read by a small operator-precedence parser with explicit stacks (like
parse.py) into a tree, and the tree is written out in the notation bottom up. Where the meaning
of `*` or `^` depends on shapes, each operand's text is parsed by the notation's own parser to
learn its shape. Nothing is evaluated; the translated text goes through `parse` like any other.
"""
import re
from dataclasses import dataclass

from ..core.shapes import is_matrix
from ..errors import ParseError
from . import parse as notation

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\.\*|\./|\.\^|[-+*/^'(),])
""", re.VERBOSE)

BINARY = {"+": 10, "-": 10, "*": 20, "/": 20, ".*": 20, "./": 20, "^": 40, ".^": 40}
UNARY = 30
SPELLINGS = {"norm2": "norm", "ln": "log", "trace": "tr", "Tr": "tr"}


@dataclass(frozen=True)
class Translation:
    text: str             # the expression in the notation
    assumed: dict         # name -> shape taken from the letter conventions

    def note(self):
        said = f"read as: {self.text}"
        if self.assumed:
            said += " (assuming " + ", ".join(
                f"{n}: {' x '.join(s) if len(s) == 2 else s[0] + ' x 1' if s else 'scalar'}"
                for n, s in self.assumed.items()) + ")"
        return said


def default_shape(name):
    """matrixcalculus.org's conventions: a-g scalars, h-z vectors, A-Z matrices."""
    first = name[0]
    if first.isupper():
        return ("n", "n")
    return () if first in "abcdefg" else ("n",)


def tokens_of(text):
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ParseError(f"unexpected character {text[pos]!r} in matrixcalculus.org syntax",
                             text, pos + 1)
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group(), pos + 1))
        pos = m.end()
    out.append(("end", "", len(text) + 1))
    return out


ATOM = 100
NOTATION_PREC = {"+": 10, "-": 10, "@": 20, "*": 20, "/": 20, "**": 40}


class _Node:
    """A piece of translated text and how tightly its outermost operator binds (ATOM: a name,
    number, call or transpose), so that it is parenthesised only where the notation needs it."""
    __slots__ = ("text", "prec")

    def __init__(self, text, prec=ATOM):
        self.text, self.prec = text, prec

    def operand(self, at_least=ATOM):
        return self.text if self.prec >= at_least else f"({self.text})"


def translate(text, shapes=None):
    """The notation's text for matrixcalculus.org `text`, and the shapes it assumed."""
    shapes = dict(shapes or {})
    assumed = {}
    for kind, word, _ in tokens_of(text):
        if kind == "name" and word not in shapes and word not in assumed \
                and not _is_function(word, text):
            assumed[word] = default_shape(word)
    every = {**shapes, **assumed}

    def shape_of(node):
        e = notation.parse(node.text, every)
        return tuple(e.shape) if is_matrix(e) and tuple(e.shape) != (1, 1) else None

    return Translation(_Reader(text, shape_of).read().text, assumed)


def _is_function(word, text):
    return re.search(rf"\b{re.escape(word)}\s*\(", text) is not None


class _Reader:
    def __init__(self, text, shape_of):
        self.text, self.tokens, self.shape_of = text, tokens_of(text), shape_of

    def read(self):
        operands, operators = [], []
        expect_operand, i = True, 0
        while True:
            kind, word, column = self.tokens[i]
            i += 1
            if expect_operand:
                if word in ("-", "+"):
                    operators.append(("neg" if word == "-" else "pos", column))
                elif kind == "number":
                    operands.append(_Node(word))
                    expect_operand = False
                elif kind == "name" and self.tokens[i][1] == "(":
                    operators.append(("call", word, column, []))
                    i += 1
                elif kind == "name":
                    operands.append(_Node(word))
                    expect_operand = False
                elif word == "(":
                    operators.append(("paren", column))
                else:
                    raise ParseError("expected a number, a name, a call or '('", self.text, column)
                continue
            if word == "'":
                operands[-1] = _Node(operands[-1].operand() + ".T")
            elif word in BINARY:
                self.reduce(operands, operators, BINARY[word], right=word in ("^", ".^"))
                operators.append(("bin", word, column))
                expect_operand = True
            elif word in (")", ","):
                self.reduce(operands, operators, 0)
                if not operators or operators[-1][0] not in ("paren", "call"):
                    raise ParseError(f"unmatched {word!r}", self.text, column)
                if word == ",":
                    operators[-1][3].append(operands.pop())
                    expect_operand = True
                    continue
                opener = operators.pop()
                if opener[0] == "call":
                    operands.append(self.call(opener[1], opener[3] + [operands.pop()]))
                else:
                    operands[-1] = _Node(operands[-1].operand())
            elif kind == "end":
                self.reduce(operands, operators, 0)
                if operators:
                    raise ParseError("expected ')'", self.text, column)
                return operands[0]
            else:
                raise ParseError("expected an operator", self.text, column)

    def reduce(self, operands, operators, prec, right=False):
        while operators and operators[-1][0] in ("bin", "neg", "pos"):
            top = operators[-1]
            top_prec = UNARY if top[0] != "bin" else BINARY[top[1]]
            if top_prec < prec or (top_prec == prec and right):
                return
            operators.pop()
            if top[0] != "bin":
                a = operands.pop()
                operands.append(_Node(("-" if top[0] == "neg" else "") + a.operand(UNARY), UNARY))
                continue
            b, a = operands.pop(), operands.pop()
            operands.append(self.binary(top[1], a, b))

    def binary(self, op, a, b):
        if op == "*":
            both = self.shape_of(a) is not None and self.shape_of(b) is not None
            op = "@" if both else "*"
        elif op == "^":
            shape = self.shape_of(a)
            if shape is not None and shape[0] == shape[1]:
                k = b.text.strip("()")
                if k == "-1":
                    return _Node(f"inv({a.text})")
                if k.isdigit():
                    return _Node(f"matrix_power({a.text}, {k})")
            op = "**"
        else:
            op = {".*": "*", "./": "/", ".^": "**"}.get(op, op)
        p = NOTATION_PREC[op]
        if op == "**":                    # right associative
            return _Node(f"{a.operand(p + 1)}**{b.operand(p)}", p)
        return _Node(f"{a.operand(p)} {op} {b.operand(p + 1)}", p)

    def call(self, name, args):
        if name in ("vector", "matrix") and len(args) == 1:
            ones = "ones(n)" if name == "vector" else "ones(n, n)"
            if args[0].text == "1":
                return _Node(ones)
            return _Node(f"{args[0].operand(20)}*{ones}", 20)
        name = SPELLINGS.get(name, name)
        return _Node(f"{name}({', '.join(a.text for a in args)})")


def parse_mc(text, shapes=None):
    """The expression of matrixcalculus.org `text`; its Source carries the translation note."""
    translation = translate(text, shapes)
    return notation.parse(translation.text, {**(shapes or {}), **translation.assumed},
                          hints=(translation.note(),))


notation.SYNTAXES["mc"] = parse_mc
