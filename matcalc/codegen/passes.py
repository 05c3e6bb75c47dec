"""Passes over the statements of a schedule: what each line reads, dead lines, saved values,
liveness, and in-place reuse of buffers.

* `line.reads`: the identifiers a line refers to, recorded by the printer as it printed the
  line (printing.base.Printer.used): what the source reads, never parsed back from the text.
* `drop_dead`: a line whose target no later line reads and no function returns is removed.
* `saved`: the forward names backward reads (what `forward` returns beside the value).
* `release`: the names no later line reads are deleted after their last use (`del`).
* `product_then_add`: `Z = X @ W + b.T` adds into the product's new buffer.
* `private_buffers`: `grad * (1 - A*A)` (an in-place product whose other operand is a chain of
  elementwise steps, each a new array) becomes `t = A * A`, `t = np.subtract(1.0, t, out=t)`,
  `grad * t`: the chain runs in one private buffer, which `in_place` then proves dead, instead
  of one new array per step.
* `relu_against_zeros`: relu in place, `np.maximum(Z, 0.0, out=Z)`, as
  `np.maximum(Z, zeros, out=Z)` with one zeros array per shape and call where two or more relus
  share the shape: NumPy's maximum of two arrays runs its vector loop, against a number it is
  2-3x slower. The zeros array is made after in_place has chosen every buffer, so that nothing
  is ever written into it.
* `in_place`: a line `t = np.tanh(a)` or `t = a * b` may write into `a`'s buffer
  (`np.tanh(a, out=a)`) only when a is *fresh* (computed by this function as a new array of
  t's shape, not an input, not a view) and *dead* (no later line of this function reads it or
  a view of it, it is not saved and not returned). That is a real liveness analysis over the whole function, so
  no buffer is ever overwritten while something still needs it.
"""
import re
from dataclasses import dataclass, replace

from sympy import HadamardPower, HadamardProduct, MatAdd, MatMul, ZeroMatrix

from ..core import dag, functions, ops
from ..core.nodes import Elementwise
from ..core.windows import BlockArgmax, BlockMax, Col2im

# a registry spelling that is one NumPy ufunc of the argument (and perhaps a constant), so that
# it can write into a buffer: np.tanh({x}) -> np.tanh(a, out=a); np.maximum({x}, 0.0) -> relu
UFUNC = re.compile(r"(np\.(?:exp|log|log1p|tanh|sin|cos|tan|arctan|arcsin|arccos|sqrt|abs|sign|maximum))"
                   r"\(\{x\}((?:, -?[0-9.]+)?)\)")


def is_alias(line, names):
    """Whether the line only copies another named value: `grad_W = grad_Z` (printed by name)."""
    return line.expr in names and names[line.expr] != line.target


def drop_dead(lines, live_out):
    """The lines without those whose target is never read later and not in live_out
    (line.reads: the names the printed line refers to)."""
    lines = list(lines)
    needed = set(live_out)
    keep = []
    for line in reversed(lines):
        if line.target in needed:
            keep.append(line)
            needed.discard(line.target)
            needed.update(line.reads)         # an accumulating line reads its own target
    return keep[::-1]


def saved(forward, backward, inputs, sizes=()):
    """The names backward reads that forward computed or received (inputs, lines, dimension
    sizes), in forward order."""
    used = set()
    defined = set()
    for line in backward:
        used.update(n for n in line.reads if n not in defined)
        defined.add(line.target)
    order = [s.name for s in inputs] + list(sizes) + [line.target for line in forward]
    return [n for n in dict.fromkeys(order) if n in used]


