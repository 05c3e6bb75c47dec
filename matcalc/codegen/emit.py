"""Printing a schedule as a module: header, forward, backward, value_and_grad, helpers.

This is the last step and the only one that makes text: every line is printed once, from
data, by the NumPy printer with the schedule's names map; nothing is parsed back or edited.
Each backward group is headed by a comment quoting the differential it implements, printed
from the visit of the reverse walk (`# d(h_relu) = step(h)*dh`).

In NumPy, value_and_grad is its own copy of forward's lines then backward's, analysed as one
program (passes.py), so that an activation backward no longer reads is deleted, or written into,
in the middle of the call: forward + backward(**saved) cannot do that, as saved holds every
activation until backward returns (the wide benchmark network: 28 MB at the peak against 40).

Every identifier in the source is a validated symbol or dimension name or one built by names.py
from those and fixed words; the module name is validated too, and dimension names reach string
literals only through repr(). The generated module imports only NumPy.
"""

from dataclasses import replace

import sympy as sp

from ..core import dag, functions, ops
from ..core.nodes import ADJOINTS, Differential, Named, ScalarDifferential
from ..core.shapes import check_name
from ..printing.base import ADD
from ..printing.text import TextPrinter
from .backends import bind_helper
from .numpy_printer import NumpyPrinter
from .schedule import Line
from .workspace import dimension_args, plan as workspace_plan, prologue, workspace_source
from .passes import drop_dead, in_place, is_alias, private_buffers, product_then_add, release, \
    relu_against_zeros, saved as saved_names

INDENT = "    "
VERSION = "0.2.0"
MAX_HEADER = 300

HELPERS = '''

def _mc_bind(name, value, expected, dims):
    """value as a float array of the expected shape (dimension names or sizes); binds dims.

    A vector (expected (n, 1)) may come as (n,) or (n, 1); a scalar as a number or a 0-d array.
    Complex, string, object and masked inputs are refused.
    """
    if type(value) is np.ndarray and value.dtype.kind == "f":    # the common cases, checked quickly
        if value.ndim == 2:
            (rows, cols), (d0, d1) = value.shape, expected
            if (rows == d0 if type(d0) is int else dims.setdefault(d0, (rows, name))[0] == rows) \\
                    and (cols == d1 if type(d1) is int else dims.setdefault(d1, (cols, name))[0] == cols):
                return value
        elif value.ndim == 1 and len(expected) == 2 and expected[1] == 1:    # a vector as (n,)
            rows, d0 = value.shape[0], expected[0]
            if rows == d0 if type(d0) is int else dims.setdefault(d0, (rows, name))[0] == rows:
                return value.reshape(rows, 1)
    if isinstance(value, np.ma.MaskedArray):
        raise ValueError(f"{name} is a masked array; pass its data (value.filled(...))")
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a real number array, got dtype {array.dtype}")
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    if len(expected) == 0:
        if array.size != 1:
            raise ValueError(f"{name} must be a scalar, got an array of shape {array.shape}")
        return array.reshape(())
    if expected[1] == 1 and array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape {_mc_shape_text(expected, dims)} "
                         f"(ndim 2), got shape {np.shape(value)} (ndim {np.ndim(value)})")
    for dim, size in zip(expected, array.shape):
        if isinstance(dim, int):
            if size != dim:
                raise ValueError(f"{name} must have shape {_mc_shape_text(expected, dims)}, "
                                 f"got shape {np.shape(value)}")
        elif dim in dims and dims[dim][0] != size:
            raise ValueError(f"{name} must have shape {_mc_shape_text(expected, dims)} "
                             f"({dim} = {dims[dim][0]} from {dims[dim][1]}), got shape "
                             f"{np.shape(value)}")
    for dim, size in zip(expected, array.shape):
        if not isinstance(dim, int) and dim not in dims:
            dims[dim] = (size, name)
    return array


def _mc_shape_text(expected, dims):
    """(N, d) = (64, 3), as far as the sizes are known."""
    names = ", ".join(str(d) for d in expected)
    sizes = [str(d) if isinstance(d, int) else str(dims[d][0]) if d in dims else "?"
             for d in expected]
    return f"({names}) = ({', '.join(sizes)})"


def _mc_like(grad, arg):
    """grad as an array in the shape of the caller's argument, in its float dtype (a view of
    grad, reshaped, when it has that dtype: a bias's (n, 1) column answers an (n,) argument)."""
    if type(arg) is np.ndarray and type(grad) is np.ndarray and grad.dtype == arg.dtype:
        if grad.shape != arg.shape:
            grad = grad.reshape(arg.shape)
        if grad.flags.writeable:
            return grad
    arg = np.asarray(arg)
    dtype = arg.dtype if arg.dtype.kind == "f" else np.float64
    return np.array(np.reshape(grad, arg.shape), dtype=dtype)
'''


