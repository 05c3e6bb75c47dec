"""What the user may assume about a variable's values, and the facts the simplifier may use.

`grad(f, "z", assume={"y": "onehot"})` (`--assume y=onehot` on the command line) says every
value y will take is one-hot. A kind of value is one record: its name, the facts it gives, and
how to draw values that satisfy it (the numeric checks draw those, since a result simplified
with a fact holds only where the fact does). For a matrix the kind describes each column.

    onehot     columns e_k                          sum(y) = 1, y**k = y, abs(y) = y, relu(y) = y
    simplex    columns >= 0 whose entries sum to 1  sum(y) = 1, abs(y) = y, relu(y) = y

A fact is a small rule keyed by its name; the first line of its docstring is the identity,
with {x} for the variable and {columns} for its number of columns (1 for a vector). The
simplifier (calculus/simplify.py) applies the facts of the assumed variables to every node it
rebuilds and records which fired, so a derivation can say where an assumption was used:
"simplify, using sum(y) = 1 (y is one-hot, as assumed)".

The facts are about values, so they hold in a result evaluated at any point where the
assumption holds: a gradient simplified with sum(y) = 1 is the gradient at every one-hot y.
"""
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy import HadamardPower

from ..core import dag, functions
from ..core.ops import free_variables
from ..core.shapes import is_matrix
from ..errors import MatcalcError
from ..printing.text import to_text


class AssumptionError(MatcalcError):
    """An assumption on a name that is not a variable of the function, or of an unknown kind."""


# ---- facts ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    name: str
    function: object     # (node, x) -> what node equals when the fact holds for x, or None

    @property
    def identity(self):
        return self.function.__doc__.strip().splitlines()[0]

    def cite(self, x):
        """The identity for the variable x: 'sum(y) = 1'."""
        columns = x.shape[1] if x.shape[0] != 1 else 1
        return self.identity.format(x=x.name, columns=to_text(sp.sympify(columns)))


def sum_is_columns(node, x):
    """sum({x}) = {columns}"""
    if functions.record_of(node) is functions.FUNCTIONS["sum"] and node.arg == x:
        return sp.Integer(1) if x.shape[0] == 1 else x.shape[1]
    return None


def zero_one_power(node, x):
    """{x}**k = {x}"""
    if isinstance(node, HadamardPower) and node.args[0] == x and node.args[1].is_Integer \
            and node.args[1] > 0:
        return x
    return None


def abs_of_nonnegative(node, x):
    """abs({x}) = {x}"""
    return x if functions.record_of(node) is functions.FUNCTIONS["abs"] and node.arg == x else None


def relu_of_nonnegative(node, x):
    """relu({x}) = {x}"""
    return x if functions.record_of(node) is functions.FUNCTIONS["relu"] and node.arg == x else None


FACTS = {f.name: f for f in (
    Fact("entries sum to 1", sum_is_columns),
    Fact("entries are 0 or 1", zero_one_power),
    Fact("nonnegative (abs)", abs_of_nonnegative),
    Fact("nonnegative (relu)", relu_of_nonnegative),
)}


# ---- kinds ---------------------------------------------------------------------------------------
def draw_onehot(shape, rng):
    """Each column a unit vector e_k, k random."""
    rows, cols = shape
    v = np.zeros(shape)
    v[rng.integers(0, rows, cols), np.arange(cols)] = 1.0
    return v


def draw_simplex(shape, rng):
    """Each column uniform on the simplex (Dirichlet(1, ..., 1)): entries > 0 summing to 1."""
    return np.stack([rng.dirichlet(np.ones(shape[0])) for _ in range(shape[1])], axis=1)


