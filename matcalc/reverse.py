"""The reverse walk: expand dL node by node, from the output back to the variables.

The expression is a DAG: equal subexpressions are one node (SymPy expressions hash
structurally). The walk visits only nodes that depend on a variable, in reverse topological
order, so a node's adjoint G_N (dL = tr(G_N.T @ dN)) is complete -- summed over all its
parents -- before the node is expanded, and every shared subexpression is expanded once. Each
visit applies the node's differential rule (differentials.py) and transposes the result onto
the children (identify.py). The work grows linearly with the number of nodes.

Every visit is recorded as a `Visit` (data, not text); derivation.py turns them into the
steps a student reads, so the explanation is produced by the code that computes the result.
"""
from dataclasses import dataclass

import sympy as sp
from sympy import Identity, MatrixSymbol, OneMatrix, ZeroMatrix
from sympy.core.symbol import Str

from . import ops
from .differentials import rule_for
from .identify import Pull
from .nodes import Differential, ScalarDifferential

LEAVES = (MatrixSymbol, sp.Symbol, sp.Number, Identity, OneMatrix, ZeroMatrix, Str)


def children(node):
    """The subexpressions a node's differential rule may differentiate."""
    if isinstance(node, LEAVES):
        return ()
    return tuple(a for a in node.args if isinstance(a, sp.Basic) and not isinstance(a, (Str, sp.Number)))


def placeholder(e):
    return Differential(e) if ops.is_matrix(e) else ScalarDifferential(e)


@dataclass
class Visit:
    node: object          # N
    adjoint: object       # G_N: dL = tr(G_N.T @ dN)
    expansion: object     # dN from the node's rule, linear in the children's differentials
    rule: object          # differentials.Rule
    pulled: list          # [(child, G contribution)]
    pull_rules: list      # the identify rules (rules.Rule) used


def topological_order(root, variables):
    """Nodes that depend on a variable, parents before children (reverse post-order)."""
    depends = {}
    post = []
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            kids = children(node)
            depends[node] = node in variables or any(depends.get(k, False) for k in kids)
            if depends[node]:
                post.append(node)
            continue
        if node in depends:
            continue
        depends[node] = False     # visiting; finalised on the way back
        stack.append((node, True))
        for k in children(node):
            if k not in depends:
                stack.append((k, False))
    return post[::-1], depends


def differential_detector():
    """A memoised test: does an expression hold a differential? One memo per walk, so the cost
    over a whole derivation is linear in the size of the DAG."""
    memo = {}

    def has_differential(e):
        if isinstance(e, (Differential, ScalarDifferential)):
            return True
        if isinstance(e, LEAVES) or not isinstance(e, sp.Basic):
            return False
        hit = memo.get(e)
        if hit is None:
            hit = any(has_differential(a) for a in e.args if isinstance(a, sp.Basic))
            memo[e] = hit
        return hit
    return has_differential


def add_adjoint(a, b):
    if a is None:
        return b
    return ops.add(a, b)


def walk(f, variables):
    """(adjoints of the variables, visits) for the scalar f."""
    variables = set(variables)
    order, depends = topological_order(f, variables)
    has_differential = differential_detector()

    def d(child):
        if depends.get(child, False):
            return placeholder(child)
        return ZeroMatrix(*child.shape) if ops.is_matrix(child) else sp.Integer(0)

    adjoints = {f: sp.Integer(1)} if order else {}
    visits = []
    for node in order:
        if node in variables:
            continue
        G = adjoints.pop(node, None)
        if G is None or ops.is_zero(G):
            continue
        rule = rule_for(node)
        expansion = rule(node, d)
        pull = Pull(has_differential)
        pull(G, expansion)
        for child, contribution in pull.out:
            adjoints[child] = add_adjoint(adjoints.get(child), contribution)
        visits.append(Visit(node, G, expansion, rule, pull.out, pull.used))
    return {v: adjoints.get(v) for v in variables}, visits
