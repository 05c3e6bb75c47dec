"""Recurrent cells over T steps (issue 11): the backward pass of one generic step, derived once,
run as the backprop-through-time recursion, equals HIPS autograd on the unrolled network
written here in plain autograd.numpy (T = 7); the derivation's text does not depend on T."""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest

from matcalc import nn
from matcalc.nn.recurrent import GRU, LSTM, RNN, Recurrent

T, N, D, H, OUT = 7, 4, 3, 5, 2


def sigmoid(a):
    return 1.0 / (1.0 + anp.exp(-a))


def rnn_step(x, state, p):
    (h,) = state
    return (anp.tanh(x @ p["Wx"] + h @ p["Wh"] + p["bh"]),)


def gru_step(x, state, p):
    (h,) = state
    z = sigmoid(x @ p["Wz"] + h @ p["Uz"] + p["bz"])
    r = sigmoid(x @ p["Wr"] + h @ p["Ur"] + p["br"])
    n = anp.tanh(x @ p["Wn"] + (r * h) @ p["Un"] + p["bn"])
    return ((1 - z) * n + z * h,)


def lstm_step(x, state, p):
    h, c = state
    i, f, o = (sigmoid(x @ p["W" + k] + h @ p["U" + k] + p["b" + k]) for k in "ifo")
    g = anp.tanh(x @ p["Wg"] + h @ p["Ug"] + p["bg"])
    c = f * c + i * g
    return (o * anp.tanh(c), c)


def unrolled_loss(step, n_states):
    def loss(p, X, Y):
        state = tuple(anp.zeros((N, H)) for _ in range(n_states))
        for t in range(X.shape[0]):
            state = step(X[t], state, p)
        return anp.sum((state[0] @ p["Wy"] + p["by"] - Y) ** 2)
    return loss


@pytest.mark.parametrize("cell, step", [(RNN, rnn_step), (GRU, gru_step), (LSTM, lstm_step)],
                         ids=["rnn", "gru", "lstm"])
def test_backprop_through_time_equals_autograd(cell, step):
    model = Recurrent(cell(D, H), n_out=OUT)
    rng = np.random.default_rng(0)
    params = {name: 0.5 * rng.standard_normal(shape) for name, shape in
              {**model.cell.parameter_shapes(), "Wy": (H, OUT), "by": (OUT,)}.items()}
    X, Y = rng.standard_normal((T, N, D)), rng.standard_normal((N, OUT))
    want = autograd.grad(unrolled_loss(step, len(model.cell.states)))(params, X, Y)
    got = model.evaluate({"X": X, "Y": Y, **params})
    assert list(got) == list(params)
    for name in params:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-8, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", [RNN, GRU, LSTM], ids=["rnn", "gru", "lstm"])
def test_the_derivation_is_one_generic_step(cell):
    text = Recurrent(cell(D, H), n_out=OUT).text()
    assert "a generic step t" in text and "grad_W = sum over t = 1..T" in text
    assert "x_t" in text and "h_prev" in text and len(text) < 40_000


def test_one_derivation_serves_every_t():
    """T is a run-time size: the same model (derived once) for T = 1, 3 and 30."""
    model = Recurrent(RNN(D, H), n_out=OUT)
    rng = np.random.default_rng(1)
    params = {name: 0.5 * rng.standard_normal(shape) for name, shape in
              {**model.cell.parameter_shapes(), "Wy": (H, OUT), "by": (OUT,)}.items()}
    Y = rng.standard_normal((N, OUT))
    for steps in (1, 3, 30):
        X = rng.standard_normal((steps, N, D))
        want = autograd.grad(unrolled_loss(rnn_step, 1))(params, X, Y)
        got = model.evaluate({"X": X, "Y": Y, **params})
        for name in params:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("cell, step", [(GRU, gru_step), (LSTM, lstm_step)], ids=["gru", "lstm"])
def test_generated_loop_over_t_equals_autograd(cell, step):
    model = nn.Recurrent(cell(D, H), n_out=OUT)
    source = model.numpy_source()
    assert "for t in reversed(range(T)):" in source and "x_1" not in source
    namespace = {}
    exec(compile(source, "bptt.py", "exec"), namespace)
    rng = np.random.default_rng(3)
    params = {name: 0.5 * rng.standard_normal(shape) for name, shape in
              {**model.cell.parameter_shapes(), "Wy": (H, OUT), "by": (OUT,)}.items()}
    Y = rng.standard_normal((N, OUT))
    for steps in (2, T):
        X = rng.standard_normal((steps, N, D))
        want = autograd.grad(unrolled_loss(step, len(model.cell.states)))(params, X, Y)
        loss, got = namespace["value_and_grad_sequence"](X, Y, **params)
        np.testing.assert_allclose(loss, unrolled_loss(step, len(model.cell.states))(params, X, Y))
        for name in params:
            np.testing.assert_allclose(np.ravel(got[name]), np.ravel(want[name]), rtol=1e-8,
                                       atol=1e-12, err_msg=name)


def test_the_rnn_example_trains_with_generated_code():
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parent.parent / "examples" / "nn_rnn.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    losses = [float(line.rsplit("=", 1)[1]) for line in out.splitlines() if line.startswith("steps")]
    assert len(losses) == 5 and all(b < a for a, b in zip(losses, losses[1:]))


def _params(model, rng, dtype=np.float64):
    return {name: (0.5 * rng.standard_normal(shape)).astype(dtype) for name, shape in
            {**model.cell.parameter_shapes(), "Wy": (H, OUT), "by": (OUT,)}.items()}


@pytest.mark.parametrize("cell, step", [(RNN, rnn_step), (GRU, gru_step), (LSTM, lstm_step)],
                         ids=["rnn", "gru", "lstm"])
