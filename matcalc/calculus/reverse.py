"""The reverse walk: expand dL node by node, from the output back to the variables.

This is the one place where transpose rules run and adjoints accumulate. Everything that needs
a backward pass reads its record: `grad` takes the gradients, `Derivation` renders the visits as
steps, codegen schedules them as statements, `nn.Backprop` groups them by layer.

The expression is a DAG: equal subexpressions are one node (SymPy expressions hash
structurally). The walk visits only nodes that depend on a variable, in reverse topological
order, so a node's adjoint G_N (dL = tr(G_N.T @ dN)) is complete -- summed over all its parents
-- before the node is expanded, and every shared subexpression is expanded once. Each visit
applies the node's differential rule (differentials.py) and transposes the result onto the
children (transpose.py). The work grows linearly with the number of nodes.

Every visit is recorded twice over, as data:
* against the *placeholder* of the node's adjoint (`Adjoint(N)`, printed `grad_<name>` by
  whoever names N): a child's contribution reads `grad_h_relu * step(h)`, the form generated
  code and a layer-by-layer derivation write;
* with the placeholder substituted by the adjoint's value (`value`), the form `grad` returns.
"""
from dataclasses import dataclass, field

import sympy as sp

from ..core import dag, ops
from ..core.nodes import ADJOINTS, Adjoint, Differential, ScalarAdjoint, ScalarDifferential
from ..core.rebuild import Substitution
from .differentials import derivative_of, rule_for
from .transpose import Pull


def placeholder(e):
    """The differential placeholder of a node: dX for a matrix, ds for a scalar."""
    return Differential(e) if ops.is_matrix(e) else ScalarDifferential(e)


def adjoint_placeholder(node):
    """The placeholder for G_N: a matrix Adjoint, or a scalar one for scalars and 1 x 1 nodes."""
    if ops.is_matrix(node) and tuple(node.shape) != (1, 1):
        return Adjoint(node)
    return ScalarAdjoint(node)


@dataclass(frozen=True)
class Contribution:
    child: object         # C
    expr: object          # its share of G_C, in terms of the visit's placeholder
    value: object         # the same with the placeholder's value substituted


@dataclass(frozen=True)
class Visit:
    node: object          # N
    adjoint: object       # the placeholder G_N (1 for the function itself)
    value: object         # G_N's value: the sum of the contributions N received
    expansion: object     # dN from the node's rule, linear in the children's differentials
    rule: object          # the differential rule (core.rules.Rule)
    derivative: object    # the f' rule of an elementwise function, else None
    pulled: tuple         # Contributions, in the order the transpose rules produced them
    pull_rules: tuple     # the transpose rules used


@dataclass
class Walk:
    f: object
    variables: list
    visits: list                                     # parents before children
    gradients: dict = field(default_factory=dict)    # variable -> G (None if unreached)
    received: dict = field(default_factory=dict)     # node -> [Contribution] it received


def topological_order(root, variables):
    """Nodes that depend on a variable, parents before children; and the dependence table."""
    depends = dag.depends_on(root, variables)
    order = [n for n in dag.postorder(root) if depends[n]]
    return order[::-1], depends


def differential_detector():
    """A memoised test: does an expression hold a differential? One memo per walk, so the cost
    over a whole derivation is linear in the size of the DAG."""
    memo = {}

    def unknown(e):
        return tuple(k for k in dag.children(e) if k not in memo)

    def has_differential(e):
        hit = memo.get(e)
        if hit is None:
            for n in dag.postorder(e, unknown):
                if n not in memo:
                    memo[n] = isinstance(n, (Differential, ScalarDifferential)) or \
                        any(memo[k] for k in dag.children(n))
            hit = memo[e]
        return hit
    return has_differential


def walk(f, variables, values=True):
    """The reverse walk of the scalar f for the given variables (see the module docstring).

    values=False records only the placeholder forms (what a program of statements needs):
    a contribution's `value` is then its placeholder form, and the gradients are not formed.
    """
    variables = list(variables)
    wanted = set(variables)
    order, depends = topological_order(f, wanted)
    has_differential = differential_detector()
    substitute = Substitution(lambda n: isinstance(n, ADJOINTS))

    def d(child):
        if depends.get(child, False):
            return placeholder(child)
        return ops.zero_like(child)

    one = sp.Integer(1)
    received = {f: [Contribution(f, one, one)]}        # the seed: dL = 1 * dL
    visits = []
    for node in order:
        if node in wanted:
            continue
        parts = received.get(node)
        if not parts:
            continue
        G = ops.add(*[c.value for c in parts]) if len(parts) > 1 else parts[0].value
        if values and ops.is_zero(G):
            continue
        G_placeholder = one if node is f else adjoint_placeholder(node)
        rule = rule_for(node)
        expansion = rule(node, d)
        pull = Pull(has_differential)
        pull(G_placeholder, expansion)
        binding = {G_placeholder: ops.as_scalar_if_1x1(G)} if G_placeholder != 1 and values else {}
        pulled = []
        for child, expr in pull.out:
            if ops.is_zero(expr):
                continue
            value = substitute(expr, binding) if binding else expr
            if not ops.is_matrix(child) or tuple(child.shape) == (1, 1):
                expr, value = ops.as_scalar_if_1x1(expr), ops.as_scalar_if_1x1(value)
            c = Contribution(child, expr, value)
            pulled.append(c)
            received.setdefault(child, []).append(c)
        visits.append(Visit(node, G_placeholder, G, expansion, rule, derivative_of(node),
                            tuple(pulled), tuple(pull.used)))
    gradients = {}
    for v in variables if values else ():
        parts = received.get(v)
        gradients[v] = None if not parts else (
            ops.add(*[c.value for c in parts]) if len(parts) > 1 else parts[0].value)
    return Walk(f, variables, visits, gradients, received)
