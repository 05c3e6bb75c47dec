"""The backward pass as a program: statements read off the visits of the reverse walk.

`backward_statements(walk, named)` turns the record of the one reverse walk into a list of
`Statement`s, one per named adjoint, holding the sum of the contributions it receives:

    grad_h_relu = grad_y_pred @ W2.T
    grad_A      = X.T @ grad_Z + grad_B @ W.T      a node used twice: both contributions

An adjoint that is not named is not assigned: its contributions are summed and written where
they are used. The choice is made for each node once its last contribution has arrived (the
walk knows how many it receives), by `named(child, exprs, uses)`: `exprs` are the contributions
written over the adjoints that stand for their parents, `uses` is how many contributions the
child's own visit will make with its adjoint. So codegen names an adjoint only when it is used
twice and costs something, nn names every layer output, and a derivation names what is large.

Targets and the adjoints in expressions are the walk's placeholders (nodes.Adjoint /
ScalarAdjoint); forward subexpressions stay nodes. Whoever prints a program gives the printer a
names map (node or placeholder -> identifier), so `grad_h` and `h_relu` are printed as names and
no text is ever parsed back. It adds up nothing the walk did not: it only decides what is named.
"""
from dataclasses import dataclass

from ..core import dag, ops
from ..core.nodes import ADJOINTS
from ..core.rebuild import Substitution
from .reverse import adjoint_placeholder


@dataclass(frozen=True)
class Statement:
    target: object            # the placeholder of a named adjoint
    expr: object              # the value: the sum of its contributions, over forward nodes and
                              # earlier targets
    visit: object = None      # the (last) visit that contributed
    visits: tuple = ()        # every visit that contributed
    parts: tuple = ()         # (contribution, its visit), in arrival order; expr is their sum
    accumulate: bool = False  # target = target + expr (kept for programs that split sums)

    def reads(self, is_named):
        """The named things the expression uses (a named node is not looked into)."""
        out, seen, stack = [], set(), [self.expr]
        while stack:
            e = stack.pop()
            if e in seen:
                continue
            seen.add(e)
            if is_named(e):
                out.append(e)
                continue
            stack.extend(dag.children(e))
        return out


@dataclass
class Backward:
    statements: list          # [Statement] in execution order
    results: dict             # variable -> the expression of its gradient (a placeholder if named)
    adjoints: dict            # node -> what stands for its adjoint in the statements


def backward_statements(walk, named):
    """The program of the walk; named(child, exprs, uses) -> bool (see the module docstring)."""
    substitute = Substitution(lambda n: isinstance(n, ADJOINTS))
    uses = {v.node: len(v.pulled) for v in walk.visits}
    expected = {child: len(parts) for child, parts in walk.received.items()}
    wanted = set(walk.variables)
    pending = {}                   # child -> [(expr, visit)]
    adjoint = {}                   # node -> what stands for its adjoint
    statements = []

    def settle(child):
        parts = pending.pop(child)
        exprs = [e for e, _ in parts]
        total = ops.add(*exprs) if len(exprs) > 1 else exprs[0]
        if named(child, exprs, uses.get(child, 0)):
            target = adjoint_placeholder(child)
            statements.append(Statement(target, total, parts[-1][1], tuple(v for _, v in parts),
                                        tuple(parts)))
            adjoint[child] = target
        else:
            adjoint[child] = total

    for visit in walk.visits:
        G = adjoint.get(visit.node) if visit.node is not walk.f else None
        binding = {} if G is None or G == visit.adjoint else {visit.adjoint: ops.as_scalar_if_1x1(G)}
        # within a visit, the variables' gradients first (grad_W2 before grad_h_relu, as the
        # seeds write them); the contributions are independent of each other
        for c in sorted(visit.pulled, key=lambda c: c.child not in wanted):
            expr = substitute(c.expr, binding) if binding else c.expr
            if not ops.is_matrix(c.child) or tuple(c.child.shape) == (1, 1):
                expr = ops.as_scalar_if_1x1(expr)
            pending.setdefault(c.child, []).append((expr, visit))
            if len(pending[c.child]) == expected[c.child]:
                settle(c.child)
    if walk.f in wanted:                         # f is a variable itself: its gradient is 1
        adjoint[walk.f] = walk.received[walk.f][0].expr
    results = {x: adjoint.get(x) for x in walk.variables}
    return Backward(statements, results, adjoint)