def is_fresh(expr, printer):
    """Whether the printed value is a new array of the expression's full shape."""
    if not ops.is_matrix(expr) or not printer.is_full(expr) or tuple(expr.shape) == (1, 1):
        return False
    if isinstance(expr, (HadamardProduct, HadamardPower, MatAdd, Elementwise)):
        return True
    if isinstance(expr, MatMul):
        coeff, mats = ops.split_coeff(expr)
        return len(mats) > 1 or coeff != 1 and not dag.is_leaf(mats[0])
    if isinstance(expr, (BlockMax, BlockArgmax)):
        return True                            # np.maximum's and the weights' new arrays
    if isinstance(expr, Col2im):
        return not expr.window.is_flatten()    # zeros with the windows added; a flatten's is a view
    record = functions.record_of(expr)
    return record is not None and record.kind != "elementwise"


def last_uses(lines):
    """name -> the index of the last line that reads or assigns it."""
    last = {}
    for i, line in enumerate(lines):
        for name in line.reads:
            last[name] = i
        last[line.target] = max(last.get(line.target, i), i)
    return last


@dataclass(frozen=True)
class InPlace:
    """How a line's value is written into the buffer of one of its operands:
    `call(operand, other, out=operand)`, or `call(other, operand, out=operand)` when the operand
    is not first (`1.0 - t` as np.subtract(1.0, t, out=t)); `call(operand{constants}, out=operand)`
    for a unary ufunc (np.tanh(a, out=a), np.maximum(a, 0.0, out=a))."""
    operand: object            # the named node whose buffer is written
    call: str                  # "np.multiply", "np.tanh", ...
    constants: str = ""        # ", 0.0"
    other: object = None       # the second argument as printed (a subtrahend already negated),
                               # a node or an identifier (relu's zeros)
    first: bool = True         # the operand is the call's first argument


def in_place(lines, names, printer, live_out, inputs, operand_second=True):
    """Mark lines that can write into a dead fresh buffer (line.out, and line.inplace: how);
    see the module docstring. operand_second: the operand may be a ufunc's second argument
    (np.subtract(1.0, t, out=t); NumPy, not torch.sub)."""
    fresh = {}
    for line in lines:
        if not line.accumulate:
            # `grad_s = t1` prints a name: the same buffer as t1, however fresh t1 was
            fresh[line.target] = is_fresh(line.expr, printer) and not is_alias(line, names)
    input_names = {s.name for s in inputs}
    last = last_uses(lines)
    for name in live_out:                       # saved or returned: alive after the last line
        last[name] = len(lines)
    # a value that is not a new array may be a view of what it reads (grad.T, X[0, 0], a
    # reshape): what it reads lives as long as it does
    for line in reversed(lines):
        # a scalar (np.sum(...), X[0, 0]) is a new number, never a view of what it reads
        if not fresh.get(line.target, False) and ops.is_matrix(line.expr):
            for name in line.reads:
                last[name] = max(last.get(name, 0), last.get(line.target, 0))
    for i, line in enumerate(lines):
        if line.accumulate or line.out:
            continue
        for form in in_place_forms(line.expr, names):
            if not form.first and not operand_second:
                continue
            operand = form.operand
            name = names[operand]
            if name in input_names or not fresh.get(name) or name in live_out:
                continue
            if tuple(operand.shape) != tuple(line.expr.shape) or not printer.is_full(line.expr):
                continue
            if last.get(name, i) > i:          # read or assigned again later: still alive
                continue
            line.out = name
            line.inplace = form
            last[line.target] = max(last.get(line.target, i), i)
            break
    return lines


