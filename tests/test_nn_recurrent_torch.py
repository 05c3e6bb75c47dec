"""The recurrent cells against PyTorch (optional: skipped without torch). RNN and LSTM against
torch's own nn.RNN / nn.LSTM modules (the same gate convention: i, f, g, o; c = f*c + i*g,
h = o*tanh(c)), with the weights mapped to torch's layout; the GRU against torch autograd of the
equations as matcalc states them (reset gate before Un, Cho et al. 2014: torch's nn.GRU applies
it after W_hn, a different cell). Derived recursion (evaluate) and generated code, T = 7,
float64 and float32, shared weights over every step."""
import numpy as np
import pytest

from matcalc import nn
from matcalc.nn.recurrent import GRU, LSTM, RNN

torch = pytest.importorskip("torch")

T, N, D, H, OUT = 7, 4, 3, 5, 2


def params_of(model, rng):
    return {name: 0.5 * rng.standard_normal(shape) for name, shape in
            {**model.cell.parameter_shapes(), "Wy": (H, OUT), "by": (OUT,)}.items()}


def readout_loss(h_T, p, Y):
    return torch.sum((h_T @ p["Wy"] + p["by"] - Y) ** 2)


def torch_rnn(p, X, Y):
    m = torch.nn.RNN(D, H, nonlinearity="tanh").double()
    with torch.no_grad():
        m.weight_ih_l0.copy_(p["Wx"].T), m.weight_hh_l0.copy_(p["Wh"].T)
        m.bias_ih_l0.copy_(p["bh"]), m.bias_hh_l0.zero_()
    return m, [("Wx", lambda: m.weight_ih_l0.grad.T), ("Wh", lambda: m.weight_hh_l0.grad.T),
               ("bh", lambda: m.bias_ih_l0.grad)], lambda: m(X)[1][0]


def torch_lstm(p, X, Y):
    m = torch.nn.LSTM(D, H).double()
    gates = ("i", "f", "g", "o")                      # torch's order of the stacked gates
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.cat([p[f"W{g}"].T for g in gates]))
        m.weight_hh_l0.copy_(torch.cat([p[f"U{g}"].T for g in gates]))
        m.bias_ih_l0.copy_(torch.cat([p[f"b{g}"] for g in gates])), m.bias_hh_l0.zero_()

    def grads(k, g, kind):
        rows = slice(k * H, (k + 1) * H)
        if kind == "W":
            return lambda: m.weight_ih_l0.grad[rows].T
        if kind == "U":
            return lambda: m.weight_hh_l0.grad[rows].T
        return lambda: m.bias_ih_l0.grad[rows]
    return m, [(f"{kind}{g}", grads(k, g, kind)) for k, g in enumerate(gates) for kind in "WUb"], \
        lambda: m(X)[1][0][0]


def torch_gru_by_hand(p, X, Y):
    """z, r = sigmoid(.), n = tanh(x@Wn + (r*h)@Un + bn), h = (1 - z)*n + z*h."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in p.items() if k[0] in "WUb" and k not in ("Wy", "by")}

    def run():
        h = torch.zeros(N, H, dtype=torch.float64)
        for t in range(T):
            x = X[t]
            z = torch.sigmoid(x @ leaves["Wz"] + h @ leaves["Uz"] + leaves["bz"])
            r = torch.sigmoid(x @ leaves["Wr"] + h @ leaves["Ur"] + leaves["br"])
            n = torch.tanh(x @ leaves["Wn"] + (r * h) @ leaves["Un"] + leaves["bn"])
            h = (1 - z) * n + z * h
        return h
    return None, [(k, (lambda k=k: leaves[k].grad)) for k in leaves], run


CASES = [(RNN, torch_rnn), (GRU, torch_gru_by_hand), (LSTM, torch_lstm)]


def torch_gradients(model, build, params, X, Y):
    p = {k: torch.tensor(v) for k, v in params.items()}
    head = {k: p[k].clone().requires_grad_(True) for k in ("Wy", "by")}
    _, cell_grads, last_hidden = build(p, torch.tensor(X), torch.tensor(Y))
    loss = readout_loss(last_hidden(), head, torch.tensor(Y))
    loss.backward()
    out = {name: get().detach().numpy() for name, get in cell_grads}
    out.update({k: head[k].grad.numpy() for k in head})
    return float(loss.detach()), out


@pytest.mark.parametrize("cell, build", CASES, ids=["rnn", "gru", "lstm"])
def test_recursion_and_generated_loop_equal_pytorch(cell, build):
    model = nn.Recurrent(cell(D, H), n_out=OUT)
    rng = np.random.default_rng(11)
    params = params_of(model, rng)
    X, Y = rng.standard_normal((T, N, D)), rng.standard_normal((N, OUT))
    loss, want = torch_gradients(model, build, params, X, Y)
    assert set(want) == set(params)
    derived = model.evaluate({"X": X, "Y": Y, **params})
    namespace = {}
    exec(compile(model.numpy_source(), "bptt.py", "exec"), namespace)
    got_loss, generated = namespace["value_and_grad_sequence"](X, Y, **params)
    np.testing.assert_allclose(got_loss, loss, rtol=1e-10)
    for name in params:
        np.testing.assert_allclose(np.ravel(derived[name]), np.ravel(want[name]), rtol=1e-8,
                                   atol=1e-12, err_msg=name)
        np.testing.assert_allclose(np.ravel(generated[name]), np.ravel(want[name]), rtol=1e-8,
                                   atol=1e-12, err_msg=name)
    as32 = {k: v.astype(np.float32) for k, v in params.items()}
    loss32, generated32 = namespace["value_and_grad_sequence"](X.astype(np.float32),
                                                               Y.astype(np.float32), **as32)
    assert np.asarray(loss32).dtype == np.float32
    for name in params:
        assert generated32[name].dtype == np.float32, name
        np.testing.assert_allclose(np.ravel(generated32[name]), np.ravel(want[name]), rtol=2e-3,
                                   atol=2e-4, err_msg=name)
