"""The lines of a derivation as data, and how a group of visits composes into one differential.

A `Row` is one printed line: `lhs = rhs` with the Note it cites, or a heading. Its `role` says
what kind of equation it is, so a reader (a printer, the check that every line is true) knows
how to take it: a "definition" names a value, a "differential" equates two linear forms in
differentials, a "read off" gives an adjoint or gradient (`of` the node it belongs to).
"""
from dataclasses import dataclass

from ..core import dag
from ..core.nodes import Differential, ScalarDifferential
from ..core.rebuild import rebuild


@dataclass
class Row:
    """One line of the derivation: lhs = rhs, with a note; or a heading when lhs is None."""
    lhs: object
    rhs: object
    note: object = ""            # a Note (rule, identity) or plain words
    heading: str = ""
    continued: bool = False      # "= rhs" continuing the previous line
    shape: bool = False          # the note is the shape of lhs (forward pass)
    role: str = "differential"   # "definition", "differential", "read off"
    of: object = None            # the node a read-off belongs to


def unique_rules(rules):
    out = []
    for r in rules:
        if r not in out:
            out.append(r)
    return out


def composed(visits, has_differential):
    """The differential of the first visit's node with the differentials of the other visits'
    nodes (of one group) replaced by their own expansions, children first. Only the parts
    that hold a differential are rebuilt (has_differential is memoised for the whole walk)."""
    done = {}

    def kids(n):
        if isinstance(n, (Differential, ScalarDifferential)) or not has_differential(n):
            return ()
        return dag.children(n)

    def build(n, new):
        if isinstance(n, (Differential, ScalarDifferential)):
            return done.get(n.arg, n)
        if not has_differential(n):
            return n
        return rebuild(n, new)

    for v in reversed(visits):
        done[v.node] = dag.transform(v.expansion, build, kids=kids)
    return done[visits[0].node]


def over_names(e, names, symbols, memo, root_kept=False):
    """e with every named node (a forward name or a named adjoint: names maps it to its
    identifier, symbols the identifier to its symbol) written as its symbol; root_kept keeps e
    itself whole (its definition), with a memo of its own."""
    def kids(n):
        if n in names and not (root_kept and n is e):
            return ()
        return dag.children(n)

    def build(n, new):
        if n in names and not (root_kept and n is e):
            return symbols[names[n]]
        return rebuild(n, new)

    return dag.transform(e, build, memo={} if root_kept else memo, kids=kids)