def in_place_forms(expr, names):
    """The InPlace forms of expr, one per named operand it could write into, in order:
    tanh(a) -> np.tanh(a, out=a); relu(a) -> np.maximum(a, 0.0, out=a); a * b ->
    np.multiply(a, b, out=a) or np.multiply(b, a, out=b); a**2 -> np.multiply(a, a, out=a);
    2.0 * a -> np.multiply(a, 2.0, out=a); a - b -> np.subtract(a, b, out=a)
    or np.subtract(a, b, out=b); 1 - t -> np.subtract(1.0, t, out=t)."""
    forms = []
    if isinstance(expr, Elementwise) and expr.arg in names:
        m = UFUNC.fullmatch(functions.record_of(expr).numpy)
        if m:
            forms.append(InPlace(expr.arg, m.group(1), m.group(2)))
    if isinstance(expr, HadamardProduct) and len(expr.args) == 2:
        for a, b in (expr.args, expr.args[::-1]):
            if a in names:
                forms.append(InPlace(a, "np.multiply", other=b))
    if isinstance(expr, HadamardPower) and expr.args[1] == 2 and expr.args[0] in names:
        forms.append(InPlace(expr.args[0], "np.multiply", other=expr.args[0]))     # a * a
    if isinstance(expr, MatMul):                                                   # c * a
        coeff, mats = ops.split_coeff(expr)
        if len(mats) == 1 and mats[0] in names and coeff.is_number and coeff != 1:
            forms.append(InPlace(mats[0], "np.multiply", other=coeff))
    if isinstance(expr, MatAdd) and len(expr.args) == 2:
        for a, b in (expr.args, expr.args[::-1]):
            if ops.is_negative_term(a):
                continue
            if a in names:                                  # a + b, a - b
                negative = ops.is_negative_term(b)
                forms.append(InPlace(a, "np.subtract" if negative else "np.add",
                                     other=ops.neg(b) if negative else b))
            elif ops.is_negative_term(b) and ops.neg(b) in names:     # a - t
                forms.append(InPlace(ops.neg(b), "np.subtract", other=a, first=False))
    return forms


def buffer_operand(expr, names):
    """The first InPlace form of expr, or None."""
    forms = in_place_forms(expr, names)
    return forms[0] if forms else None


def elementwise_steps(e):
    """The operands of an elementwise step that has an in-place form (in_place_forms), or None:
    a unary ufunc's argument, a two-factor product's factors, a two-term sum's terms (a
    subtrahend without its sign)."""
    if isinstance(e, Elementwise) and UFUNC.fullmatch(functions.record_of(e).numpy):
        return [e.arg]
    if isinstance(e, HadamardProduct) and len(e.args) == 2:
        return list(e.args)
    if isinstance(e, MatAdd) and len(e.args) == 2:
        return [ops.neg(t) if ops.is_negative_term(t) else t for t in e.args]
    return None


def private_buffers(lines, names, printer, fresh_name):
    """`g * (1 - A*A)`, an elementwise product of a named value and a chain of elementwise
    steps, each of which NumPy would compute as a new array, as the chain's steps on lines of
    their own (`t = A * A`, `t = 1.0 - t`), each step after the first then written in place by
    `in_place` into the buffer of the step before (nothing else can see it: the chain's values
    are named here and read by no other line), and `g * t`: one new array instead of one per
    step. Only for a product (the adjoint times a derivative, in backward) whose chain has at
    least two steps, each the only non-trivial operand of the one above, of the product's full
    shape. fresh_name(node) -> a new identifier. Returns the lines; the names map gains the
    chain's names."""
    # where each node is printed inline: in each line, and in the definition of each named
    # value no line here defines, down to the names it reads (a walk through the names would
    # see the whole network below every line: quadratic in depth)
    appears = {}
    line_roots = [line.expr for line in lines]
    defined = set(line_roots)
    for root in line_roots + [n for n in names if n not in defined]:
        for node in dag.postorder(root, lambda n, root=root: () if n is not root and n in names
                                  else dag.children(n)):
            appears[node] = appears.get(node, 0) + 1
    shape = None

    def step_of(e):
        return (e not in names and not dag.is_leaf(e) and appears.get(e) == 1 and ops.is_matrix(e)
                and tuple(e.shape) == shape and is_fresh(e, printer))

    out = []
    for line in lines:
        chain = []
        if isinstance(line.expr, HadamardProduct) and len(line.expr.args) == 2 and \
                not line.accumulate and not is_alias(line, names) and line.out is None:
            shape = tuple(line.expr.shape)
            a, b = line.expr.args
            top = b if a in names else a if b in names else None
            if top is not None and step_of(top) and printer.is_full(line.expr):
                chain = [top]
                while True:
                    operands = elementwise_steps(chain[-1])
                    if operands is None:
                        break
                    inner = [o for o in operands if not (o in names or dag.is_leaf(o)
                                                         or ops.is_broadcast_scalar(o))]
                    if len(inner) != 1 or not step_of(inner[0]):
                        break
                    chain.append(inner[0])
        if len(chain) < 2:
            out.append(line)
            continue
        for node in reversed(chain):       # the innermost step first
            names[node] = fresh_name(node)
            out.append(type(line)(names[node], node, node=line.node))    # under its comment
        out.append(replace(line, text=None, reads=None))
    return out