@dataclass(frozen=True)
class Kind:
    name: str            # what the user writes: "onehot"
    adjective: str       # how a derivation says it: "y is one-hot"
    facts: tuple         # names of FACTS
    draw_columns: object  # (rows x cols, rng) -> values whose columns are of this kind

    def draw(self, shape, rng):
        """Values of a concrete shape ((n,), (n, 1), (1, n) or (n, m)) satisfying the kind."""
        if len(shape) == 1 or shape[0] == 1:
            n = shape[0] if shape[0] != 1 else shape[-1]
            return self.draw_columns((n, 1), rng).reshape(shape)
        return self.draw_columns(tuple(shape), rng)


KINDS = {k.name: k for k in (
    Kind("onehot", "one-hot", ("entries sum to 1", "entries are 0 or 1", "nonnegative (abs)",
                               "nonnegative (relu)"), draw_onehot),
    Kind("simplex", "on the probability simplex",
         ("entries sum to 1", "nonnegative (abs)", "nonnegative (relu)"), draw_simplex),
)}


# ---- the assumptions of one derivation ----------------------------------------------------------
class Assumptions(dict):
    """name -> Kind for the assumed variables of one derivation; also records, node by node of
    the expressions simplified with it, the facts that fired (`used_in`)."""

    def __init__(self, symbols, kinds):
        super().__init__(kinds)
        self.symbols = symbols          # name -> the variable
        self.fired = {}                 # node simplified -> [cited facts]

    def rewrite(self, node, at):
        """node with the first applicable fact applied (recorded against `at`, the node being
        simplified), or node itself."""
        for name, kind in self.items():
            x = self.symbols[name]
            for fact_name in kind.facts:
                out = FACTS[fact_name].function(node, x)
                if out is not None:
                    self.fired.setdefault(at, []).append(self.note_of(fact_name, name))
                    return out
        return node

    def note_of(self, fact_name, name):
        return f"{FACTS[fact_name].cite(self.symbols[name])} ({name} is {self[name].adjective}, as assumed)"

    def note(self, e):
        """'using sum(y) = 1 (y is one-hot, as assumed)' for the facts used in simplifying e, or
        '' when none was."""
        used = self.used_in(e)
        return "using " + "; ".join(used) if used else ""

    def used_in(self, e):
        """The facts used while simplifying e, in the order they fired, each once."""
        out = []
        for node in dag.postorder(e):
            for note in self.fired.get(node, ()):
                if note not in out:
                    out.append(note)
        return out


def assumptions_of(f, assume):
    """An Assumptions for f from {name: kind name}; None when there are none. A name that is not
    a matrix variable of f, or a kind that is not one of KINDS, is an AssumptionError."""
    if not assume:
        return None
    if not isinstance(assume, dict):
        raise AssumptionError(f"assume must be a dict {{name: kind}}, got {assume!r}")
    variables = free_variables(f)
    kinds = {}
    for name, kind in assume.items():
        if kind not in KINDS:
            raise AssumptionError(f"unknown assumption {kind!r} for {name}; known: "
                                  + ", ".join(sorted(KINDS)))
        if name not in variables:
            raise AssumptionError(f"cannot assume {name} is {kind}: {name} is not a variable of the "
                                  "function; its variables are: " + (", ".join(sorted(variables)) or "none"))
        if not is_matrix(variables[name]):
            raise AssumptionError(f"cannot assume {name} is {kind}: {name} is a scalar; {kind} "
                                  "describes a vector (or each column of a matrix)")
        kinds[name] = KINDS[kind]
    return Assumptions({n: variables[n] for n in kinds}, kinds)


def parse_assume(items):
    """['y=onehot', ...] (the command line's --assume) -> {'y': 'onehot'}."""
    out = {}
    for item in items or []:
        name, eq, kind = item.partition("=")
        name, kind = name.strip(), kind.strip()
        if not eq or not name or not kind:
            raise AssumptionError(f"bad --assume {item!r}: write NAME=KIND, e.g. y=onehot "
                                  "(kinds: " + ", ".join(sorted(KINDS)) + ")")
        if name in out:
            raise AssumptionError(f"--assume {name} is given twice")
        out[name] = kind
    return out
