"""One forward + backward pass of an LSTM over T steps (issue 11): the module matcalc generates
(nn.Recurrent(LSTM).numpy_source(): the step's backward pass from codegen, the loop over t)
against the same model written by hand in NumPy and against PyTorch eager on the CPU.

    LSTM(n_in 32, hidden 128) over T = 32 steps, batch 32, read-out dense(128, 10), squared error

Run: python benchmarks/bench_lstm.py  (prints median wall times and the ratios)
"""
import numpy as np

from matcalc import nn
from timing import median_times, print_against

T, N, D, H, OUT, REPEATS = 32, 32, 32, 128, 10, 10


def sigmoid(a):
    return np.exp(-np.logaddexp(0.0, -a))


def hand(X, Y, p):
    """Forward over t, then backprop through time, as one writes it by hand."""
    h, c = np.zeros((N, H)), np.zeros((N, H))
    cache = []
    for t in range(T):
        x = X[t]
        i = sigmoid(x @ p["Wi"] + h @ p["Ui"] + p["bi"])
        f = sigmoid(x @ p["Wf"] + h @ p["Uf"] + p["bf"])
        g = np.tanh(x @ p["Wg"] + h @ p["Ug"] + p["bg"])
        o = sigmoid(x @ p["Wo"] + h @ p["Uo"] + p["bo"])
        c_new = f * c + i * g
        tc = np.tanh(c_new)
        cache.append((x, h, c, i, f, g, o, tc))
        h, c = o * tc, c_new
    r = h @ p["Wy"] + p["by"] - Y
    loss = np.sum(r * r)
    grads = {"Wy": 2 * h.T @ r, "by": 2 * r.sum(axis=0)}
    gh, gc = 2 * r @ p["Wy"].T, np.zeros((N, H))
    for k in ("i", "f", "g", "o"):
        grads["W" + k], grads["U" + k], grads["b" + k] = 0.0, 0.0, 0.0
    for t in reversed(range(T)):
        x, h_prev, c_prev, i, f, g, o, tc = cache[t]
        go = gh * tc
        gc = gc + gh * o * (1 - tc * tc)
        gi, gf, gg = gc * g, gc * c_prev, gc * i
        gc = gc * f
        pre = {"i": gi * i * (1 - i), "f": gf * f * (1 - f), "g": gg * (1 - g * g), "o": go * o * (1 - o)}
        gh = 0.0
        for k, ga in pre.items():
            grads["W" + k] = grads["W" + k] + x.T @ ga
            grads["U" + k] = grads["U" + k] + h_prev.T @ ga
            grads["b" + k] = grads["b" + k] + ga.sum(axis=0)
            gh = gh + ga @ p["U" + k].T
    return loss, grads



def main():
    try:                                   # one BLAS thread, as PyTorch gets below: a fair CPU race
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    model = nn.Recurrent(nn.LSTM(D, H), n_out=OUT)
    shapes = {**model.cell.parameter_shapes(), "Wy": (H, OUT), "by": (OUT,)}
    p = {name: 0.1 * rng.standard_normal(shape) for name, shape in shapes.items()}
    X, Y = rng.standard_normal((T, N, D)), rng.standard_normal((N, OUT))
    namespace = {}
    exec(compile(model.numpy_source(), "bptt.py", "exec"), namespace)
    generated = namespace["value_and_grad_sequence"]
    loss_g, grads_g = generated(X, Y, **p)
    loss_h, grads_h = hand(X, Y, p)
    assert np.isclose(loss_g, loss_h)
    for name in p:
        np.testing.assert_allclose(np.ravel(grads_g[name]), np.ravel(grads_h[name]), rtol=1e-6, atol=1e-9)
    cases = {"generated (matcalc)": lambda: generated(X, Y, **p),
             "hand-written NumPy": lambda: hand(X, Y, p)}
    try:
        import torch
        torch.set_num_threads(1)
        tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
        tX, tY = torch.tensor(X), torch.tensor(Y)

        def eager():
            h = c = torch.zeros(N, H, dtype=torch.float64)
            for t in range(T):
                x = tX[t]
                i = torch.sigmoid(x @ tp["Wi"] + h @ tp["Ui"] + tp["bi"])
                f = torch.sigmoid(x @ tp["Wf"] + h @ tp["Uf"] + tp["bf"])
                g = torch.tanh(x @ tp["Wg"] + h @ tp["Ug"] + tp["bg"])
                o = torch.sigmoid(x @ tp["Wo"] + h @ tp["Uo"] + tp["bo"])
                c = f * c + i * g
                h = o * torch.tanh(c)
            loss = ((h @ tp["Wy"] + tp["by"] - tY) ** 2).sum()
            return torch.autograd.grad(loss, list(tp.values()))
        cases["PyTorch eager (1 thread)"] = eager
    except ImportError:
        pass
    times = median_times(cases, REPEATS)
    print_against(f"LSTM fwd+bwd, T {T}, batch {N}, hidden {H}, float64, CPU time, median of interleaved {REPEATS}:", times, "generated (matcalc)")


if __name__ == "__main__":
    main()