def test_generated_loop_saves_the_forward_values_and_never_recomputes_them(cell, step):
    """The tape (what the forward loop saves per step) is read off the step's schedule: the
    names its backward lines read that its forward lines compute, and the previous states;
    no forward line reads an adjoint, and the backward lines apply no activation again."""
    model = nn.Recurrent(cell(D, H), n_out=OUT)
    st = model.step_lines()
    adjoints = {f"grad_{s}_t" for s in model.cell.states}
    forward_targets = [line.target for line in st.forward]
    backward_reads = {n for line in st.backward for n in line.reads}
    assert not any(n in adjoints for line in st.forward for n in line.reads)
    assert set(st.tape) <= set(forward_targets) | {f"{s}_prev" for s in model.cell.states}
    # everything backward reads comes from the tape, the step's inputs or backward itself
    inputs = {"x_t", *adjoints, *model.weights, *st.writer.dims.values(), st.dtype}
    own = {line.target for line in st.backward}
    assert backward_reads <= set(st.tape) | inputs | own, backward_reads - set(st.tape) - inputs - own
    assert set(forward_targets) & backward_reads <= set(st.tape)
    # no activation is evaluated in backward: the gates and tanh(c) come off the tape
    for line in st.backward:
        assert "np.tanh(" not in line.text and "np.exp(" not in line.text, line.text
    if cell is LSTM:            # the four gates and tanh(c), whatever their generated names
        assert len([n for n in st.tape if n not in ("h_prev", "c_prev")]) == 5
    source = model.numpy_source()
    body = source[source.index("def value_and_grad_sequence"):]
    back = body[body.index("for t in reversed(range(T)):"):]
    assert "np.tanh(" not in back and "np.exp(" not in back


def test_a_forward_value_that_reads_the_adjoint_is_refused():
    """The check in codegen: a state that depends on grad_h_t cannot be saved on the way
    forward (the tape must be the same whatever flows back)."""
    from matcalc.codegen.recurrence import step_lines
    from matcalc.core import functions, ops
    from matcalc.errors import MatcalcError
    model = Recurrent(RNN(D, H), n_out=OUT)
    x, h_prev, g = model.x, model.previous["h"], model.adjoints["h"]
    W, U = model.weights["Wx"], model.weights["Wh"]
    leaky = {"h": functions.apply("tanh", ops.add(ops.matmul(x, W), ops.matmul(h_prev, U), g))}

    def share(named):
        return functions.apply("sum", ops.hadamard(g, named["h"]))
    with pytest.raises(MatcalcError, match="read the adjoints grad_h_t"):
        step_lines(share, leaky, model.previous, model.adjoints, [h_prev, W, U])


@pytest.mark.parametrize("cell, step", [(RNN, rnn_step), (GRU, gru_step), (LSTM, lstm_step)],
                         ids=["rnn", "gru", "lstm"])
def test_generated_loop_keeps_float32(cell, step):
    model = nn.Recurrent(cell(D, H), n_out=OUT)
    namespace = {}
    exec(compile(model.numpy_source(), "bptt.py", "exec"), namespace)
    rng = np.random.default_rng(4)
    params = _params(model, rng, np.float32)
    X = rng.standard_normal((T, N, D)).astype(np.float32)
    Y = rng.standard_normal((N, OUT)).astype(np.float32)
    loss, got = namespace["value_and_grad_sequence"](X, Y, **params)
    assert np.asarray(loss).dtype == np.float32
    _, got64 = namespace["value_and_grad_sequence"](X, Y.astype(np.float64), **params)
    assert all(g.dtype == np.float32 for g in got64.values())     # Y's dtype does not promote
    assert namespace["predict_sequence"](X, **params).dtype == np.float32
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    want = autograd.grad(unrolled_loss(step, len(model.cell.states)))(p64, X.astype(np.float64),
                                                                      Y.astype(np.float64))
    for name in params:
        assert got[name].dtype == np.float32 and got[name].shape == params[name].shape, name
        np.testing.assert_allclose(got[name], want[name], rtol=2e-4, atol=2e-5, err_msg=name)


def test_generated_rnn_loop_equals_autograd_for_every_t():
    model = nn.Recurrent(RNN(D, H), n_out=OUT)
    namespace = {}
    exec(compile(model.numpy_source(), "bptt.py", "exec"), namespace)
    rng = np.random.default_rng(5)
    params = _params(model, rng)
    Y = rng.standard_normal((N, OUT))
    for steps in (1, 3, T, 30):
        X = rng.standard_normal((steps, N, D))
        want = autograd.grad(unrolled_loss(rnn_step, 1))(params, X, Y)
        loss, got = namespace["value_and_grad_sequence"](X, Y, **params)
        np.testing.assert_allclose(loss, unrolled_loss(rnn_step, 1)(params, X, Y))
        for name in params:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-8, atol=1e-12, err_msg=name)


def test_generated_loop_takes_lists_and_integers_as_float64():
    model = nn.Recurrent(RNN(D, H), n_out=OUT)
    namespace = {}
    exec(compile(model.numpy_source(), "bptt.py", "exec"), namespace)
    rng = np.random.default_rng(6)
    params = _params(model, rng)
    X = rng.integers(-2, 3, size=(3, N, D))
    Y = rng.standard_normal((N, OUT))
    want = autograd.grad(unrolled_loss(rnn_step, 1))(params, X.astype(float), Y)
    as_lists = {name: value.tolist() for name, value in params.items()}
    _, got = namespace["value_and_grad_sequence"](X.tolist(), Y.tolist(), **as_lists)
    for name in params:
        assert got[name].dtype == np.float64
        np.testing.assert_allclose(got[name], want[name], rtol=1e-8, atol=1e-12, err_msg=name)
