"""Recurrent cells over T steps, derived once for a generic step t (backprop through time).

    rnn = nn.Recurrent(nn.LSTM(3, 5), n_out=2, loss=nn.SumSquaredError())
    print(rnn.text())          # the same text for every T: one step's derivation and the recursion
    rnn.evaluate(values)       # gradients by the recursion, T read off X (T x N x n_in)
    src = rnn.numpy_source()   # forward loop, then `for t in reversed(range(T))`

A cell maps (x_t, state_{t-1}) to state_t with weights shared by every step; the prediction
is read from the last hidden state, y_pred = h_T @ Wy + by, and the loss compares it with Y.
Backprop through time is the textbook recursion: the adjoint of the state at step t is what
flows back from step t+1 (at t = T, what the loss gives), and each shared weight's gradient is
the sum over t of its share at step t:

    grad_h_{t-1}, grad_W (share at t) = the backward pass of one step, given grad_h_t
    grad_W = sum over t of the shares

That backward pass of one step is derived once, by the one reverse walk, from the scalar
s_t = sum(grad_h_t * h_t) (+ sum(grad_c_t * c_t) for the LSTM's cell state) whose gradient
with respect to h_{t-1} and the weights is exactly the share at t (dL = tr(grad_h_t.T @ dh_t)):
its size does not depend on T, and T is a runtime size.

Gate conventions (state them, as the issue asks): with a(x, h) = x @ W + h @ U + b.T,
* RNN:  h_t = tanh(a(x_t, h_{t-1}))
* GRU:  z = sigmoid(a_z), r = sigmoid(a_r), n = tanh(x_t @ Wn + (r * h_{t-1}) @ Un + bn.T),
        h_t = (1 - z) * n + z * h_{t-1}   (reset gate applied before Un, as in Cho et al. 2014)
* LSTM: i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o), g = tanh(a_g),
        c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
"""
import numpy as np
import sympy as sp

from ..codegen import numpy_source as gradient_source
from ..codegen.numpy_printer import NumpyPrinter
from ..codegen.optimizers import training, training_source
from ..codegen.recurrence import step_lines
from ..core import functions, ops
from ..core.shapes import dimension
from ..derive.gradient import grad as derive_grad
from ..errors import MatcalcError
from ..evaluate import evaluate
from ..printing.text import to_text
from .losses import SumSquaredError


def _affine(x, h, W, U, b):
    """x @ W + h @ U + b.T (b broadcast over the rows)."""
    return ops.add(ops.matmul(x, W), ops.matmul(h, U), ops.matmul(ops.ones(x.shape[0], 1), ops.transpose(b)))


class RNN:
    """h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + bh.T)."""
    states = ("h",)

    def __init__(self, n_in, n_hidden):
        for v, what in ((n_in, "n_in"), (n_hidden, "n_hidden")):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise MatcalcError(f"{type(self).__name__}: {what} must be a positive integer, got {v!r}")
        self.n_in, self.n_hidden = n_in, n_hidden

    def parameter_shapes(self):
        """Wx (n_in x n_hidden), Wh (n_hidden x n_hidden), bh (n_hidden)."""
        return {"Wx": (self.n_in, self.n_hidden), "Wh": (self.n_hidden, self.n_hidden),
                "bh": (self.n_hidden,)}

    def step(self, x, state, p):
        (h,) = state
        return (functions.apply("tanh", _affine(x, h, p["Wx"], p["Wh"], p["bh"])),)


def gate_shapes(cell):
    """W<g> (n_in x n_hidden), U<g> (n_hidden x n_hidden), b<g> (n_hidden) for every gate g."""
    shapes = {}
    for gate in cell.gates:
        shapes[f"W{gate}"] = (cell.n_in, cell.n_hidden)
        shapes[f"U{gate}"] = (cell.n_hidden, cell.n_hidden)
        shapes[f"b{gate}"] = (cell.n_hidden,)
    return shapes


class GRU(RNN):
    """z = sigmoid(x@Wz + h@Uz + bz.T), r = sigmoid(x@Wr + h@Ur + br.T),
    n = tanh(x@Wn + (r*h)@Un + bn.T), h_t = (1 - z)*n + z*h."""
    gates = ("z", "r", "n")
    parameter_shapes = gate_shapes

    def step(self, x, state, p):
        (h,) = state
        z = functions.apply("sigmoid", _affine(x, h, p["Wz"], p["Uz"], p["bz"]))
        r = functions.apply("sigmoid", _affine(x, h, p["Wr"], p["Ur"], p["br"]))
        n = functions.apply("tanh", _affine(x, ops.hadamard(r, h), p["Wn"], p["Un"], p["bn"]))
        return (ops.add(ops.hadamard(ops.sub(1, z), n), ops.hadamard(z, h)),)