def module_name(name):
    """The module name, validated: it is written into the generated docstring."""
    return check_name(name, "module")


def shape_doc(symbol):
    if not ops.is_matrix(symbol):
        return f"{symbol.name}: scalar"
    return f"{symbol.name}: {symbol.shape[0]} x {symbol.shape[1]}"


def expected_literal(symbol):
    if not ops.is_matrix(symbol):
        return "()"
    parts = [str(int(d)) if d.is_Integer else repr(str(d)) for d in symbol.shape]
    return "(" + ", ".join(parts) + ")"


def header_text(text):
    """A one-line excerpt of the source expression for a comment."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_HEADER else text[:MAX_HEADER] + " ..."


def comment_names(names):
    """The names a comment may use: inputs, layer outputs and adjoints, the names a reader knows
    from the derivation; the code's own temporaries (y_pred_minus_Y) are printed out in full."""
    layer = {name for node, name in names.items() if isinstance(node, Named)}
    return {node: name for node, name in names.items()
            if name in layer or dag.is_leaf(node) or isinstance(node, ADJOINTS)}


class ModuleWriter:
    """Prints the lines of a schedule (see the module docstring)."""

    def __init__(self, sched, dtype=None, backend=None):
        self.s = sched
        self.dims = {}
        for symbol in sched.inputs:
            for d in (symbol.shape if ops.is_matrix(symbol) else ()):
                if not d.is_Integer and d not in self.dims:
                    self.dims[d] = sched.allocator.fresh(str(d))
        # a dimension no input carries (ones(N) alone) is an argument of its own: its size
        self.free_dims = {}
        for node in dag.postorder_many([line.expr for line in sched.forward + sched.backward]):
            for size in (node.shape if ops.is_matrix(node) else ()) + \
                    ((node,) if isinstance(node, sp.Symbol) and node.is_integer else ()):
                for d in sp.sympify(size).free_symbols:
                    if d not in self.dims and d not in self.free_dims:
                        self.free_dims[d] = sched.allocator.claim(str(d))
        self.dims.update(self.free_dims)
        self.printer = NumpyPrinter(sched.names, self.dims, dtype, backend)
        self.backend = self.printer.backend
        self.comments = TextPrinter(comment_names(sched.names))

    # -- one line --
    def render(self, line):
        """Print a line once: line.text (its source) and line.reads (the names it refers to, as
        printed, which is what the passes analyse)."""
        p, e, names = self.printer, line.expr, self.s.names
        p.collecting.append(set())          # whatever the line prints (names, sizes) it reads
        try:
            text, reads = self._render(line, p, e, names)
        finally:
            printed = p.collecting.pop()
        line.text = p.expand(text)
        line.reads = sorted((set(reads) | printed) - {None})
        return line

    def _render(self, line, p, e, names):
        if line.accumulate:
            negative = ops.is_negative_term(e) if ops.is_matrix(e) else e.could_extract_minus_sign()
            term = ops.neg(e) if negative else e
            reads = set(p.names_in(term)) | {line.target}
            if line.out == line.target:        # into the target's own new buffer
                ufunc = self.backend.ufunc("np.subtract" if negative else "np.add")
                return f"{line.target} = {ufunc}({line.target}, {p.p(term)[0]}, out={line.target})", reads
            text, prec = p.full(term)
            if prec <= ADD:
                text = f"({text})"
            text = f"{line.target} = {line.target} {'-' if negative else '+'} {text}"
        elif is_alias(line, names):
            reads = {names[e]}
            text = names[e] if p.is_full(e) else \
                f"{p.xp}.broadcast_to({names[e]}, {p.shape_text(e.shape)})"
            text = f"{line.target} = {text}"
        elif line.out is not None:
            form = line.inplace               # passes.InPlace: which operand, which ufunc
            ufunc = self.backend.ufunc(form.call)
            if form.other is not None:
                other = form.other
                if isinstance(other, str):     # an identifier: relu's zeros
                    reads, other_text = {line.out, other}, other
                else:
                    reads = {line.out} | set(p.names_in(other))
                    is_mask = getattr(other, "name", None) == "step" and other not in names
                    other_text = p.mask(other)[0] if is_mask else p.p(other)[0]
                operands = (line.out, other_text) if form.first else (other_text, line.out)
                text = f"{line.target} = {ufunc}({operands[0]}, {operands[1]}, out={line.out})"
            else:
                reads = {line.out} | {n for a in dag.children(e) if a is not form.operand
                                      for n in p.names_in(a)}
                text = f"{line.target} = {ufunc}({line.out}{form.constants}, out={line.out})"
        else:
            if dag.is_leaf(e) and not isinstance(e, ADJOINTS):
                (body, _), reads = p.full(e), set(p.names_in(e))
            else:
                body, _, reads = p.define_with_names(e)
                if not p.is_full(e) and not reads and p.dtype is not None:
                    # a number: xp.full(shape, value, dtype=dtype), in the arguments' dtype
                    body = f"{p.xp}.full({p.shape_text(e.shape)}, {body}{p.dtype_keyword()})"
                elif not p.is_full(e):
                    body = f"{p.xp}.broadcast_to({body}, {p.shape_text(e.shape)})"
            if line.wrap is not None:
                body = line.wrap.format(body)
            text = f"{line.target} = {body}"
        return text, reads

    def comment(self, line):
        """The differential a backward line implements, from its visit."""
        statement = line.node
        visits = getattr(statement, "visits", ()) or \
            ((statement.visit,) if getattr(statement, "visit", None) is not None else ())
        return "; ".join(self.differential(v) for v in visits) or None

    def differential(self, visit):
        node = visit.node
        if node is self.s.forward[-1].node:
            return f"d{self.s.value} = tr(G.T @ d(...)): the differential of {self.s.value}"
        lhs = self.comments.doprint(Differential(node) if ops.is_matrix(node) else ScalarDifferential(node))
        return f"{lhs} = {self.comments.doprint(visit.expansion)}"

    # -- the module --
    def body(self, lines):
        out, last = [], None
        for line in lines:
            c = self.comment(line)
            if c is not None and c != last:
                out.append(INDENT + "# " + header_text(c))
                last = c
            out.append(INDENT + line.text)
            if line.release:
                out.append(INDENT + "del " + ", ".join(line.release))
        return out

    def helpers(self, lines=None):
        """The registry helpers (softmax, logsumexp) the expressions use, each once."""
        found = []
        lines = self.s.forward + self.s.backward if lines is None else lines
        roots = [line.expr for line in lines]
        for node in dag.postorder_many(roots):
            record = functions.record_of(node)
            helper = record.helper if record is not None else getattr(node, "helper", "")
            if record is not None and record.name in self.backend.spellings:
                continue                 # the backend's own spelling (torch.sigmoid) needs none
            if helper and helper not in found:
                found.append(helper)
        return "".join("\n" + self.backend.helper(h) for h in found)


