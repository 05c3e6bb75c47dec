"""One forward + backward pass of an LSTM over T steps (issue 11): the module matcalc generates
(nn.Recurrent(LSTM).numpy_source(): the step's backward pass from codegen, the loop over t)
against the same model written by hand in NumPy and against PyTorch eager on the CPU.

    LSTM(n_in 32, hidden 128) over T = 32 steps, batch 32, read-out dense(128, 10), squared error

The generated loops run the step's own lines: the forward loop saves what the step's backward
reads (the gates, tanh(c), the previous state), the backward loop reads it back. `hand` is what
a careful person writes with the parameters as they are (the same saved values, gradients summed
in place); `hand_fused` fuses the four gates (concatenated weights, all input projections in one
matmul, grad_W in one matmul after the loop). Both use the generated code's overflow-safe sigmoid (with
e = exp(-|a|), where(a >= 0, 1, e)/(1 + e)), so that the race is about the loop, not the
spelling of sigmoid. That spelling replaced exp(-logaddexp(0, -a)), which was much of the time
here (both ran 1.2x (float64) to 1.4x (float32) faster with it); 0.5 + 0.5 * tanh(a / 2) is
faster still, but it loses the relative accuracy of sigmoid(a) for a << 0.

Run: python benchmarks/bench_lstm.py [--float64 | --float32]  (both by default; prints the median
CPU and wall times of interleaved rounds and the ratios)
"""
import numpy as np
from timing import median_times, print_against

from matcalc import nn

T, N, D, H, OUT, REPEATS = 32, 32, 32, 128, 10, 20
GATES = ("i", "f", "g", "o")


def sigmoid(a):
    """The overflow-safe form the generated code uses (the registry's _sigmoid helper)."""
    e = np.abs(a)
    np.exp(np.negative(e, out=e), out=e)
    s = np.where(a >= 0, 1.0, e)
    s /= 1.0 + e
    return s


def hand(X, Y, p):
    """Forward over t saving the gates and tanh(c), then backprop through time reading them
    back (no recomputation), gradients summed in place: as a careful person writes it with the
    parameters as they are (one matmul per gate and operand)."""
    Wi, Wf, Wg, Wo = p["Wi"], p["Wf"], p["Wg"], p["Wo"]
    Ui, Uf, Ug, Uo = p["Ui"], p["Uf"], p["Ug"], p["Uo"]
    bi, bf, bg, bo = p["bi"], p["bf"], p["bg"], p["bo"]
    h, c = np.zeros((N, H), X.dtype), np.zeros((N, H), X.dtype)
    cache = []
    for t in range(T):
        x = X[t]
        i = sigmoid(x @ Wi + h @ Ui + bi)
        f = sigmoid(x @ Wf + h @ Uf + bf)
        g = np.tanh(x @ Wg + h @ Ug + bg)
        o = sigmoid(x @ Wo + h @ Uo + bo)
        c_new = f * c + i * g
        tc = np.tanh(c_new)
        cache.append((h, c, i, f, g, o, tc))
        h, c = o * tc, c_new
    r = h @ p["Wy"] + p["by"] - Y
    loss = np.sum(r * r)
    grads = {"Wy": 2 * (h.T @ r), "by": 2 * r.sum(axis=0)}
    for k in GATES:
        for w in "WUb":
            grads[w + k] = np.zeros_like(p[w + k])
    gW = [grads["W" + k] for k in GATES]
    gU = [grads["U" + k] for k in GATES]
    gb = [grads["b" + k] for k in GATES]
    gh, gc = 2 * (r @ p["Wy"].T), np.zeros((N, H), X.dtype)
    for t in reversed(range(T)):
        x = X[t]
        h_prev, c_prev, i, f, g, o, tc = cache[t]
        ao = gh * tc * o * (1 - o)
        gc = gc + gh * o * (1 - tc * tc)
        ai = gc * g * i * (1 - i)
        af = gc * c_prev * f * (1 - f)
        ag = gc * i * (1 - g * g)
        gc = gc * f
        gh = ai @ Ui.T + af @ Uf.T + ag @ Ug.T + ao @ Uo.T
        for k, a in enumerate((ai, af, ag, ao)):
            gW[k] += x.T @ a
            gU[k] += h_prev.T @ a
            gb[k] += a.sum(axis=0)
    return loss, grads


