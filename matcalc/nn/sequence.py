"""Recurrent nets from a layer spec (`lstm(8,16) dense(16,2)` with --input T,8), their gradients
in words, and their numeric check (issue 11).

A recurrent spec is one cell, `rnn(N_IN,N_HIDDEN)`, `gru(...)` or `lstm(...)`, and the dense
read-out of its last hidden state, `dense(N_HIDDEN,N_OUT)`: the model nn.Recurrent derives
(y_pred = h_T @ Wy + by.T, the loss against Y). The input is a sequence, T steps of N_IN
features; T may be a name or a number, and the derivation, for a generic step t, does not
depend on it (a number sets the T of --check).

`check(model, steps)` compares every gradient the recursion gives (Recurrent.evaluate) with
central finite differences of the loss of the network unrolled over `steps` steps, where each
step's formula and the loss are evaluated from their text by the independent evaluator
(matcalc.reference), so a wrong rule or a wrong recursion cannot agree with it.
"""
import numpy as np
import sympy as sp

from .. import reference
from ..core import dag
from ..core.functions import record_of
from ..derive.check import RTOL, CheckReport
from ..errors import MatcalcError, ShapeError
from ..printing.text import to_text
from .layers import Dense
from .recurrent import GRU, LSTM, RNN, Recurrent

CELLS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}
AGAINST = ("the loss unrolled over T steps, each step's formula evaluated from its text by an "
           "independent evaluator")


def spec_of(cell):
    return f"{type(cell).__name__.lower()}({cell.n_in},{cell.n_hidden})"


def from_layers(layers, loss, batch="N", input=None, weight_decay=0):
    """The Recurrent model of a spec's layers [cell, Dense]; a ShapeError naming the layer and
    what it was given when the sizes do not fit, a MatcalcError for what the model lacks."""
    cell = layers[0]
    for k, layer in enumerate(layers[1:], 2):
        if isinstance(layer, tuple(CELLS.values())):
            raise ShapeError(f"{spec_of(layer)} (layer {k}): a recurrent net has one cell, the "
                             f"first layer; stacked cells are not supported")
    if len(layers) == 1:
        raise ShapeError(f"{spec_of(cell)} needs a dense read-out of its last hidden state after "
                         f"it, e.g. {spec_of(cell)} dense({cell.n_hidden},1)")
    if len(layers) > 2 or not isinstance(layers[1], Dense):
        extra = next(l for l in layers[1:] if not isinstance(l, Dense)) \
            if not isinstance(layers[1], Dense) else layers[2]
        where = layers.index(extra) + 1
        raise ShapeError(f"{extra.spec()} (layer {where}): after {spec_of(cell)} a recurrent net "
                         f"takes one dense read-out of its last hidden state, y_pred = h_T@Wy + "
                         f"by.T, e.g. {spec_of(cell)} dense({cell.n_hidden},1)")
    readout = layers[1]
    if isinstance(readout.n_in, str) or isinstance(readout.n_out, str):
        raise ShapeError(f"{readout.spec()} (layer 2): the read-out of {spec_of(cell)} takes "
                         f"sizes as numbers")
    try:
        readout.output_shape(cell.n_hidden)
    except ShapeError as e:
        raise ShapeError(f"{e}, the hidden state of {spec_of(cell)} (layer 2)") from None
    if not readout.bias:
        raise ShapeError(f"{readout.spec()} (layer 2): the read-out of a recurrent net has a "
                         f"bias (y_pred = h_T@Wy + by.T); leave out bias=false")
    if input is not None:
        sequence_shape(input, cell)
    if weight_decay:
        raise MatcalcError("--weight-decay is not supported for recurrent nets; "
                           "--decoupled-weight-decay (with --optimizer) decays their weights")
    if loss.name == "ce":
        raise MatcalcError("--loss ce takes probabilities (after a softmax layer); the read-out of "
                           "a recurrent net is h_T@Wy + by.T: use --loss softmax_ce")
    return Recurrent(cell, readout.n_out, loss=loss, batch=batch)


