"""The opt-in workspace: every intermediate written with `out=` into buffers made once per input
sizes and dtype, and reused call after call (`codegen.numpy_source(..., workspace=True)`).

Two passes over the statements of a schedule, after the dead lines are dropped and the saved
values chosen (emit.py prints the result, once):

* `split`: each line becomes three-address code: a subexpression with an `out=` form (a matrix
  product, a sum or difference, a Hadamard product, x*x, c*X, a NumPy ufunc of the registry such
  as np.tanh, relu's mask, a row or column sum) and of the full shape gets a line of its own, a
  temporary of this line only. `1.0 - A1 * A1` becomes `t1 = np.multiply(A1, A1, out=...)`,
  `t2 = np.subtract(1.0, t1, out=...)`. A line with no `out=` form (np.linalg.inv, a helper,
  a scalar such as the loss) is printed as before and allocates as before.
* `allocate`: a linear scan over forward then backward, as one program (forward's saved values
  live on into backward): each `out=` line writes into a buffer nothing alive holds, of its
  storage shape and dtype; an elementwise line may write into the buffer of an operand that
  dies on that line and that nothing else holds (never a matrix product, whose output must not
  overlap its operands). A line that is a view or a copy of a name (`grad_W = t1`, `g.T`) holds
  the buffers of what it reads as long as it lives. Inputs are never written.

What a buffer is: (storage shape in dimension symbols, "float" or "bool"), or a constant made
once and only read: "ones" (the row a column sum is a product with, np.matmul(ones, G): a
matrix-vector product, 2-4x faster than np.sum(G, axis=0)) and "zeros" (relu is
np.maximum(Z, zeros, out=...): against an array NumPy runs its vector loop). The module's
`_mc_workspace(dtype, N, ...)` makes them on the first call with those sizes and dtype and hands
the same ones back after; so every result (the gradients, forward's saved values) is a view
into the workspace, valid until the next call of the module with the same sizes and dtype.
"""
from dataclasses import dataclass, replace

import sympy as sp
from sympy import HadamardPower, HadamardProduct, Identity, MatAdd, MatMul, OneMatrix, Transpose
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.kronecker import KroneckerProduct

from ..core import dag, functions, ops
from ..core.nodes import Elementwise
from .numpy_printer import block_ones
from .passes import UFUNC, is_alias, is_fresh
from .schedule import Line, Wishes

STRUCTURAL = (OneMatrix, DiagMatrix, Identity, KroneckerProduct)


@dataclass(frozen=True)
class Operand:
    value: object          # a node, or an identifier already printed (an accumulated target)
    mode: str = "value"    # "value": printed as itself; "term": a term of a sum; "mask": (Z > 0)


@dataclass(frozen=True)
class Constant:
    """A workspace buffer filled once when it is made and never written after: "ones" (the row
    a column sum is a product with) or "zeros" (relu's other operand: np.maximum of two arrays
    runs NumPy's vector loop, with a number 2-3x slower)."""
    fill: str              # "ones" or "zeros"
    shape: tuple           # in dimension symbols


@dataclass(frozen=True)
class OutForm:
    """How a value is computed into a buffer: `call(operands..., keywords, out=buffer)suffix`."""
    call: str                  # "np.matmul", "np.tanh", "np.sum"
    operands: tuple            # Operand, in argument order
    keywords: str = ""         # ", 0.0" (np.maximum's constant), ", axis=0, keepdims=True"
    storage: tuple = None      # the buffer's shape, when it is not the value's (a sum's row)
    suffix: str = ""           # ".T": the value is the buffer's transpose
    elementwise: bool = True   # the output may be the buffer of an operand read whole
    kind: str = "float"        # the buffer's dtype: the inputs' float dtype, or bool (a mask)