class LSTM(RNN):
    """i, f, o = sigmoid(x@W* + h@U* + b*.T), g = tanh(x@Wg + h@Ug + bg.T),
    c_t = f*c + i*g, h_t = o*tanh(c_t)."""
    states = ("h", "c")
    gates = ("i", "f", "g", "o")
    parameter_shapes = gate_shapes

    def step(self, x, state, p):
        h, c = state
        i, f, o = (functions.apply("sigmoid", _affine(x, h, p[f"W{k}"], p[f"U{k}"], p[f"b{k}"]))
                   for k in ("i", "f", "o"))
        g = functions.apply("tanh", _affine(x, h, p["Wg"], p["Ug"], p["bg"]))
        c_t = ops.add(ops.hadamard(f, c), ops.hadamard(i, g))
        return (ops.hadamard(o, functions.apply("tanh", c_t)), c_t)


class Recurrent:
    """A cell over T steps (T at run time) and a dense read-out of the last hidden state."""

    def __init__(self, cell, n_out, loss=None, batch="N"):
        self.cell, self.n_out = cell, n_out
        self.loss = loss if loss is not None else SumSquaredError()
        N, H, D = dimension(batch, "batch"), dimension(cell.n_hidden), dimension(cell.n_in)
        self.x = ops.matrix_symbol("x_t", N, D)
        self.previous = {s: ops.matrix_symbol(f"{s}_prev", N, H) for s in cell.states}
        self.adjoints = {s: ops.matrix_symbol(f"grad_{s}_t", N, H) for s in cell.states}
        self.weights = {name: ops.matrix_symbol(name, dimension(shape[0]),
                                                dimension(shape[1]) if len(shape) == 2 else sp.Integer(1))
                        for name, shape in cell.parameter_shapes().items()}
        self.state_t = dict(zip(cell.states, cell.step(self.x, tuple(self.previous.values()), self.weights)))
        # s_t = sum(grad_h_t * h_t) (+ sum(grad_c_t * c_t)): its gradient is the share at step t
        self.share = ops.add(*[functions.apply("sum", ops.hadamard(self.adjoints[s], self.state_t[s]))
                               for s in cell.states])
        self.step_derivation = derive_grad(self.share, list(self.previous.values()) + list(self.weights.values()))
        h_T = ops.matrix_symbol("h_T", N, H)
        self.Wy = ops.matrix_symbol("Wy", H, dimension(n_out))
        self.by = ops.matrix_symbol("by", dimension(n_out), 1)
        self.Y = ops.matrix_symbol("Y", N, dimension(n_out))
        self.h_T = h_T
        self.y_pred = ops.add(ops.matmul(h_T, self.Wy), ops.matmul(ops.ones(N, 1), ops.transpose(self.by)))
        self.loss_expr = self.loss.build(self.y_pred, self.Y)
        self.head_derivation = derive_grad(self.loss_expr, [h_T, self.Wy, self.by])

    @property
    def parameters(self):
        return [*self.weights, "Wy", "by"]

    def parameter_shapes(self):
        """name -> shape: the cell's weights, then the read-out Wy (n_hidden x n_out), by (n_out)."""
        return {**self.cell.parameter_shapes(), "Wy": (self.cell.n_hidden, self.n_out),
                "by": (self.n_out,)}

    def weight_names(self):
        """The weight matrices (W*, U*, Wy): what weight decay applies to, not the biases."""
        return [n for n, shape in self.parameter_shapes().items() if len(shape) == 2]

    # -- the derivation, the same for every T --
    def text(self):
        cell = type(self.cell).__name__
        lines = [f"{cell} over T steps (T at run time); weights shared by every step.",
                 "Forward, for t = 1..T:"]
        for s, e in self.state_t.items():
            lines.append(f"    {s}_t = {to_text(e)}")
        lines += ["Loss on the last step (h_T, the hidden state after step T):",
                  f"    L = {to_text(self.loss_expr)}", "",
                  "Read-out and loss (once):", self.head_derivation.text(), "",
                  "Backprop through time, the recursion (a generic step t, from t = T down to 1):",
                  "    grad_h_T comes from the loss" + ("; grad_c_T = 0" if "c" in self.cell.states else "") + ";",
                  "    the share of dL through step t is tr(grad_h_t.T @ dh_t)"
                  + (" + tr(grad_c_t.T @ dc_t)" if "c" in self.cell.states else "") + ",",
                  f"    the differential of s_t = {to_text(self.share)}:",
                  self.step_derivation.text(), "",
                  "    then grad_h_{t-1} = the gradient w.r.t. h_prev above"
                  + (" (and grad_c_{t-1} w.r.t. c_prev)" if "c" in self.cell.states else "")
                  + ", and for every shared weight W:",
                  "    grad_W = sum over t = 1..T of the gradient w.r.t. W above, at step t"]
        return "\n".join(lines)

    def latex(self, notes="below"):
        """text() as one amsmath `aligned` block (the same for every T): the forward step, the
        read-out's derivation, the derivation of one generic step t from s_t, and the recursion.
        notes: "below", "tags" or "right", as for every derivation (printing.latex)."""
        from ..derive.derivation import route_rows
        from ..printing.identity import notes_in
        from ..printing.latex import Words, render_aligned
        lstm = "c" in self.cell.states
        skip = len(route_rows("gradient"))      # each derivation's convention, said once on top
        rows = route_rows("gradient") + [
            (None, Words(f"{type(self.cell).__name__} over T steps (T at run time); weights "
                         f"shared by every step. Forward, for t = 1..T:"), "")]
        rows += [(rf"{s}_{{t}}", e, "") for s, e in self.state_t.items()]
        rows += [(None, Words("Loss on the last step (from the hidden state after step T):"), ""),
                 ("L", self.loss_expr, ""), (None, Words("Read-out and loss (once):"), "")]
        rows += self.head_derivation.latex_rows()[skip:]
        rows += [(None, Words("Backprop through time, the recursion (a generic step t, from "
                              "t = T down to 1):"), ""),
                 (r"\nabla_{h_{T}}", r"\frac{\partial L}{\partial h_{T}}", "")]
        rows += [(r"\nabla_{c_{T}}", "0", "")] if lstm else []
        share = "the share of dL through step t: dL = ... + tr(grad_h_t.T@dh_t)" + (
            " + tr(grad_c_t.T@dc_t)" if lstm else "")
        rows += [("s_{t}", self.share, notes_in(share)),
                 (None, Words("the differential of f = s_t, for one generic step t:"), "")]
        rows += self.step_derivation.latex_rows()[skip:]
        rows += [(r"\nabla_{h_{t-1}}", r"\frac{\partial s_{t}}{\partial h_{\mathrm{prev}}}", "")]
        rows += [(r"\nabla_{c_{t-1}}", r"\frac{\partial s_{t}}{\partial c_{\mathrm{prev}}}", "")] \
            if lstm else []
        rows += [(r"\nabla_{W}", r"\sum_{t=1}^{T} \frac{\partial s_{t}}{\partial W}",
                  notes_in("for every shared weight W, its share at step t summed over t"))]
        return render_aligned(rows, notes)

    # -- numbers, by the recursion --
    def forward_states(self, values):
        """[state_0, ..., state_T], each a dict s -> array, from X (T x N x n_in) and h0 (c0)."""
        X = np.asarray(values["X"])
        state = {s: np.asarray(values.get(f"{s}0", np.zeros((X.shape[1], self.cell.n_hidden))))
                 for s in self.cell.states}
        states = [state]
        for t in range(X.shape[0]):
            env = {"x_t": X[t], **{f"{s}_prev": state[s] for s in state}, **self._weights(values)}
            state = {s: np.asarray(evaluate(e, env)) for s, e in self.state_t.items()}
            states.append(state)
        return states

    def _weights(self, values):
        return {name: values[name] for name in self.weights}

    def evaluate(self, values):
        """parameter name -> gradient: the read-out's, then the recursion over reversed(range(T))."""
        states = self.forward_states(values)
        X = np.asarray(values["X"])
        head = {"h_T": states[-1]["h"], "Wy": values["Wy"], "by": values["by"], "Y": values["Y"]}
        found = self.head_derivation.results
        grads = {name: np.reshape(evaluate(found[name], head), np.shape(values[name]))
                 for name in ("Wy", "by")}
        adjoint = {"h": np.asarray(evaluate(found["h_T"], head))}
        adjoint.update({s: np.zeros_like(adjoint["h"]) for s in self.cell.states if s != "h"})
        total = {name: 0.0 for name in self.weights}
        found = self.step_derivation.results
        results = [found[f"{s}_prev"] for s in self.cell.states] + [found[name] for name in self.weights]
        for t in reversed(range(X.shape[0])):
            env = {"x_t": X[t], **{f"{s}_prev": states[t][s] for s in self.cell.states},
                   **{f"grad_{s}_t": adjoint[s] for s in self.cell.states}, **self._weights(values)}
            out = [np.asarray(evaluate(g, env)) for g in results]
            adjoint = {s: out[k] for k, s in enumerate(self.cell.states)}
            for k, name in enumerate(self.weights, len(self.cell.states)):
                total[name] = total[name] + out[k]
        grads.update({name: np.reshape(total[name], np.shape(values[name])) for name in self.weights})
        return {name: grads[name] for name in self.parameters}

    # -- generated code: the step's backward pass from codegen, and the loop over t ---------------
    def _numpy(self, e):
        """The NumPy spelling of one expression of the driver, where N is the batch size."""
        return NumpyPrinter(dims={self.x.shape[0]: "N"}).doprint(e)

    def step_lines(self):
        """The lines of one step for the loops over t (codegen.recurrence.StepLines): the
        forward lines computing the new state and the values the step's backward reads (the
        tape), and the backward lines; derived from s_t with the new states named."""
        states = self.cell.states

        def share(named):
            return ops.add(*[functions.apply("sum", ops.hadamard(self.adjoints[s], named[s]))
                             for s in states])
        wrt = [self.previous[s] for s in states] + list(self.weights.values())
        return step_lines(share, self.state_t, self.previous, self.adjoints, wrt)

    def numpy_source(self, name="bptt", optimizer=None, **options):
        """A NumPy module: `value_and_grad` of one step (generated by codegen from s_t, the share
        of dL through step t), `cell` (one step forward), `value_and_grad_sequence(X, Y,
        weights...)`, which runs the forward loop over t and then the recursion
        `for t in reversed(range(T))`, and `predict_sequence(X, weights...)`, the forward loop
        and the read-out y_pred alone; T is read off X (T x N x n_in) at run time.
        The loops are the step's own lines (step_lines): the forward loop saves at each t the
        values the step's backward reads (gates, tanh(c), the previous state), the backward loop
        reads them back instead of recomputing them, and each shared weight's gradient is
        summed in place. The arrays keep the inputs' float dtype (float32 stays float32).
        optimizer ("sgd", "momentum", "rmsprop", "adam") and its options add learning_rate,
        init_state and update, as codegen.numpy_source does for a network (optimizers.py);
        weight decay applies to the weight matrices, not the biases."""
        states, weights = self.cell.states, list(self.weights)
        wrt = [self.previous[s] for s in states] + list(self.weights.values())
        step = gradient_source(self.share, wrt=wrt, name=f"{name}_step")
        names = {}
        cell_lines = []
        for s in reversed(states):                  # c first: h reads it by name
            cell_lines.append(f"    {s} = {NumpyPrinter(names=dict(names)).doprint(self.state_t[s])}")
            names[self.state_t[s]] = s
        state_args = ", ".join(f"{s}_prev" for s in states)
        weight_args = ", ".join(weights)
        columns = [n for n, shape in self.cell.parameter_shapes().items() if len(shape) == 1]
        parameters = weights + ["Wy", "by"]
        prologue = [         # the arrays in one float dtype, biases as columns, the sizes
            f"    {', '.join(['X'] + parameters)} = ({', '.join(f'np.asarray({w})' for w in ['X'] + parameters)},)",
            f"    dtype = np.result_type(X, {', '.join(parameters)}, np.float32)",
            (f"    {', '.join(['X'] + parameters)} = "
             f"({', '.join(f'{w}.astype(dtype, copy=False)' for w in ['X'] + parameters)},)"),
            f"    {', '.join(columns + ['by'])} = ({', '.join(f'np.reshape({c}, (-1, 1))' for c in columns + ['by'])},)",
            "    T, N = X.shape[0], X.shape[1]"]
        lines = [
            "",
            "",
            f"def cell(x_t, {state_args}, {weight_args}):",
            f'    """One step of the {type(self.cell).__name__}: the state at t from x_t and the state at t - 1."""',
            *cell_lines,
            f"    return {', '.join(states)}{',' if len(states) == 1 else ''}",
            "",
            "",
            f"def predict_sequence(X, {weight_args}, Wy, by):",
            '    """y_pred = h_T @ Wy + by.T for the sequence X (T x N x n_in): the forward loop alone."""',
            *prologue,
            f"    state = tuple(np.zeros((N, {self.cell.n_hidden}), dtype=dtype) for _ in range({len(states)}))",
            "    for t in range(T):",
            f"        state = cell(X[t], *state, {weight_args})",
            "    h_T = state[0]",
            f"    return {self._numpy(self.y_pred)}",
            "",
            "",
            *self._sequence_source(prologue, columns),
        ]
        header = (f'"""{name}: {type(self.cell).__name__} over T steps, backprop through time; generated '
                  f'by matcalc (the step by codegen, the loop over t by nn.recurrent)."""\n')
        if optimizer is not None or options:
            t = training(optimizer, **options)
            lines += ["", "", training_source(t, self.parameters, self.weight_names())]
        return header + step + "\n".join(lines) + "\n"

    def _sequence_source(self, prologue, columns):
        """The lines of value_and_grad_sequence: the forward loop over t running the step's
        forward lines and saving the tape, the loss and the read-out's gradients, then the
        backward loop over reversed(range(T)) reading the tape back (see numpy_source)."""
        st = self.step_lines()
        states, weights = self.cell.states, list(self.weights)
        taken = st.allocator
        for fixed in ("X", "Y", "Wy", "by", "h_T", "T", "N", "t", "dtype", "shapes", "loss", "grads"):
            if fixed in taken.taken and fixed not in (st.dtype, *st.writer.dims.values()):
                raise MatcalcError(f"recurrent codegen: the step uses the name {fixed!r}, which the loop needs")
            taken.taken.add(fixed)
        if st.dtype != "dtype" or set(st.writer.dims) - {self.x.shape[0]} or \
                any(n != "N" for n in st.writer.dims.values()):
            raise MatcalcError("recurrent codegen: the step's sizes are not the batch N alone")
        tape = taken.fresh("tape")
        previous = {s: self.previous[s].name for s in states}
        adjoint = {s: self.adjoints[s].name for s in states}
        found = {x.name: g for x, g in st.gradients}
        total = {w: taken.fresh(f"sum_grad_{w}") for w in weights}
        head = self.head_derivation.results
        loop = "        "

        def body(step):
            return [loop + text[len("    "):] if text.startswith("    ") else loop + text
                    for text in st.writer.body(step)]

        def together(names):
            return ", ".join(names) + ("," if len(names) == 1 else "")
        weight_args = ", ".join(weights)
        return [
            f"def value_and_grad_sequence(X, Y, {weight_args}, Wy, by):",
            '    """The loss of y_pred = h_T @ Wy + by.T against Y, and its gradients, for the sequence',
            "    X (T x N x n_in, T at run time): the forward loop over t (the step's forward lines,",
            "    saving at each t what the step's backward reads), then backprop through time, the",
            "    step's backward lines for t in reversed(range(T)), reading the saved values back.",
            "    Each gradient has its argument's shape (a bias given as (n,) gets an (n,) gradient)",
            '    and the inputs\' float dtype."""',
            f"    shapes = {{{', '.join(f'{c!r}: np.shape({c})' for c in columns + ['by'])}}}",
            *prologue,
            "    Y = np.asarray(Y).astype(dtype, copy=False)",
            *[f"    {previous[s]} = np.zeros((N, {self.cell.n_hidden}), dtype=dtype)" for s in states],
            f"    {tape} = []",
            "    for t in range(T):",
            f"        {self.x.name} = X[t]",
            *body(st.forward),
            f"        {tape}.append(({together(st.tape)}))",
            f"        {together([previous[s] for s in states])} = {together([st.states[s] for s in states])}",
            f"    h_T = {previous['h']}",
            f"    loss = {self._numpy(self.loss_expr)}",
            f"    grads = {{'Wy': {self._numpy(head['Wy'])}, 'by': {self._numpy(head['by'])}}}",
            f"    {adjoint['h']} = {self._numpy(head['h_T'])}",
            *[f"    {adjoint[s]} = np.zeros_like({adjoint['h']})" for s in states if s != "h"],
            *[f"    {total[w]} = np.zeros({w}.shape, dtype=dtype)" for w in weights],
            "    for t in reversed(range(T)):",
            f"        {self.x.name} = X[t]",
            f"        {together(st.tape)} = {tape}[t]",
            *body(st.backward),
            (f"        {together([adjoint[s] for s in states])} = "
             f"{together([found[previous[s]] for s in states])}"),
            *[f"        {total[w]} += {found[w]}" for w in weights],
            f"    grads.update({{{', '.join(f'{w!r}: {total[w]}' for w in weights)}}})",
            "    grads.update({name: np.reshape(grads[name], shape) for name, shape in shapes.items()})",
            "    return loss, grads",
        ]
