"""Walks over the expression DAG, all iterative: depth is whatever the user builds.

An expression is a DAG: equal subexpressions are one node (SymPy expressions hash structurally),
so every walk here visits each distinct node once and costs time linear in the number of
distinct nodes, never in the size of the tree the DAG unfolds to. None of them recurses, so a
1000-layer network or a 5000-deep nest is a loop, not a RecursionError.

* `children(e)`          the subexpressions of a node (dimension sizes and names excluded)
* `postorder(root)`      every node, children before parents
* `transform(root, fn)`  rebuild bottom-up: fn(node, new_children) once per node, memoised
* `depends_on(root, vs)` node -> whether it contains one of vs
* `collect(root, test)`  the nodes for which test(node) holds, in postorder
* `size(root)`           the number of distinct nodes

The leaves (symbols, numbers, identity/ones/zero matrices, names, and the adjoint placeholders
of the reverse walk, which stand for values) have no children.
"""
import sympy as sp
from sympy import Identity, MatrixSymbol, OneMatrix, ZeroMatrix
from sympy.core.symbol import Str

from .nodes import ADJOINTS, Commutation

# the adjoint placeholders of the reverse walk stand for values: their node is not a child
LEAVES = (MatrixSymbol, sp.Symbol, sp.Number, Identity, OneMatrix, ZeroMatrix, Str, Commutation,
          sp.NumberSymbol) + ADJOINTS


def is_leaf(e):
    return isinstance(e, LEAVES) or not isinstance(e, sp.Basic)


def is_child_arg(a):
    """Whether an argument of a node is a child (a subexpression), not a number or a name."""
    return isinstance(a, sp.Basic) and not isinstance(a, (Str, sp.Number))


def children(e):
    """The subexpressions of e that carry values (not its dimension sizes or function name);
    remembered on the node where it has room (matrix nodes), since every walk asks."""
    d = getattr(e, "__dict__", None)
    if d is not None:
        kids = d.get("_matcalc_children")
        if kids is not None:
            return kids
    kids = () if is_leaf(e) else tuple(a for a in e.args if is_child_arg(a))
    if d is not None:
        d["_matcalc_children"] = kids
    return kids


def postorder(root, kids=children):
    """Every distinct node of root, children before parents (an explicit stack, no recursion)."""
    return postorder_many([root], kids)


def postorder_many(roots, kids=children):
    """postorder over several roots at once, each distinct node once."""
    order, seen = [], set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            for k in reversed(kids(node)):
                if k not in seen:
                    stack.append((k, False))
    return order


def transform(root, fn, memo=None, kids=children):
    """Rebuild root bottom-up: fn(node, [rebuilt children]) for each distinct node, once.

    `memo` (node -> result) may be shared between calls to reuse work; leaves are passed to fn
    with no children too, so fn decides what a leaf becomes.
    """
    memo = {} if memo is None else memo
    if root in memo:
        return memo[root]
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if node in memo:
            continue
        ks = kids(node)
        if expanded:
            memo[node] = fn(node, [memo[k] for k in ks])
            continue
        stack.append((node, True))
        for k in reversed(ks):
            if k not in memo:
                stack.append((k, False))
    return memo[root]


def depends_on(root, variables, memo=None):
    """node -> True when the node contains one of `variables` (for every node of root)."""
    variables = set(variables)
    memo = {} if memo is None else memo
    for node in postorder(root):
        if node not in memo:
            memo[node] = node in variables or any(memo[k] for k in children(node))
    return memo


def collect(root, test):
    """The distinct nodes of root for which test(node) is true, children before parents."""
    return [n for n in postorder(root) if test(n)]


def size(root):
    return len(postorder(root))