def out_form(e):
    """The OutForm of e, or None (e has no out= form: it is printed as before)."""
    if isinstance(e, Elementwise):
        m = UFUNC.fullmatch(functions.record_of(e).numpy)
        if m and m.group(1) == "np.maximum" and m.group(2) == ", 0.0":
            return OutForm("np.maximum", (Operand(e.arg), Operand(Constant("zeros", tuple(e.shape)))))
        return OutForm(m.group(1), (Operand(e.arg),), m.group(2)) if m else None
    if isinstance(e, HadamardProduct) and len(e.args) == 2:
        if any(isinstance(a, HadamardPower) and ops.negative_number(a.args[1]) for a in e.args):
            return None
        return OutForm("np.multiply", tuple(
            Operand(a, "mask" if isinstance(a, Elementwise) and a.name == "step" else "value")
            for a in e.args))
    if isinstance(e, HadamardPower) and e.args[1] == 2:
        return OutForm("np.multiply", (Operand(e.args[0]), Operand(e.args[0])))
    if isinstance(e, MatAdd) and len(e.args) == 2:
        a, b = e.args
        if ops.is_negative_term(a):
            a, b = b, a
        if ops.is_negative_term(a):
            return None
        if ops.is_negative_term(b):
            return OutForm("np.subtract", (Operand(a, "term"), Operand(ops.neg(b), "term")))
        return OutForm("np.add", (Operand(a, "term"), Operand(b, "term")))
    if isinstance(e, MatMul):
        return product_form(e)
    return None


def product_form(e):
    """c * X, A @ B, and the row and column sums that a product with ones is printed as."""
    coeff, mats = ops.split_coeff(e)
    if any(isinstance(m, KroneckerProduct) or block_ones(m) is not None for m in mats):
        return None
    if len(mats) == 1:
        if coeff == 1 or not coeff.is_number or isinstance(mats[0], STRUCTURAL):
            return None
        try:                # -2*log(2) is a number, not a Float: sp.Float(coeff) raised TypeError
            factor = sp.Float(float(coeff))
        except TypeError:   # one SymPy cannot evaluate: printed as it is, without out=
            return None
        return OutForm("np.multiply", (Operand(mats[0]), Operand(factor)))
    if len(mats) != 2 or coeff != 1:
        return None
    left, right = mats
    if not any(isinstance(m, STRUCTURAL) for m in mats):
        return OutForm("np.matmul", (Operand(left), Operand(right)), elementwise=False)
    if isinstance(right, OneMatrix) and tuple(right.shape)[1] == 1 and left.shape[1] != 1 \
            and not isinstance(left, STRUCTURAL):
        if isinstance(left, Transpose):        # A.T @ 1: the column sums of A, as a column,
            return OutForm("np.matmul", (ones_row(left.arg), Operand(left.arg)),   # 1.T @ A
                           storage=(1, left.shape[0]), suffix=".T", elementwise=False)
        return OutForm("np.sum", (Operand(left),), ", axis=1, keepdims=True", elementwise=False)
    if isinstance(left, OneMatrix) and tuple(left.shape)[0] == 1 and right.shape[0] != 1 \
            and not isinstance(right, STRUCTURAL):
        if isinstance(right, Transpose):       # 1.T @ A.T: the row sums of A, as a row
            return OutForm("np.sum", (Operand(right.arg),), ", axis=1, keepdims=True",
                           storage=(right.shape[1], 1), suffix=".T", elementwise=False)
        return OutForm("np.matmul", (ones_row(right), Operand(right)), elementwise=False)
    return None


def ones_row(A):
    """The ones row whose product with A is A's column sums: a matrix-vector product, 2-4x
    faster than NumPy's reduction across rows (np.sum(A, axis=0))."""
    return Operand(Constant("ones", (1, A.shape[0])))


def mask_form(step):
    """relu's mask step(Z), read in a product as (Z > 0), into a bool buffer."""
    return OutForm("np.greater", (Operand(step.arg),), ", 0.0", kind="bool")


def has_buffer(e, printer):
    """Whether a computed value is a new array of e's shape (the buffer it is written into)."""
    return ops.is_matrix(e) and printer.is_full(e) and tuple(e.shape) != (1, 1)


# ---- split: three-address code --------------------------------------------------------------------
def split(lines, names, printer, allocator):
    """The lines with each subexpression that has an out= form on a line of its own (before the
    line that reads it), and line.form set where the value is written into a buffer. A
    temporary's name is known to the lines of its own statement only (line.names)."""
    wish = Wishes(names)
    out = []
    for line in lines:
        if line.accumulate:                # target = target + term, the target stored full
            term = line.expr
            negative = ops.is_matrix(term) and ops.is_negative_term(term)
            form = OutForm("np.subtract" if negative else "np.add",
                           (Operand(line.target), Operand(ops.neg(term) if negative else term, "term"))) \
                if ops.is_matrix(term) and tuple(term.shape) != (1, 1) else None
        elif is_alias(line, names) or not has_buffer(line.expr, printer):
            form = None
        else:
            form = out_form(line.expr)
        local, pieces = {}, []
        if form is not None:
            operand_lines(form, names, local, pieces, printer, lambda e: allocator.fresh(wish(e)))
        line = replace(line, text=None, reads=None, out=None)
        line.form = form
        for piece in pieces + [line]:
            piece.names = local
        out += pieces + [line]
    return out