def bind_inputs(inputs, writer, dims_name, dtype=None):
    """The first lines of a generated function: the array namespace (backends that need one),
    each input bound by _mc_bind (its shape checked, its dimensions read off), the dimension
    sizes, and the float dtype when the body reads it (dtype: its identifier, else None)."""
    b = writer.backend
    arrays = [x.name for x in inputs if ops.is_matrix(x)] or [x.name for x in inputs]
    out = [INDENT + b.namespace_line.format(arrays=", ".join(arrays))] if b.namespace_line else []
    out.append(INDENT + f"{dims_name} = {{}}")
    for x in inputs:
        out.append(INDENT + f"{x.name} = _mc_bind({x.name!r}, {x.name}, {expected_literal(x)}, "
                            f"{dims_name})")
    out += scalars_as_arrays(inputs, b)
    for d, ident in writer.dims.items():
        if d not in writer.free_dims:
            out.append(INDENT + f"{ident} = {dims_name}[{str(d)!r}][0]")
        else:
            out.append(INDENT + f"{ident} = int({ident})")
    if dtype is not None:
        out.append(INDENT + f"{dtype} = " + b.dtype_of.format(xp=b.xp, arrays=", ".join(arrays),
                                                            first=arrays[0]))
    return out


def scalars_as_arrays(inputs, b):
    """Each scalar input in the float dtype of the array inputs, after they are bound: a Python
    number is float64 to NumPy's functions (np.exp(0.7) would make float32 work float64) and
    no tensor to torch's (torch.exp(0.7) fails)."""
    arrays = [x.name for x in inputs if ops.is_matrix(x)]
    if not arrays:       # torch's functions take no Python number: torch.sin(0.3) fails
        return [INDENT + f"{x.name} = " + b.scalar_alone.format(x=x.name)
                for x in inputs if b.scalar_alone]
    return [INDENT + f"{x.name} = " + b.scalar_as.format(xp=b.xp, x=x.name, arrays=", ".join(arrays),
                                                         first=arrays[0])
            for x in inputs if not ops.is_matrix(x)]