def product_then_add(lines, names, printer):
    """`Z = X @ W + b.T` as `Z = X @ W` and then `Z = np.add(Z, b.T, out=Z)`: the sum goes into
    the product's new buffer instead of a third array (what a person writes as Z += b). Only for
    a line whose value is a sum with a product term of the sum's full shape; the second line
    is an accumulating line with out= its own target."""
    out = []
    for line in lines:
        product = None
        if isinstance(line.expr, MatAdd) and not line.accumulate and line.out is None \
                and not is_alias(line, names):         # `grad_b = t1` copies a name: no sum
            # a product printed as itself, a new array (a named product prints as its name,
            # a buffer something else reads)
            product = next((t for t in line.expr.args if isinstance(t, MatMul) and t not in names and
                            len(ops.split_coeff(t)[1]) > 1 and ops.split_coeff(t)[0] == 1 and
                            tuple(t.shape) == tuple(line.expr.shape) and printer.is_full(t)), None)
        if product is None:
            out.append(line)
            continue
        rest = ops.add(*[t for t in line.expr.args if t is not product])
        out.append(replace(line, expr=product, text=None, reads=None))
        out.append(replace(line, expr=rest, accumulate=True, out=line.target, text=None, reads=None,
                           node=None))
    return out


def release(lines, live_out, keep=()):
    """Mark on each line (line.release) the names computed by these lines that no later line
    reads: the generated code deletes them there (`del t1, grad_A2`), so that the memory goes
    back to the allocator while the function still runs, as a person writing by hand lets a
    loop variable be overwritten. Names in live_out (saved, returned) and in keep (arguments)
    are never deleted; the order of the names is the order of their definition."""
    last = last_uses(lines)
    defined = {}
    for i, line in enumerate(lines):
        defined.setdefault(line.target, i)
    ends = {}
    for name, i in last.items():
        if name in defined and name not in live_out and name not in keep:
            # a buffer written in place lives on under its new name; the old name goes, or it
            # would hold the buffer until the function returns
            ends.setdefault(i, []).append(name)
    for i, line in enumerate(lines):
        line.release = sorted(ends.get(i, ()), key=defined.get)
    return lines


def relu_against_zeros(lines, fresh_name, min_uses=2):
    """The lines with each in-place relu `np.maximum(Z, 0.0, out=Z)` written against a zeros
    array, `np.maximum(Z, zeros, out=Z)`, where at least min_uses relus share Z's shape: one
    line `zeros = np.zeros(shape, dtype=dtype)` before the first of them (fresh_name() -> its
    identifier). Run after in_place, so no line writes into the zeros; the relu lines must be
    printed again (their text is cleared)."""
    groups = {}
    for i, line in enumerate(lines):
        form = line.inplace
        if line.out is not None and form is not None and form.call == "np.maximum" and \
                form.constants == ", 0.0" and form.other is None:
            groups.setdefault(tuple(line.expr.shape), []).append(i)
    before = {}
    for shape, where in groups.items():
        if len(where) < min_uses:
            continue
        zeros = fresh_name()
        before[where[0]] = type(lines[0])(zeros, ZeroMatrix(*shape))
        for i in where:
            lines[i].inplace = replace(lines[i].inplace, other=zeros, constants="")
            lines[i].text = None
    out = []
    for i, line in enumerate(lines):
        if i in before:
            out.append(before[i])
        out.append(line)
    return out
