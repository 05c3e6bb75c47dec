"""`predict(X, params...)`: a network's output from its input and parameters, as generated code.

The function is the forward pass up to the output layer, with no loss and no labels: the same
schedule, passes and printer as forward (a schedule of the output with no variables to
differentiate, so there is no backward), over `Sequential.prediction_expr()`, where dropout is
the identity. It sits after emit.py (whose ModuleWriter prints it) and is called by
codegen/__init__.py for networks; it does not train or update anything (optimizers.py does).
"""
from ..calculus.reverse import walk
from ..calculus.stable import stable
from ..core import dag
from ..core.nodes import Named
from .emit import INDENT, ModuleWriter, bind_inputs, complete, shape_doc
from .passes import drop_dead, in_place, product_then_add, release
from .schedule import schedule


def prediction_schedule(net):
    """The schedule of the network's output: its layer names (h, h_relu, Z1, ...), value y_pred."""
    out = stable(net.prediction_expr())
    value = "y_pred"
    if isinstance(out, Named):           # the value is the last layer's output itself
        out, value = out.arg, out.name
    names = {node: node.name for node in dag.postorder(out) if isinstance(node, Named)}
    inputs = [net.X] + list(net.parameters.values())
    return schedule(out, walk(out, [], values=False), inputs, node_names=names, value_name=value)


def predict_function(net, backend="numpy"):
    """(the source of `def predict(...)`, its Lines: the module's helpers are read off them)."""
    s = prediction_schedule(net)
    dtype = s.allocator.fresh("dtype")
    w = ModuleWriter(s, dtype, backend)
    if w.backend.namespace_line:
        s.allocator.claim(w.backend.xp)
    dims_name = s.allocator.fresh("dims")
    for line in s.forward:
        w.render(line)
    given = {x.name for x in s.inputs} | set(w.dims.values()) | {dtype}
    s.forward = drop_dead(complete(s.forward, s, w, given), {s.value})
    if w.backend.in_place:
        s.forward = product_then_add(s.forward, s.names, w.printer)
        for line in s.forward:
            if line.text is None:
                w.render(line)
        for line in in_place(s.forward, s.names, w.printer, {s.value}, s.inputs):
            if line.out is not None:
                w.render(line)
    release(s.forward, {s.value})
    reads_dtype = any(dtype in line.reads for line in s.forward)
    args = ", ".join([x.name for x in s.inputs] + list(w.free_dims.values()))
    out = [f"def predict({args}):",
           INDENT + f'"""{s.value}, the network\'s output before the loss (logits when the loss '
                    f'takes logits), from {", ".join(shape_doc(x) for x in s.inputs)}; no labels, '
                    f'no dropout."""',
           *bind_inputs(s.inputs, w, dims_name, dtype if reads_dtype else None),
           *w.body(s.forward),
           INDENT + f"return {s.value}"]
    return "\n".join(out), s.forward