def operand_lines(form, names, local, pieces, printer, fresh):
    """Append to pieces a Line for each operand of form (and of theirs, first) that has an out=
    form of its own, naming it in local (fresh(node) -> its identifier)."""
    for op in form.operands:
        node = op.value
        while isinstance(node, Transpose) and op.mode == "value":
            node = node.arg                # A.T prints the name of A, then .T
        if not isinstance(node, sp.Basic) or node in names or node in local or dag.is_leaf(node):
            continue
        if op.mode == "mask":
            sub = mask_form(node) if dag.is_leaf(node.arg) or node.arg in names else None
        else:
            sub = out_form(node) if has_buffer(node, printer) else None
        if sub is None:
            continue
        operand_lines(sub, names, local, pieces, printer, fresh)
        local[node] = fresh(node)
        piece = Line(local[node], node)
        piece.form = sub
        pieces.append(piece)


# ---- allocate: buffers by liveness -------------------------------------------------------------------
class Buffers:
    """The workspace's buffers: (storage shape, kind) each, in order of creation."""

    def __init__(self, allocator):
        self.allocator = allocator
        self.specs = []                    # buffer index -> (shape, kind)
        self.idents = []                   # buffer index -> its identifier in the module

    def new(self, spec, word="buf"):
        self.specs.append(spec)
        self.idents.append(self.allocator.fresh(f"{word}{len(self.specs)}"))
        return len(self.specs) - 1

    def constant(self, c):
        """The identifier of the constant buffer c (made once per fill and shape). Its kind,
        "ones" or "zeros", is no line's kind, so allocate never hands it out to be written."""
        spec = (tuple(sp.sympify(d) for d in c.shape), c.fill)
        if spec not in self.specs:
            self.new(spec, c.fill)
        return self.idents[self.specs.index(spec)]


def allocate(lines, live_out, printer, buffers):
    """Set line.buffer (the identifier written with out=) on every line with a form; see the
    module docstring. `lines` are forward's then backward's, in order."""
    last = {}
    for i, line in enumerate(lines):
        for name in line.reads:
            last[name] = i
    held = {}                              # name -> the buffers it refers to
    users = {}                             # buffer -> the names referring to it

    def drop(name):
        for b in held.pop(name, ()):
            users[b].discard(name)

    def dies(name, i):
        return name not in live_out and last.get(name, -1) <= i

    for i, line in enumerate(lines):
        form = getattr(line, "form", None)
        if form is None:
            # a scalar (a sum, X[0, 0]) is a new number, never a view of a buffer
            fresh = not ops.is_matrix(line.expr) or not line.accumulate and \
                is_fresh(line.expr, printer) and not is_alias(line, printer.names)
            shared = set() if fresh else {b for n in line.reads if n != line.target
                                          for b in held.get(n, ())}
            if line.accumulate:
                shared = set()             # target = target + x: a new array
            drop(line.target)
            held[line.target] = shared
            for b in shared:
                users[b].add(line.target)
        else:
            storage = form.storage if form.storage is not None else tuple(line.expr.shape)
            spec = (tuple(sp.sympify(d) for d in storage), form.kind)
            chosen = None
            if form.elementwise:
                for op in form.operands:
                    name = op.value if isinstance(op.value, str) else line.names.get(
                        op.value, printer.names.get(op.value))
                    if name is None or op.mode == "mask" and op.value not in line.names:
                        continue
                    own = held.get(name, ())
                    if len(own) == 1:
                        b = next(iter(own))
                        if buffers.specs[b] == spec and users[b] == {name} and \
                                (dies(name, i) or name == line.target):
                            chosen = b
                            break
            if chosen is None:
                chosen = next((b for b, s in enumerate(buffers.specs) if s == spec and not users.get(b)),
                              None)
            if chosen is None:
                chosen = buffers.new(spec)
                users[chosen] = set()
            drop(line.target)
            held[line.target] = {chosen}
            users[chosen].add(line.target)
            line.buffer = buffers.idents[chosen]
        for name in set(line.reads) | {line.target}:
            if name in held and dies(name, i):
                drop(name)
    return lines