def sequence_shape(input, cell):
    """(T, features) checked against the cell: T a name or a positive integer, features n_in."""
    if not isinstance(input, tuple) or len(input) != 2:
        given = (f"{' x '.join(map(str, input))} (C x H x W)" if isinstance(input, tuple)
                 else f"{input} features")
        raise ShapeError(f"{spec_of(cell)} needs sequences (--input T,{cell.n_in}), got {given} "
                         f"(layer 1)")
    T, features = input
    if features != cell.n_in:
        raise ShapeError(f"{spec_of(cell)} expects {cell.n_in} features per step, got {T} x "
                         f"{features} (T x features) (layer 1)")
    return T, features


def gradient_lines(model):
    """'name: formula' for the read-out's gradients, then each shared weight's as the sum over t
    of its share at step t, and the adjoints the recursion passes back."""
    head, step = model.head_derivation.results, model.step_derivation.results
    lines = [f"{n}: {to_text(head[n])}" for n in ("Wy", "by")]
    lines.append(f"grad_h_T: {to_text(head['h_T'])}")
    lines += [f"{n}: sum over t = 1..T of {to_text(step[n])}" for n in model.weights]
    lines += [f"grad_{s}_(t-1): {to_text(step[f'{s}_prev'])}" for s in model.cell.states]
    return lines


def check(model, steps=5, batch=3, seed=0):
    """A CheckReport: each parameter's gradient by the recursion against central differences of
    the unrolled loss along a random direction, the steps and the loss evaluated from their text
    by matcalc.reference (see the module docstring). steps, batch: the T and N used."""
    rng = np.random.default_rng(seed)
    N = model.x.shape[0]
    sizes = {N.name: batch} if isinstance(N, sp.Symbol) else {}
    batch = int(N) if not sizes else batch
    H, D, O = model.cell.n_hidden, model.cell.n_in, model.n_out
    shapes = {"x_t": (batch, D), "h_T": (batch, H), "Y": (batch, O),
              **{f"{s}_prev": (batch, H) for s in model.cell.states},
              **model.parameter_shapes()}
    texts = {s: to_text(e) for s, e in model.state_t.items()}
    loss_text = to_text(model.loss_expr)
    kink = any(getattr(record_of(n), "kink", False) for n in dag.postorder(model.loss_expr))
    params = {name: 0.5 * rng.standard_normal(shape) for name, shape in model.parameter_shapes().items()}
    X, Y = rng.standard_normal((steps, batch, D)), rng.standard_normal((batch, O))
    if model.loss.name == "bce":
        Y = (Y > 0).astype(float)

    def loss(p):
        state = {s: np.zeros((batch, H)) for s in model.cell.states}
        weights = {n: p[n] for n in model.weights}
        for t in range(steps):
            env = {"x_t": X[t], **{f"{s}_prev": state[s] for s in state}, **weights}
            state = {s: np.asarray(reference.evaluate_text(texts[s], shapes, env, sizes=sizes))
                     for s in texts}
        env = {"h_T": state["h"], "Wy": p["Wy"], "by": p["by"], "Y": Y}
        return float(np.real(reference.evaluate_text(loss_text, shapes, env, sizes=sizes)))

    with np.errstate(all="ignore"):
        got = model.evaluate({"X": X, "Y": Y, **params})
        errors = {}
        for name, value in params.items():
            V = rng.standard_normal(value.shape)
            analytic = float(np.sum(np.reshape(got[name], value.shape) * V))

            def along(h):
                return (loss({**params, name: value + h * V}) - loss({**params, name: value - h * V})) / (2 * h)
            h = 1e-3 * max(1.0, float(np.max(np.abs(value))))
            numeric = along(1e-4 * h) if kink else (4 * along(h / 2) - along(h)) / 3
            errors[name] = abs(numeric - analytic) / max(abs(numeric), abs(analytic), 1e-12)
    return CheckReport(errors, {"N": batch, "T": steps}, all(e < RTOL for e in errors.values()),
                       "gradient", AGAINST)
