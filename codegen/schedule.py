"""The schedule: which backward statements to write, in what order, and what gets a name.

`backward_plan` replays matcalc's reverse walk (matcalc.reverse.walk: one Visit per node, parents
before children) with one change: the adjoint of a node is a *placeholder* symbol (`Adjoint`)
once it has been assigned, so a child's contribution reads `grad_h_relu * (h > 0)` rather than
the parent's whole formula written out again. Each visit becomes a `Group`: the comment citing the
node's differential rule and the transpose rules used, and the statements

    grad_C = <contribution>              first contribution to child C
    grad_C = grad_C + <contribution>     every further one (never +=: a saved array must not change)

A contribution that is the child's only one and costs nothing (a name, a number, `g * eye(n)`,
`c * ones(n, m)`, a transpose) is not assigned: it is substituted where it is used, so no
identity or ones matrix is ever formed and `tr(X @ A)` needs no `grad_XA` array.

`count_uses` counts the parents of every subexpression over the forward expression and all
backward statements; emit.py names a subexpression (computes it once) when it is used twice or
is expensive (`should_name`). This module decides nothing about identifiers or text.
"""
from dataclasses import dataclass, field

import sympy as sp
from sympy import (Determinant, HadamardProduct, Identity, Inverse, MatMul, MatrixSymbol, OneMatrix,
                   Transpose, ZeroMatrix)

from matcalc import ops
from matcalc.identify import Pull
from matcalc.reverse import differential_detector
from matcalc.nodes import (LogDet, LogSumExp, RowLogSumExp, Softmax)

LEAVES = (MatrixSymbol, sp.Symbol, sp.Number, Identity, OneMatrix, ZeroMatrix)
EXPENSIVE = (Softmax, RowLogSumExp, LogSumExp, Inverse, Determinant, LogDet)


class Adjoint(MatrixSymbol):
    """The adjoint G_N of a matrix node N, once assigned (a class of its own: no user symbol
    can ever be equal to it)."""


class ScalarAdjoint(sp.Symbol):
    """The adjoint g_N of a scalar (or 1 x 1) node N, once assigned."""


@dataclass
class Assignment:
    node: object          # the node (or variable) whose adjoint this line computes
    placeholder: object   # its Adjoint / ScalarAdjoint
    expr: object          # the contribution, in terms of forward nodes and earlier placeholders
    accumulate: bool      # grad = grad + expr


@dataclass
class Group:
    visit: object
    assignments: list = field(default_factory=list)


@dataclass
class BackwardPlan:
    groups: list
    placeholders: dict    # node -> placeholder, for every assigned adjoint
    results: dict         # variable -> expression of its gradient (placeholder or inline)


def is_trivial(G):
    """A contribution that costs nothing to substitute where it is used."""
    if isinstance(G, LEAVES):
        return True
    if isinstance(G, Transpose):
        return isinstance(G.arg, LEAVES)
    if isinstance(G, MatMul):
        coeff, mats = ops.split_coeff(G)
        return len(mats) == 1 and coeff.is_number and is_trivial(mats[0])
    if isinstance(G, sp.Mul):
        return all(is_trivial(a) for a in G.args)
    return False


def is_scalar_node(node):
    return not ops.is_matrix(node) or tuple(node.shape) == (1, 1)


def placeholder_for(node, k):
    if is_scalar_node(node):
        return ScalarAdjoint(f"adjoint{k}")
    return Adjoint(f"adjoint{k}", *node.shape)


def backward_plan(f, variables, visits):
    """Replay the visits of the reverse walk with placeholder adjoints (see the module docstring)."""
    n_contributions = {}
    for visit in visits:
        for child, _ in visit.pulled:
            n_contributions[child] = n_contributions.get(child, 0) + 1
    current = {f: sp.Integer(1)}          # node -> its adjoint as used by its own visit
    has_differential = differential_detector()
    placeholders = {}
    groups = []
    for visit in visits:
        N = visit.node
        G = current.get(N, placeholders.get(N))
        pull = Pull(has_differential)
        pull(G, visit.expansion)
        group = Group(visit)
        for child, contribution in pull.out:
            if is_scalar_node(child):
                contribution = ops.as_scalar_if_1x1(contribution)
            if n_contributions.get(child, 0) == 1 and is_trivial(contribution) \
                    and child not in variables:
                current[child] = contribution
                continue
            first = child not in placeholders
            if first:
                placeholders[child] = placeholder_for(child, len(placeholders))
                current.pop(child, None)
            group.assignments.append(Assignment(child, placeholders[child], contribution,
                                                accumulate=not first))
        groups.append(group)
    results = {}
    for v in variables:
        results[v] = placeholders.get(v, current.get(v))
    return BackwardPlan(groups, placeholders, results)


def count_uses(roots):
    """How many parents each subexpression has, over all roots (each distinct node once)."""
    count, seen = {}, set()
    for root in roots:
        count[root] = count.get(root, 0) + 1
        stack = [root]
        while stack:
            e = stack.pop()
            if e in seen or not isinstance(e, sp.Basic) or isinstance(e, LEAVES):
                continue
            seen.add(e)
            for a in e.args:
                if isinstance(a, sp.Basic):
                    count[a] = count.get(a, 0) + 1
                    stack.append(a)
    return count


def should_name(e, count):
    """Whether a subexpression gets its own statement (computed once, reused by name)."""
    if isinstance(e, LEAVES) or isinstance(e, (Adjoint, ScalarAdjoint, Transpose)):
        return False
    if isinstance(e, EXPENSIVE):
        return True
    if isinstance(e, MatMul):
        coeff, mats = ops.split_coeff(e)
        if any(isinstance(m, OneMatrix) for m in mats):
            return False                       # a broadcast row or column sum
    if isinstance(e, HadamardProduct) and count.get(e, 0) < 2:
        return False
    if not isinstance(e, sp.Basic) or e.is_number:
        return False
    if not ops.is_matrix(e) and not e.atoms(MatrixSymbol):
        return False                           # a number made of dimensions, such as 1/N
    return count.get(e, 0) >= 2