def hand_fused(X, Y, p):
    """The same by hand with the four gates fused, as a person writes it for speed: the gate
    weights concatenated once per call (D x 4H, H x 4H), the input projections of all T steps
    in one matmul before the loop, one h @ U per step, the gates' adjoints kept (T x N x 4H) so
    that grad_W is one matmul after the loop; the parameters' API is the same."""
    W = np.concatenate([p["W" + k] for k in GATES], axis=1)
    U = np.concatenate([p["U" + k] for k in GATES], axis=1)
    b = np.concatenate([p["b" + k] for k in GATES])
    XW = (X.reshape(T * N, D) @ W + b).reshape(T, N, 4 * H)
    h, c = np.zeros((N, H), X.dtype), np.zeros((N, H), X.dtype)
    hs, cs, acts, tcs = [], [], np.empty((T, N, 4 * H), X.dtype), []
    for t in range(T):
        a = XW[t] + h @ U
        act = acts[t]
        act[:, :2 * H] = sigmoid(a[:, :2 * H])
        act[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])
        act[:, 3 * H:] = sigmoid(a[:, 3 * H:])
        i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
        hs.append(h)
        cs.append(c)
        c = f * c + i * g
        tc = np.tanh(c)
        tcs.append(tc)
        h = o * tc
    r = h @ p["Wy"] + p["by"] - Y
    loss = np.sum(r * r)
    grads = {"Wy": 2 * (h.T @ r), "by": 2 * r.sum(axis=0)}
    gh, gc = 2 * (r @ p["Wy"].T), np.zeros((N, H), X.dtype)
    A = np.empty((T, N, 4 * H), X.dtype)
    gU = np.zeros_like(U)
    for t in reversed(range(T)):
        act, tc, a = acts[t], tcs[t], A[t]
        i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
        a[:, 3 * H:] = gh * tc * o * (1 - o)
        gc = gc + gh * o * (1 - tc * tc)
        a[:, :H] = gc * g * i * (1 - i)
        a[:, H:2 * H] = gc * cs[t] * f * (1 - f)
        a[:, 2 * H:3 * H] = gc * i * (1 - g * g)
        gc = gc * f
        gU += hs[t].T @ a
        gh = a @ U.T
    A2 = A.reshape(T * N, 4 * H)
    gW, gb = X.reshape(T * N, D).T @ A2, A2.sum(axis=0)
    for k, name in enumerate(GATES):
        cols = slice(k * H, (k + 1) * H)
        grads["W" + name], grads["U" + name], grads["b" + name] = gW[:, cols], gU[:, cols], gb[cols]
    return loss, grads


def main():
    import sys
    try:                                   # one BLAS thread, as PyTorch gets below: a fair CPU race
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    dtypes = [np.float32] if "--float32" in sys.argv else \
        [np.float64] if "--float64" in sys.argv else [np.float64, np.float32]
    model = nn.Recurrent(nn.LSTM(D, H), n_out=OUT)
    namespace = {}
    exec(compile(model.numpy_source(), "bptt.py", "exec"), namespace)
    generated = namespace["value_and_grad_sequence"]
    for dtype in dtypes:
        rng = np.random.default_rng(0)
        shapes = {**model.cell.parameter_shapes(), "Wy": (H, OUT), "by": (OUT,)}
        p = {name: (0.1 * rng.standard_normal(shape)).astype(dtype) for name, shape in shapes.items()}
        X, Y = rng.standard_normal((T, N, D)).astype(dtype), rng.standard_normal((N, OUT)).astype(dtype)
        loss_g, grads_g = generated(X, Y, **p)
        tol = {"rtol": 1e-6, "atol": 1e-9} if dtype == np.float64 else {"rtol": 2e-3, "atol": 2e-4}
        for fn in (hand, hand_fused):
            loss_h, grads_h = fn(X, Y, p)
            np.testing.assert_allclose(loss_g, loss_h, **tol)
            for name in p:
                assert grads_g[name].dtype == dtype, name
                np.testing.assert_allclose(np.ravel(grads_g[name]), np.ravel(grads_h[name]), err_msg=name,
                                           **tol)
        cases = {"generated (matcalc)": lambda X=X, Y=Y, p=p: generated(X, Y, **p),
                 "hand-written NumPy": lambda X=X, Y=Y, p=p: hand(X, Y, p),
                 "hand NumPy, fused gates": lambda X=X, Y=Y, p=p: hand_fused(X, Y, p)}
        try:
            import torch
            torch.set_num_threads(1)
            tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
            tX, tY = torch.tensor(X), torch.tensor(Y)

            def eager(tp=tp, tX=tX, tY=tY):
                h = c = torch.zeros(N, H, dtype=tX.dtype)
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
        print_against(f"LSTM fwd+bwd, T {T}, batch {N}, hidden {H}, {np.dtype(dtype).name}, CPU time, "
                      f"median of interleaved {REPEATS}:", times, "generated (matcalc)")


if __name__ == "__main__":
    main()
