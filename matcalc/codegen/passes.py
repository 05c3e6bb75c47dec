"""Passes over the statements of a schedule: what each line reads, dead lines, saved values,
liveness, and in-place reuse of buffers.

* `reads(line, names)`: the identifiers a line's expression uses. It looks at the expression
  (data), stopping at named values, exactly as the printer will: nothing is parsed back.
* `drop_dead`: a line whose target no later line reads and no function returns is removed.
* `saved`: the forward names backward reads (what `forward` returns beside the value).
* `in_place`: a line `t = np.tanh(a)` or `t = a * b` may write into `a`'s buffer
  (`np.tanh(a, out=a)`) only when a is *fresh* (computed by this function as a new array of
  t's shape, not an input, not a view) and *dead* (no later line of this function reads it, it
  is not saved and not returned). That is a real liveness analysis over the whole function, so
  no buffer is ever overwritten while something still needs it.
"""
import re

from sympy import HadamardPower, HadamardProduct, MatAdd, MatMul

from ..core import dag, functions, ops
from ..core.nodes import Elementwise

UFUNC = re.compile(r"np\.(exp|log|log1p|tanh|sin|cos|tan|arctan|arcsin|arccos|sqrt|abs|sign)\(\{x\}\)")


def is_alias(line, names):
    """Whether the line only copies another named value: `grad_W = grad_Z` (printed by name)."""
    return line.expr in names and names[line.expr] != line.target


def reads(line, names):
    """The identifiers line.expr uses (the named nodes below its root), in a stable order."""
    out, seen = [], set()
    stack = [line.expr] if is_alias(line, names) else list(reversed(dag.children(line.expr)))
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        name = names.get(e)
        if name is not None:
            if name not in out:
                out.append(name)
            continue
        stack.extend(reversed(dag.children(e)))
    if line.accumulate and line.target not in out:
        out.append(line.target)
    return out


def drop_dead(lines, names, live_out):
    """The lines without those whose target is never read later and not in live_out."""
    lines = list(lines)
    changed = True
    while changed:
        changed = False
        needed = set(live_out)
        keep = []
        for line in reversed(lines):
            if line.target in needed or line.accumulate and line.target in needed:
                keep.append(line)
                needed.update(reads(line, names))
                continue
            changed = True
        lines = keep[::-1]
    return lines


def saved(forward, backward, names, inputs):
    """The names backward reads that forward computed or received, in forward order."""
    used = set()
    for line in backward:
        used.update(reads(line, names))
    defined_later = {line.target for line in backward}
    order = [s.name for s in inputs] + [line.target for line in forward]
    return [n for n in order if n in used and n not in defined_later]


def is_fresh(expr, printer):
    """Whether the printed value is a new array of the expression's full shape."""
    if not ops.is_matrix(expr) or not printer.is_full(expr) or tuple(expr.shape) == (1, 1):
        return False
    if isinstance(expr, (HadamardProduct, HadamardPower, MatAdd, Elementwise)):
        return True
    if isinstance(expr, MatMul):
        coeff, mats = ops.split_coeff(expr)
        return len(mats) > 1 or coeff != 1 and not dag.is_leaf(mats[0])
    record = functions.record_of(expr)
    return record is not None and record.kind != "elementwise"


def last_uses(lines, names):
    """name -> the index of the last line that reads or assigns it."""
    last = {}
    for i, line in enumerate(lines):
        for name in reads(line, names):
            last[name] = i
        last[line.target] = max(last.get(line.target, i), i)
    return last


def in_place(lines, names, printer, live_out, inputs):
    """Mark lines that can write into a dead fresh buffer (line.out); see the module docstring."""
    fresh = {}
    for line in lines:
        if not line.accumulate:
            fresh[line.target] = is_fresh(line.expr, printer)
    input_names = {s.name for s in inputs}
    last = last_uses(lines, names)
    for i, line in enumerate(lines):
        if line.accumulate or line.out:
            continue
        candidate = buffer_operand(line.expr, names)
        if candidate is None:
            continue
        operand, _ = candidate
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
    """(the named operand an in-place form could write into, the NumPy ufunc) or None:
    tanh(a) -> np.tanh(a, out=a);  a * b -> np.multiply(a, b, out=a)."""
    if isinstance(expr, Elementwise) and expr.arg in names:
        m = UFUNC.fullmatch(functions.record_of(expr).numpy)
        if m:
            return expr.arg, f"np.{m.group(1)}"
    if isinstance(expr, HadamardProduct) and len(expr.args) == 2:
        for a in expr.args:
            if a in names:
                return a, "np.multiply"
    return None
