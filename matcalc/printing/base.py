"""The printer machinery every printer shares: exact-type dispatch, precedence, no recursion.

A printer turns an expression into (text, precedence). An operand is parenthesised when its
precedence is too low for its place (Python's rules: `**` > unary minus > `@ * /` > `+ -`), never
by searching printed strings.

* **Exact-type dispatch with a clear miss.** A node is printed by the method named after its
  exact class (`_MatMul`), or by its record in the function registry (every function of the
  notation); anything else is a `PrintError` naming the node. Nothing falls back along the MRO.
* **Iterative.** `doprint` first prints every distinct node of the DAG in postorder, so when a
  method asks for a child's text it is a lookup, never a recursive descent: a 5000-deep
  expression prints as a loop. (A method may print a small expression it builds from its
  children, such as the negation of a term; that nests only as deep as what it built.)
* **Linear in the output.** A deep expression printed as a tree nests every subexpression's
  text in its parent's; building each of those strings would cost the sum of their lengths
  (cubic for a deep network's gradient). A text longer than LONG is stashed and its parent holds
  a short token for it (keeping a leading minus); `expand` joins the pieces once at the end.
* **Bounded.** A DAG printed as a tree can be exponentially longer than the DAG; a text longer
  than `max_chars` raises a `PrintError` instead of filling the memory.
* **Names.** `names` maps nodes to identifiers: a named node prints as its name. The adjoint
  placeholders of the reverse walk print through it too (`grad_h`). The printer records which
  names each printed text refers to (`used`): what a generated line reads is what was printed,
  not what the expression's structure suggests (a printed negation of a term may be a named
  value), so liveness analyses read it from here.

Subclasses (text.py, latex.py, codegen's NumPy printer) only spell things.
"""
import re

import sympy as sp

from ..errors import MatcalcError
from ..core import dag
from ..core.functions import record_of

CMP, ADD, MUL, NEG, POW, ATOM = 5, 10, 20, 30, 40, 50
PRECEDENCE = {"atom": ATOM, "mul": MUL, "add": ADD, "pow": POW, "neg": NEG}
MAX_CHARS = 20_000_000
LONG = 2000                        # a longer text is stashed and referred to by a token
TOKEN = re.compile("\ue000(\\d+)\ue001")


def signed_fraction(coeff):
    """(negative, numerator, denominator) of a scalar coefficient, as every printer writes it:
    -3/4 is (True, 3, 4); a float is its own numerator."""
    negative = coeff.could_extract_minus_sign()
    if negative:
        coeff = -coeff
    num, den = sp.fraction(coeff) if not coeff.is_Float else (coeff, sp.Integer(1))
    return negative, num, den


class PrintError(MatcalcError):
    """An expression a printer cannot write: an unknown node, or text beyond the size bound."""


