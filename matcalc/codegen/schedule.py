"""The schedule: the statements of a generated forward and backward pass, as data.

From the backward program of the one reverse walk (calculus/program.py) this module decides:

* which adjoints get a statement of their own: every variable's gradient and every named node's
  (`grad_<name>`), and an adjoint its node's visit uses more than once unless it is cheap (a
  name, a number, a transpose, `g * eye(n)`); every other adjoint is written where it is used,
  so no identity or ones matrix is ever formed;
* which forward values get a name: every value used twice (counted over the function and all
  backward statements together) or expensive to compute (the registry's `expensive` flag,
  inverses, determinants, matrix powers), plus the names a caller gives (a network's `h`,
  `h_relu`, ...); a named value is computed once, in forward when the function needs it, else
  in backward before its first use, and forward saves what backward reads; a value nested
  deeper than MAX_HEIGHT is named too, so no generated line nests beyond what Python reads;
* the names themselves, from the maths (`Xw`, `Xw_exp`, `inv_A`; names.py).

The result is a `Schedule`: the forward and backward `Line`s, the names map every expression is
printed with, and what each function takes and returns. Passes over the lines (passes.py) and
the printing (emit.py) come after; nothing here produces text.
"""
from dataclasses import dataclass, field

import sympy as sp
from sympy import (Determinant, Inverse, MatMul, MatrixSymbol, OneMatrix, Transpose)
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.kronecker import KroneckerProduct

from ..core import dag, functions, ops
from ..core.nodes import ADJOINTS, AsScalar, Elementwise, MatrixPower, Named
from ..core.windows import BlockArgmax, BlockMax, Im2col, blockmax
from ..calculus.program import backward_statements
from ..calculus.simplify import simplify
from ..notation.parse import source_of
from .masks import masks_from_activations
from .names import Names
from .numpy_printer import block_ones, pooled_window

EXPENSIVE = (Inverse, Determinant, MatrixPower, KroneckerProduct)
MAX_HEIGHT = 6          # a value nested deeper than this gets a name of its own


@dataclass
class Line:
    target: str               # the identifier assigned
    expr: object              # the value: printed with the names map, its root unnamed
    accumulate: bool = False  # target = target + expr
    comment: str = None       # a comment line above (the differential this line implements)
    out: str = None           # in-place: the dead buffer the value is written into
    inplace: object = None    # in-place: how (passes.InPlace: the operand, the ufunc, ...)
    node: object = None       # the node whose value this is (forward) or the adjoint placeholder
    wrap: str = None          # a template the value is written into: "np.array({}, dtype=d)"
    text: str = None          # its source, once printed (emit.ModuleWriter.render)
    reads: list = None        # the names the printed source refers to
    release: list = None      # the names deleted after this line (passes.release)


@dataclass
class Schedule:
    names: dict                       # node -> identifier (inputs, named values, adjoints)
    inputs: list                      # the input symbols, in argument order
    forward: list                     # [Line]
    backward: list                    # [Line]
    value: str                        # the identifier of the function's value
    gradients: list                   # [(variable, identifier)] in wrt order
    allocator: Names = None
    saved: list = field(default_factory=list)     # filled by passes.py


def inputs_of(f, extra=(), like=None):
    """The symbols of f, in the order the user declared them when f (or `like`, the expression
    f was rewritten from) was parsed, else in order of first appearance; then `extra`."""
    found = [n for n in dag.postorder(f) if isinstance(n, (sp.MatrixSymbol, sp.Symbol))
             and not n.is_integer]
    source = source_of(like if like is not None else f)
    if source is not None:           # every declared symbol is an argument, in declared order
        found += [s for s in source.symbols.values() if s not in found]
        rank = {name: i for i, name in enumerate(source.symbols)}
        found.sort(key=lambda s: rank.get(s.name, len(rank)))
    return found + [x for x in extra if x not in found]


def is_trivial(G):
    """A contribution that costs nothing to substitute where it is used."""
    if dag.is_leaf(G):
        return True
    if not ops.is_matrix(G) and all(not isinstance(n, sp.MatrixSymbol) and not
                                    (isinstance(n, sp.Symbol) and not n.is_integer)
                                    for n in dag.postorder(G) if dag.is_leaf(n) and
                                    not isinstance(n, ADJOINTS)):
        return True                            # a number made of numbers and dimensions
    if isinstance(G, Transpose):
        return dag.is_leaf(G.arg)
    if isinstance(G, MatMul):
        coeff, mats = ops.split_coeff(G)
        return len(mats) == 1 and coeff.is_number and is_trivial(mats[0])
    if isinstance(G, sp.Mul):
        return all(dag.is_leaf(a) for a in G.args)
    return False


