"""The forward walk: the differential of an expression when one variable moves.

`forward(f, x, direction)` applies the differential rules (differentials.py) from the variable up
to the output, children before parents, each shared node once, with `d(child)` the child's own
differential (not a placeholder): the result is df, an expression linear in `direction` (dX, or
a symbol V for a directional derivative). Jacobians identify J in df (vec_rules.py); a
Hessian-vector product is the forward differential of the gradient along V.

Each expanded node is recorded as a `ForwardStep` (dN = its expansion, in the children's
differentials), which is what a derivation of a Jacobian, Hessian or HVP prints. The walk is a
loop over the DAG in postorder: no recursion.
"""
from dataclasses import dataclass

from ..core import dag, ops
from .differentials import derivative_of, rule_for


@dataclass(frozen=True)
class ForwardStep:
    node: object          # N
    expansion: object     # dN in terms of the children's differentials (placeholders)
    differential: object  # dN in terms of the direction
    rule: object          # the differential rule
    derivative: object    # an elementwise function's f' rule, else None


def forward(f, x, direction, placeholders=None):
    """(df, steps): the differential of f when x moves along `direction`.

    placeholders(child) -> the symbol a step shows for d(child) (Differential(child) by default).
    """
    depends = dag.depends_on(f, [x])
    diff = {}
    steps = []
    for node in dag.postorder(f):
        if not depends[node]:
            continue
        if node == x:
            diff[node] = direction
            continue

        def d(child):
            return diff[child] if depends.get(child, False) else ops.zero_like(child)

        rule = rule_for(node)
        dN = rule(node, d)
        diff[node] = dN
        if placeholders is not None:
            def shown(child):
                return placeholders(child) if depends.get(child, False) else ops.zero_like(child)
            expansion = rule(node, shown)
        else:
            expansion = dN
        steps.append(ForwardStep(node, expansion, dN, rule, derivative_of(node)))
    return diff.get(f, ops.zero_like(f)), steps