def dimension_args(buffers, writer):
    """The identifiers of the sizes the buffers' shapes use, in the module's order."""
    used = {d for shape, _ in buffers.specs for size in shape for d in sp.sympify(size).free_symbols}
    return [ident for d, ident in writer.dims.items() if d in used]


def workspace_source(buffers, writer, dtype):
    """The module function that makes the buffers once per (dtype, sizes) and hands them back."""
    printer = writer.printer
    make = {"bool": "np.empty({}, bool)", "float": "np.empty({}, %s)" % dtype,
            "ones": "np.ones({}, %s)" % dtype, "zeros": "np.zeros({}, %s)" % dtype}
    shapes = [make[kind].format(printer.shape_text(shape)) for shape, kind in buffers.specs]
    key = ", ".join([dtype] + dimension_args(buffers, writer))
    function = "_mc_workspace"
    return "\n".join([
        "", "", "_mc_workspaces = {}", "", "",
        f"def {function}({key}):",
        '    """The buffers for these sizes and dtype: made on the first call, the same ones after',
        '    (one workspace per sizes and dtype seen, kept in _mc_workspaces)."""',
        f"    key = ({key}{',' if key == dtype else ''})",
        "    buffers = _mc_workspaces.get(key)",
        "    if buffers is None:",
        "        buffers = _mc_workspaces[key] = (",
        *[f"            {shape}," for shape in shapes],
        "        )",
        "    return buffers"]) + "\n"


def form_text(line, printer, buffers):
    """`target = call(operands, out=buffer)suffix`, printed with the line's names."""
    form = line.form
    shape = tuple(line.expr.shape)
    terms = [op.value for op in form.operands if op.mode == "term" and not isinstance(op.value, str)]
    elide = any(isinstance(op.value, str) for op in form.operands) or any(
        printer.broadcast_part(t, shape) is None and printer.is_full(t) for t in terms)
    parts = []
    for op in form.operands:
        if isinstance(op.value, str):
            parts.append(op.value)
        elif isinstance(op.value, Constant):
            parts.append(buffers.constant(op.value))
        elif op.mode == "mask" and op.value not in printer.names:
            parts.append(printer.mask(op.value)[0])
        elif op.mode == "term":
            parts.append(printer.term_text(op.value, shape, elide))
        elif form.elementwise:
            parts.append(printer.p(op.value)[0])
        else:
            parts.append(printer.full(op.value)[0])
    text = f"{line.target} = {form.call}({', '.join(parts)}{form.keywords}, out={line.buffer}){form.suffix}"
    return printer.expand(text)


def with_names(printer, local, base):
    """The printer, naming a statement's temporaries too (its memo cleared when they change)."""
    names = {**base, **local} if local else base
    if printer.names is not names:
        printer.names = names
        printer.memo.clear()
        printer.used.clear()
    return printer


def plan(sched, writer, returned):
    """Split and allocate the schedule's forward and backward lines (see the module docstring),
    their text printed; returns the Buffers. returned: the names backward returns."""
    printer, base = writer.printer, sched.names
    forward = split(sched.forward, base, printer, sched.allocator)
    backward = split(sched.backward, base, printer, sched.allocator)
    lines = forward + backward
    for line in lines:
        with_names(printer, line.names, base)
        writer.render(line)
    buffers = Buffers(sched.allocator)
    allocate(lines, set(returned) | {sched.value}, printer, buffers)
    for line in lines:
        if line.form is not None:
            line.text = form_text(line, with_names(printer, line.names, base), buffers)
    with_names(printer, {}, base)
    sched.forward, sched.backward = forward, backward
    return buffers


def prologue(buffers, name, call=None):
    """`workspace = _mc_workspace(dtype, N)` (forward: call given) and the buffers unpacked."""
    lines = [f"{name} = {call}"] if call else []
    if buffers.idents:
        lines.append(", ".join(buffers.idents) + ("," if len(buffers.idents) == 1 else "") + f" = {name}")
    return lines