def uses(roots):
    """node -> how many distinct parents (and roots) refer to it, over all roots together."""
    count = {}
    for r in roots:
        count[r] = count.get(r, 0) + 1
    for node in dag.postorder_many(roots):
        for k in set(dag.children(node)):
            count[k] = count.get(k, 0) + 1
    return count


def is_expensive(e):
    if isinstance(e, EXPENSIVE):
        return True
    record = functions.record_of(e)
    return record is not None and record.expensive


def pooled_images(roots):
    """The im2col nodes that only max pooling reads, with windows side by side: the
    printer reads the images in place for their blockmax and its weights (_maxpool,
    _maxpool_adjoint), so the window matrix is never formed and gets no name."""
    readers = {}
    for node in dag.postorder_many(roots):
        for k in set(dag.children(node)):
            if isinstance(k, Im2col):
                readers.setdefault(k, []).append(node)
    return {k for k, parents in readers.items()
            if all(pooled_window(p if isinstance(p, BlockMax) else
                                 blockmax(p.arg, p.blocks) if isinstance(p, BlockArgmax) else None)
                   for p in parents)}


def worth_naming(e, count, in_place=()):
    """Whether a subexpression gets its own statement (computed once, reused by name);
    `in_place`: nodes the printer never forms (pooled_images)."""
    if dag.is_leaf(e) or e in in_place or isinstance(e, (Transpose, AsScalar, DiagMatrix)):
        return False                           # diag(v) is printed through v, never formed
    if block_ones(e) is not None:              # kron(ones, eye): its products are printed as a
        return False                           # repeat or a block sum, never formed
    if not ops.is_matrix(e) and not any(isinstance(n, (MatrixSymbol, sp.Symbol)) and not
                                        (isinstance(n, sp.Symbol) and n.is_integer)
                                        for n in dag.postorder(e)):
        return False                           # a number made of dimensions, such as 1/N
    if isinstance(e, MatMul):
        coeff, mats = ops.split_coeff(e)
        if len(mats) == 1 and dag.is_leaf(mats[0]):
            return False                       # c * X
        if any(isinstance(m, OneMatrix) for m in mats) and count.get(e, 0) < 2:
            return False                       # a broadcast row or a row/column sum
    if is_expensive(e):
        return True
    if isinstance(e, Elementwise) and e.name == "step" and count.get(e, 0) < 3:
        return False                           # relu's mask, (h > 0), costs less than a name
    return count.get(e, 0) >= 2


class Wishes:
    """Names from the maths for values: Xw, h_relu, inv_A, Xw_exp; None for t1, t2, ..."""

    def __init__(self, names):
        self.names = names

    def name_of(self, e):
        hit = self.names.get(e)
        if hit is not None:
            return hit
        return e.name if isinstance(e, (MatrixSymbol, sp.Symbol)) else None

    def __call__(self, e):
        if isinstance(e, MatMul):
            coeff, mats = ops.split_coeff(e)
            parts = []
            for m in mats:
                base = m.arg if isinstance(m, Transpose) else m
                n = self.name_of(base) or (self(base) if base is not e else None)
                if n is None:
                    return None
                parts.append(n + ("T" if isinstance(m, Transpose) else ""))
            glue = "_" if any("_" in p or len(p) > 2 for p in parts) else ""
            return glue.join(parts) if coeff == 1 else None
        record = functions.record_of(e)
        arg = None
        if record is not None or isinstance(e, (Inverse, Determinant, MatrixPower)):
            arg = e.arg if hasattr(e, "arg") else e.args[0]
        a = None
        if arg is not None:
            a = self.name_of(arg) or (self(arg) if not dag.is_leaf(arg) else None)
        if record is not None:
            return f"{a}_{record.word}" if a else record.word
        prefixes = {Inverse: "inv", Determinant: "det", MatrixPower: "pow"}
        for cls, word in prefixes.items():
            if isinstance(e, cls):
                return f"{word}_{a}" if a else word
        if isinstance(e, sp.MatAdd) and len(e.args) == 2:
            first, second = e.args
            negative = ops.is_negative_term(second)
            b = self.name_of(ops.neg(second) if negative else second)
            a = self.name_of(first)
            if a and b:
                return f"{a}_minus_{b}" if negative else f"{a}_plus_{b}"
            if b and ops.is_broadcast_scalar(first) and ops.split_coeff(first)[0].is_number:
                return f"{b}_plus_c" if not negative else f"c_minus_{b}"
        return None