def complete(lines, sched, writer, available):
    """The lines, with a definition inserted before any line that reads a named value no
    earlier line (or forward, or an input) provides: what was printed decides what is needed."""
    node_of = {}
    for node, ident in sched.names.items():
        node_of.setdefault(ident, node)
    out, known = [], set(available)
    pending = list(reversed(lines))
    while pending:
        line = pending.pop()
        missing = [n for n in line.reads if n not in known and n != line.target]
        if missing:
            pending.append(line)
            for n in reversed(missing):
                pending.append(writer.render(Line(n, node_of[n], node=node_of[n])))
            known.update(missing)
            continue
        out.append(line)
        known.add(line.target)
    return out


def gradient_module(sched, title, name="f", backend="numpy", more=(), workspace=False):
    """Source of forward / backward / value_and_grad for a schedule (see the module docstring),
    in the array library of `backend` (backends.py). more: further functions placed after
    value_and_grad, as (their names, their source, the Lines they print: for the helpers), such
    as a network's predict (predict.py) and an optimiser's update (optimizers.py).
    workspace: every intermediate written with out= into buffers made once per sizes and dtype
    (workspace.py; NumPy only): the results are views into them, valid until the next call."""
    name = module_name(name)
    s = sched
    fused = None                        # value_and_grad's own lines (NumPy)
    grads = [g for _, g in s.gradients]
    dtype = s.allocator.fresh("dtype")
    w = ModuleWriter(s, dtype, backend)
    b = w.backend
    if b.namespace_line:
        s.allocator.claim(b.xp)
    dims_name = s.allocator.fresh("dims")
    for line in s.forward + s.backward:
        w.render(line)
    given = {x.name for x in s.inputs} | set(w.dims.values()) | {dtype}
    # the value line is printed from f's scalar form, whose 1 x 1 parts may be named nodes
    # that f's own DAG does not hold: forward is completed like backward
    s.forward = complete(s.forward, s, w, given)
    computed = {line.target: line.expr for line in s.forward}
    s.backward = [line for line in s.backward if computed.get(line.target, None) is not line.expr]
    s.backward = complete(s.backward, s, w, set(computed) | given)
    s.backward = drop_dead(s.backward, set(grads))
    reads_dtype = any(dtype in line.reads for line in s.forward + s.backward)
    sizes = list(w.dims.values()) + ([dtype] if reads_dtype else [])
    reads_dtype = reads_dtype or workspace
    s.saved = saved_names(s.forward, s.backward, s.inputs, sizes)
    s.forward = drop_dead(s.forward, set(s.saved) | {s.value})
    s.saved = saved_names(s.forward, s.backward, s.inputs, sizes)
    if workspace:
        buffers = workspace_plan(s, w, grads)
        ws_name = s.allocator.fresh("workspace")
    elif b.in_place:                    # out= buffers: NumPy's arrays and torch's (backends.py)
        s.forward = product_then_add(s.forward, s.names, w.printer)
        s.backward = product_then_add(s.backward, s.names, w.printer)
        numpy = b.name == "numpy"
        if numpy:                       # the derivative's steps in one private buffer
            before = len(s.backward)
            s.backward = private_buffers(s.backward, s.names, w.printer, lambda node: s.allocator.fresh())
            if len(s.backward) != before:     # new names: a node printed before prints its name now
                w.printer.memo.clear()
                for line in s.backward:
                    line.text = None
        for line in s.forward + s.backward:
            if line.text is None:
                w.render(line)
        # value_and_grad as one program: forward's lines then backward's, its own copies, so
        # that liveness runs across (a saved activation is deleted, or written into, after its
        # last use in backward, which forward + backward(**saved) cannot do: saved holds it)
        fused = [replace(line) for line in s.forward + s.backward] if numpy else None
        programs = [(s.forward, set(s.saved) | {s.value}), (s.backward, set(grads))]
        if fused:
            programs.append((fused, set(grads) | {s.value}))
        for lines, live in programs:
            for line in in_place(lines, s.names, w.printer, live, s.inputs, operand_second=numpy):
                if line.out is not None:
                    w.render(line)
        if numpy:                       # relu against a zeros array, one per shape
            s.forward = relu_against_zeros(s.forward, lambda: s.allocator.fresh("zeros"))
            fused = relu_against_zeros(fused, lambda: s.allocator.fresh("zeros"))
            for line in s.forward + fused:
                if line.text is None:
                    w.render(line)
            reads_dtype = reads_dtype or any(dtype in line.reads for line in s.forward + fused)
    # a name that holds a workspace buffer is not deleted: the buffer outlives the call
    held = {line.target for line in s.forward + s.backward if getattr(line, "form", None)}
    release(s.forward, set(s.saved) | {s.value}, held)
    release(s.backward, set(grads), held)
    forward_body = w.body(s.forward)
    backward_body = w.body(s.backward)
    if fused:
        release(fused, set(grads) | {s.value}, held)
        fused_body = w.body(fused)
    args = ", ".join([x.name for x in s.inputs] + list(w.free_dims.values()))
    wrt = [x.name for x, _ in s.gradients]
    functions = ", ".join(["forward, backward, value_and_grad"] + [names for names, _, _ in more])
    out = [f'"""{name}: generated by matcalc {VERSION}; {functions}."""',
           f"# Generated by matcalc {VERSION} from: {header_text(title)}",
           f"# Gradients with respect to: {', '.join(wrt)}",
           f"# Convention: grad_v has the shape of v, and d({s.value}) = tr(grad_v.T @ dv).",
           "# Inside, vectors are n x 1 columns; value_and_grad accepts (n,) or (n, 1) and answers",
           "# in the caller's shape and float dtype.",
           *b.imports, "", "",
           f"def forward({args}):",
           INDENT + f'"""{", ".join(shape_doc(x) for x in s.inputs)}. Returns ({s.value}, saved)."""',
           *bind_inputs(s.inputs, w, dims_name, dtype if reads_dtype else None)]
    if workspace:
        call = f"_mc_workspace({', '.join([dtype] + dimension_args(buffers, w))})"
        out += [INDENT + t for t in prologue(buffers, ws_name, call)]
    out += forward_body
    saved = list(s.saved) + ([ws_name] if workspace else [])
    saved_arrays = [n for n in saved if n not in sizes]
    if b.namespace_line and not saved_arrays:   # backward has no array to ask: it gets xp
        saved.append(b.xp)
    out.append(INDENT + f"return {s.value}, {{{', '.join(f'{n!r}: {n}' for n in saved)}}}")
    ret = ", ".join(grads) + ("," if len(grads) == 1 else "")
    out += ["", "", f"def backward({', '.join(saved)}):",
            INDENT + f'"""Gradients of {s.value} with respect to {", ".join(wrt)}, in that order; '
                     f'call as backward(**saved)."""']
    if b.namespace_line and saved_arrays:
        out.append(INDENT + b.namespace_line.format(arrays=", ".join(saved_arrays)))
    if workspace:
        out += [INDENT + t for t in prologue(buffers, ws_name)]
    out += backward_body
    out.append(INDENT + f"return {ret}")
    out += ["", "", f"def value_and_grad({args}):",
            INDENT + f'"""({s.value}, {{name: gradient}}), each gradient in the shape and dtype '
                     f'of its argument."""']
    if fused or workspace:              # forward and backward as one program (see above)
        given = s.allocator.fresh("given")
        out.append(INDENT + f"{given} = ({', '.join(wrt)}{',' if len(wrt) == 1 else ''})"
                            f"    # the caller's arrays: the answers take their shapes and dtypes")
        out += bind_inputs(s.inputs, w, dims_name, dtype if reads_dtype else None)
        if workspace:                   # the buffers are planned over forward then backward
            out += [INDENT + t for t in prologue(buffers, ws_name, call)]
            out += forward_body + backward_body
        else:
            out += fused_body
        grad_dict = ", ".join(f"{x!r}: _mc_like({g}, {given}[{i}])"
                              for i, (x, g) in enumerate(zip(wrt, grads)))
    else:
        grad_dict = ", ".join(f"{x!r}: _mc_like({g}, {x})" for x, g in zip(wrt, grads))
        out += [INDENT + f"{s.value}, saved = forward({args})",
                INDENT + f"{ret} = backward(**saved)"]
    out.append(INDENT + f"return {s.value}, {{{grad_dict}}}")
    for _, text, _ in more:
        out += ["", "", text]
    helpers = HELPERS if b.name == "numpy" else bind_helper(b)
    if workspace:
        helpers += workspace_source(buffers, w, dtype)
    return "\n".join(out) + "\n" + helpers + w.helpers(s.forward + s.backward + [
        line for _, _, lines in more for line in lines])