class Printer:
    """Precedence printing over a memo of (text, precedence) per node."""
    what = "expression"            # for error messages: "to_text", "LaTeX", "NumPy code"

    def __init__(self, names=None, max_chars=MAX_CHARS):
        self.names = names or {}
        self.max_chars = max_chars
        self.memo = {}
        self.stashed = []          # token number -> text (itself with tokens)
        self.lengths = []          # token number -> its text's expanded length
        self.used = {}             # node -> the names its printed text refers to
        self.collecting = []       # the names the texts being printed refer to, innermost last

    # -- entry point --
    def doprint(self, e):
        return self.expand(self.p(e)[0])

    def expand(self, text):
        """text with every token replaced by its stashed text, recursively (no recursion)."""
        if "\ue000" not in text:
            return text
        out, stack = [], [text]
        while stack:
            t = stack.pop()
            if isinstance(t, int):
                stack.append(self.stashed[t])
                continue
            pieces, pos = [], 0
            for m in TOKEN.finditer(t):
                pieces.append(t[pos:m.start()])
                pieces.append(int(m.group(1)))
                pos = m.end()
            if not pieces:
                out.append(t)
                continue
            pieces.append(t[pos:])
            stack.extend(reversed(pieces))
        return "".join(out)

    def expanded_length(self, text):
        extra = 0
        for m in TOKEN.finditer(text):
            extra += self.lengths[int(m.group(1))] - len(m.group(0))
        return len(text) + extra

    def p(self, e):
        """(text, precedence) of e; every node below e is printed first, without recursion."""
        if isinstance(e, bool):
            raise TypeError("booleans are not expressions")
        if isinstance(e, (int, float)):
            e = sp.sympify(e)
        hit = self.memo.get(e)
        if hit is None:
            nodes = dag.postorder(e, self.children) if not dag.is_leaf(e) else [e]
            for node in nodes:
                if node not in self.memo:
                    self.compute(node)
            hit = self.memo[e]
        if self.collecting:
            self.collecting[-1].update(self.used[e])
        return hit

    def compute(self, node):
        """Print one node (its children are printed), recording the names its text uses."""
        self.collecting.append(set())
        try:
            out = self.checked(self.print_node(node))
        finally:
            used = self.collecting.pop()
        name = self.names.get(node)
        self.memo[node] = out
        self.used[node] = frozenset({name} if name is not None else used)

    def define(self, e):
        """(text, precedence) of e's own definition, even when e has a name (the right side of
        `name = ...`)."""
        text, prec, _ = self.define_with_names(e)
        return text, prec

    def define_with_names(self, e):
        """(text, precedence, the names the text refers to) of e's own definition."""
        for k in dag.children(e):
            self.p(k)
        self.collecting.append(set())
        try:
            text, prec = self.checked(self.print_unnamed(e))
        finally:
            used = self.collecting.pop()
        return text, prec, used

    def names_in(self, e):
        """The names the printed text of e refers to (what a line that prints e reads)."""
        self.p(e)
        return self.used[e]

    def children(self, e):
        """What must be printed before e: its children, except below a named node."""
        if e in self.names:
            return ()
        return dag.children(e)

    def checked(self, out):
        text, prec = out
        if len(text) <= LONG and "\ue000" not in text:
            return out
        length = self.expanded_length(text)
        if length > self.max_chars:
            raise PrintError(f"the {self.what} would be longer than {self.max_chars:,} characters "
                             f"(a DAG written out as a tree); name its repeated parts instead")
        if len(text) <= LONG:
            return out
        lead = "-" if text.startswith("-") else ""
        self.stashed.append(text[len(lead):])
        self.lengths.append(length - len(lead))
        return f"{lead}\ue000{len(self.stashed) - 1}\ue001", prec

    def print_node(self, e):
        name = self.names.get(e)
        if name is not None:
            return self.named(e, name)
        return self.print_unnamed(e)

    def print_unnamed(self, e):
        method = getattr(self, "_" + type(e).__name__, None)
        if method is not None:
            return method(e)
        record = record_of(e)
        if record is not None:
            return self.function(record, self.function_arg(e))
        if isinstance(e, sp.Number):
            return self._Number(e)
        raise PrintError(f"{self.what} cannot print {type(e).__name__} ({sp.srepr(e)[:80]})")

    def function_arg(self, e):
        return e.arg if hasattr(e, "arg") else e.args[0]

    def named(self, e, name):
        return name, ATOM

    # -- precedence helpers --
    def wrap(self, e, min_prec, strict=False):
        """The text of e, in parentheses when its precedence is below min_prec (or equal, when
        strict: the right operand of a left-associative operator)."""
        text, prec = self.p(e)
        return self.wrap_text(text, prec, min_prec, strict)

    def wrap_text(self, text, prec, min_prec, strict=False):
        if prec < min_prec or (strict and prec == min_prec):
            return self.parens(text)
        return text

    def parens(self, text):
        return f"({text})"

    def function(self, record, arg):
        raise NotImplementedError
