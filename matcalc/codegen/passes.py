"""Passes over the statements of a schedule: what each line reads, dead lines, saved values,
liveness, and in-place reuse of buffers.

* `line.reads`: the identifiers a line refers to, recorded by the printer as it printed the
  line (printing.base.Printer.used): what the source reads, never parsed back from the text.
* `drop_dead`: a line whose target no later line reads and no function returns is removed.
* `saved`: the forward names backward reads (what `forward` returns beside the value).
* `release`: the names no later line reads are deleted after their last use (`del`).
* `product_then_add`: `Z = X @ W + b.T` adds into the product's new buffer.
* `in_place`: a line `t = np.tanh(a)` or `t = a * b` may write into `a`'s buffer
  (`np.tanh(a, out=a)`) only when a is *fresh* (computed by this function as a new array of
  t's shape, not an input, not a view) and *dead* (no later line of this function reads it or
  a view of it, it is not saved and not returned). That is a real liveness analysis over the whole function, so
  no buffer is ever overwritten while something still needs it.
"""
import re
from dataclasses import replace

from sympy import HadamardPower, HadamardProduct, MatAdd, MatMul

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


def in_place(lines, names, printer, live_out, inputs):
    """Mark lines that can write into a dead fresh buffer (line.out); see the module docstring."""
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
        if not fresh.get(line.target, False):
            for name in line.reads:
                last[name] = max(last.get(name, 0), last.get(line.target, 0))
    for i, line in enumerate(lines):
        if line.accumulate or line.out:
            continue
        candidate = buffer_operand(line.expr, names)
        if candidate is None:
            continue
        operand = candidate[0]
        name = names[operand]
        if name in input_names or not fresh.get(name) or name in live_out:
            continue
        if tuple(operand.shape) != tuple(line.expr.shape) or not printer.is_full(line.expr):
            continue
        if last.get(name, i) > i:          # read or assigned again later: still alive
            continue
        line.out = name
        last[line.target] = max(last.get(line.target, i), i)
    return lines


def buffer_operand(expr, names):
    """(the named operand an in-place form could write into, the NumPy ufunc, the constant
    arguments after the operand) or None: tanh(a) -> np.tanh(a, out=a); relu(a) ->
    np.maximum(a, 0.0, out=a);  a * b -> np.multiply(a, b, out=a)."""
    if isinstance(expr, Elementwise) and expr.arg in names:
        m = UFUNC.fullmatch(functions.record_of(expr).numpy)
        if m:
            return expr.arg, m.group(1), m.group(2)
    if isinstance(expr, HadamardProduct) and len(expr.args) == 2:
        for a in expr.args:
            if a in names:
                return a, "np.multiply", ""
    if isinstance(expr, MatAdd) and len(expr.args) == 2:
        for a, b in (expr.args, expr.args[::-1]):
            if a in names:
                return a, "np.subtract" if ops.is_negative_term(b) else "np.add", ""
    return None


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
