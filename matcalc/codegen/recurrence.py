"""The lines of one step of a recurrence, for a loop over t written around them (nn.recurrent).

A recurrent cell's step t is derived once, from s_t = sum(grad_h_t * h_t) (+ sum(grad_c_t * c_t)):
its gradient with respect to the previous state and the weights is the step's share of dL. Its
schedule (schedule.py, with the new states as named values h, c) is split here, as data, into

* `forward`: the lines that compute the new states and every forward value the step's backward
  reads, and nothing else (the value s_t, which reads the adjoints, is not among them);
* `tape`: those values, the names backward reads that forward lines compute or that are the
  previous states: a loop saves them at step t on the way forward and reads them back at step t
  on the way back, so that backward never recomputes a gate or a tanh;
* `backward`: the lines of the step's backward pass, which read the tape, the step's inputs
  and the adjoints grad_h_t (grad_c_t), and compute grad_<state>_prev and each weight's share.

The split is checked, not assumed: no forward line reads an adjoint (the tape is the same
whatever flows back), or `StepLines` refuses. The same passes as a module's forward and
backward run over the lines (dead lines, product-then-add, in-place reuse of dead fresh buffers,
releases), each over one step: a value on the tape is live after the step and never written
into. Nothing here makes text beyond each line's own printed source (emit.ModuleWriter).
"""
from dataclasses import dataclass

from ..calculus.reverse import walk
from ..calculus.stable import stable
from ..core import dag
from ..core.nodes import Named
from ..errors import MatcalcError
from .emit import ModuleWriter, complete
from .passes import drop_dead, in_place, product_then_add, release
from .passes import saved as saved_names
from .schedule import inputs_of, schedule


@dataclass
class StepLines:
    forward: list          # [Line]: the states and the taped values from the step's inputs
    backward: list         # [Line]: grad_<state>_prev and the weights' shares
    tape: list             # names saved per step: previous states and forward values, in order
    states: dict           # state name (h, c) -> its identifier in the lines
    gradients: list        # [(variable, identifier)]: grad_<state>_prev, then the weights' shares
    writer: ModuleWriter   # the printer of the lines (dims: the identifiers of the sizes)
    dtype: str             # the identifier the lines use for the float dtype
    reads_dtype: bool      # whether any line reads it
    allocator: object      # names.Names: every identifier the lines use is taken in it


def adjoint_free(lines, adjoints):
    """The names among `adjoints` that the lines read (none, for a forward that may be taped)."""
    return sorted({n for line in lines for n in line.reads if n in adjoints})


def step_lines(share, states, previous, adjoints, variables):
    """The StepLines of one step: share is s_t built over `states` (name -> the new state's
    expression), `previous` (name -> the symbol of the state at t - 1), `adjoints` (name ->
    the symbol grad_<name>_t); variables: what backward differentiates by (the previous states
    and the weights)."""
    named = {s: Named(e, s) for s, e in states.items()}
    f = share(named)
    f_code = stable(f)
    node_names = {n: n.name for n in dag.postorder(f_code) if isinstance(n, Named) and n.name in named}
    if sorted(node_names.values()) != sorted(named):
        raise MatcalcError("recurrence: a state was lost from the step's function")
    w = walk(f_code, variables, values=False)
    s = schedule(f_code, w, inputs_of(f_code, variables, like=f), node_names=node_names)
    dtype = s.allocator.fresh("dtype")
    writer = ModuleWriter(s, dtype)
    for line in s.forward + s.backward:
        writer.render(line)
    grads = [g for _, g in s.gradients]
    given = {x.name for x in s.inputs} | set(writer.dims.values()) | {dtype}
    s.forward = complete(s.forward, s, writer, given)
    computed = {line.target: line.expr for line in s.forward}
    backward = [line for line in s.backward if computed.get(line.target, None) is not line.expr]
    backward = drop_dead(complete(backward, s, writer, set(computed) | given), set(grads))
    state_names = {st: s.names[node] for node, st in node_names.items()}
    inputs_read = saved_names([], backward, s.inputs)
    forward = drop_dead(s.forward, set(saved_names(s.forward, backward, [])) | set(state_names.values()))
    adjoint_names = {x.name for x in adjoints.values()}
    leaked = adjoint_free(forward, adjoint_names)
    if leaked:
        raise MatcalcError(f"recurrence: the step's forward values read the adjoints {', '.join(leaked)}; "
                           "they cannot be saved on the way forward")
    previous_names = [previous[st].name for st in states]
    tape = [n for n in previous_names if n in inputs_read] + saved_names(forward, backward, [])
    forward = product_then_add(forward, s.names, writer.printer)
    backward = product_then_add(backward, s.names, writer.printer)
    for line in forward + backward:
        if line.text is None:
            writer.render(line)
    live_forward = set(tape) | set(state_names.values())
    for lines, live in ((forward, live_forward), (backward, set(grads))):
        for line in in_place(lines, s.names, writer.printer, live, s.inputs):
            if line.out is not None:
                writer.render(line)
    release(forward, live_forward)
    release(backward, set(grads))
    reads_dtype = any(dtype in line.reads for line in forward + backward)
    return StepLines(forward, backward, tape, state_names, list(s.gradients), writer, dtype,
                     reads_dtype, s.allocator)