def schedule(f, walk, inputs, node_names=None, named_adjoints=None, value_name="value",
             adjoint_name=None):
    """The Schedule of the function f and the gradients its walk computes.

    node_names: node -> identifier for forward values that must keep a given name (a network's
    layer outputs); named_adjoints(child, contributions) -> bool overrides the default choice
    of which adjoints get a statement; adjoint_name(node) -> its identifier (grad_<name>).
    """
    node_names = dict(node_names or {})
    variables = list(walk.variables)
    wanted = set(variables)

    def default_named(child, exprs, uses):
        if child in wanted or child in node_names:
            return True
        total = ops.add(*exprs) if len(exprs) > 1 else exprs[0]
        return uses > 1 and not is_trivial(total)
    program = backward_statements(walk, named_adjoints or default_named)

    memo = {}
    simplified = masks_from_activations(f, [simplify(st.expr, memo) for st in program.statements])
    statements = list(zip(program.statements, simplified))
    results = {x: program.results[x] for x in variables}
    roots = [f] + [e for _, e in statements] + [r for r in results.values() if r is not None]
    count = uses(roots)
    in_place = pooled_images(roots)

    names = {}
    allocator = Names()
    for s in inputs:
        names[s] = allocator.claim(s.name)
    for node, name in node_names.items():
        names[node] = allocator.claim(name)
        if isinstance(node, Named) and not dag.is_leaf(node.arg) and node.arg not in names:
            names[node.arg] = name           # h := X@W1: the value is computed as h itself
    wish = Wishes(names)
    forward_nodes = dag.postorder(f)
    order = dag.postorder_many(roots)
    height = {}
    for node in order:
        if node in names or node is f or isinstance(node, ADJOINTS):
            height[node] = 0
            continue
        if worth_naming(node, count, in_place):
            names[node] = allocator.fresh(wish(node))
            height[node] = 0
            continue
        height[node] = 0 if dag.is_leaf(node) else 1 + max((height[k] for k in dag.children(node)),
                                                           default=0)
        if height[node] > MAX_HEIGHT:          # generated lines stay shallow enough to read
            names[node] = allocator.fresh(wish(node))
            height[node] = 0
    # adjoints: grad_<name of the node>, or grad_<wish>
    adjoint_names = {}
    for st, _ in statements:
        target = st.target
        if target not in adjoint_names:
            base = adjoint_name(target.arg) if adjoint_name else None
            if base is None:
                n = names.get(target.arg) or wish(target.arg)
                base = f"grad_{n}" if n else "grad"
            adjoint_names[target] = allocator.fresh(base) if target.arg not in wanted \
                else allocator.fresh(f"grad_{target.arg.name}")
    names.update(adjoint_names)
    value = allocator.fresh(value_name)

    input_set = set(inputs)
    forward = [Line(names[n], n, node=n) for n in forward_nodes
               if n in names and n not in input_set and n is not f
               and not (isinstance(n, Named) and names.get(n.arg) == names[n])]
    forward.append(Line(value, ops.as_scalar_if_1x1(f), node=f))

    backward = []
    defined = {line.node for line in forward} | input_set
    defined |= {n for n in forward_nodes if isinstance(n, Named) and n.arg in defined}
    for st, expr in statements:
        backward += _needed(expr, names, defined)
        backward.append(Line(names[st.target], expr, accumulate=st.accumulate,
                             comment=None, node=st))
    gradients = []
    for x in variables:
        G = results[x]
        if G is None:
            name = allocator.fresh(f"grad_{x.name}")
            backward.append(Line(name, ops.zero_like(x), node=x))
        elif isinstance(G, ADJOINTS):
            name = names[G]
        else:
            G = masks_from_activations(f, [simplify(G, memo)])[0]
            backward += _needed(G, names, defined)
            name = allocator.fresh(f"grad_{x.name}")
            backward.append(Line(name, G, node=x))
        gradients.append((x, name))
    return Schedule(names, list(inputs), forward, backward, value, gradients, allocator)


def _needed(expr, names, defined):
    """Lines for the named values expr uses that no function has computed yet (in order)."""
    lines = []
    for n in dag.postorder(expr, lambda e: () if (e in defined) else dag.children(e)):
        if n in names and n not in defined and not isinstance(n, ADJOINTS) and not dag.is_leaf(n):
            lines.append(Line(names[n], n, node=n))
            defined.add(n)
    return lines
