"""Deep tanh networks: generated forward+backward vs hand-written NumPy, the matmul floor, and
PyTorch / JAX when installed. Run by hand:

    python benchmarks/bench_networks.py [--repeat 20] [--only wide|deep]

Two networks, each dense layers with biases and tanh between them, sum-of-squares loss:

    wide   3 layers, 1024 wide, batch N = 512
    deep  20 layers,   64 wide, batch N = 256

For each, float64 then float32, the median time of one forward+backward pass (loss and every
gradient) for:

    generated          codegen.compile(net), called as value_and_grad (input checks included)
    generated f+b      the generated module's forward and backward, without value_and_grad's
                       shape and dtype handling
    hand NumPy         the same network written by hand as a person would (`1 - a * a` for tanh')
    matmul floor       only the matrix products of the same forward and backward passes
    torch eager        PyTorch CPU autograd, one thread (when importable)
    jax jit            jax.jit(jax.value_and_grad(loss)) (when importable)

Ratios are to hand NumPy, all measured in the same run. BLAS is single-threaded: the
environment variables are set before NumPy is imported. Gradients are checked against the
hand-written ones before timing.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
            "NUMEXPR_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import argparse  # noqa: E402


import numpy as np  # noqa: E402

from timing import median_times  # noqa: E402

import codegen  # noqa: E402
from matcalc import nn  # noqa: E402

NETWORKS = {
    "wide": dict(layers=3, width=1024, N=512, repeat=15),
    "deep": dict(layers=20, width=64, N=256, repeat=300),
}


def spec(layers, width):
    return " tanh ".join([f"dense({width},{width})"] * layers)


def init(layers, width, N, dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for k in range(1, layers + 1):
        params[f"W{k}"] = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(dtype)
        params[f"b{k}"] = (0.1 * rng.standard_normal(width)).astype(dtype)
    X = rng.standard_normal((N, width)).astype(dtype)
    Y = rng.standard_normal((N, width)).astype(dtype)
    return X, Y, params


# ---- the same network by hand ---------------------------------------------------------------------
def hand_numpy(X, Y, Ws, bs):
    """Forward and backward as a person writes them: saved activations, 1 - a*a for tanh'."""
    A = [X]
    for W, b in zip(Ws[:-1], bs[:-1]):
        A.append(np.tanh(A[-1] @ W + b))
    y_pred = A[-1] @ Ws[-1] + bs[-1]
    diff = y_pred - Y
    loss = np.sum(diff * diff)
    g = 2.0 * diff
    gWs, gbs = [None] * len(Ws), [None] * len(Ws)
    for k in range(len(Ws) - 1, -1, -1):
        gWs[k] = A[k].T @ g
        gbs[k] = g.sum(axis=0)
        if k > 0:
            g = (g @ Ws[k].T) * (1.0 - A[k] * A[k])
    return loss, gWs, gbs


def matmul_floor(X, Y, Ws, bs):
    """Only the matrix products of the same forward and backward passes: L forward, 2L - 1 back."""
    A = [X]
    for W in Ws[:-1]:
        A.append(A[-1] @ W)
    g = A[-1] @ Ws[-1]
    out = []
    for k in range(len(Ws) - 1, -1, -1):
        out.append(A[k].T @ g)
        if k > 0:
            g = g @ Ws[k].T
    return out


# ---- peers ------------------------------------------------------------------------------------------
def torch_peer(X, Y, Ws, bs):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    tW = [torch.from_numpy(W.copy()).requires_grad_() for W in Ws]
    tb = [torch.from_numpy(b.copy()).requires_grad_() for b in bs]

    def run():
        for p in tW + tb:
            p.grad = None
        a = tX
        for W, b in zip(tW[:-1], tb[:-1]):
            a = torch.tanh(a @ W + b)
        loss = ((a @ tW[-1] + tb[-1] - tY) ** 2).sum()
        loss.backward()
        return loss.item(), [p.grad.numpy() for p in tW], [p.grad.numpy() for p in tb]
    return run


def jax_peer(X, Y, Ws, bs):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", X.dtype == np.float64)

    def loss(Ws, bs, X, Y):
        a = X
        for W, b in zip(Ws[:-1], bs[:-1]):
            a = jnp.tanh(a @ W + b)
        return jnp.sum((a @ Ws[-1] + bs[-1] - Y) ** 2)
    vg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    jW, jb, jX, jY = [jnp.asarray(W) for W in Ws], [jnp.asarray(b) for b in bs], jnp.asarray(X), \
        jnp.asarray(Y)

    def run():
        value, (gW, gb) = jax.block_until_ready(vg(jW, jb, jX, jY))
        return float(value), [np.asarray(g) for g in gW], [np.asarray(g) for g in gb]
    return run


# ---- timing -----------------------------------------------------------------------------------------
def check(name, result, reference, rtol):
    loss, gWs, gbs = result
    ref_loss, ref_gWs, ref_gbs = reference
    worst = abs(loss - ref_loss) / abs(ref_loss)
    for a, b in zip(list(gWs) + list(gbs), list(ref_gWs) + list(ref_gbs)):
        worst = max(worst, np.max(np.abs(np.ravel(a) - np.ravel(b))) / np.max(np.abs(b)))
    if worst > rtol:
        raise SystemExit(f"{name}: gradients differ from hand NumPy (relative {worst:.1e})")


def bench(label, layers, width, N, repeat):
    net = nn.from_spec(spec(layers, width), loss="sse")
    fn = codegen.compile(net, name=label)
    wnames = [f"W{k}" for k in range(1, layers + 1)]
    bnames = [f"b{k}" for k in range(1, layers + 1)]
    print(f"\n{label}: {layers} dense layers {width} wide, tanh, biases, N={N}; "
          f"median of {repeat}")
    print(f"  {'':<16}" + "".join(f"{d + ': wall, ratio, CPU':>34}" for d in ("float64", "float32")))
    rows = {}
    for dtype in (np.float64, np.float32):
        X, Y, params = init(layers, width, N, dtype)
        Ws, bs = [params[w] for w in wnames], [params[b] for b in bnames]
        args = dict(X=X, Y=Y, **params)
        fwd_args = [args[s] for s in fn.forward.__code__.co_varnames[:fn.forward.__code__.co_argcount]]

        def generated():
            loss, g = fn(**args)
            return loss, [g[w] for w in wnames], [g[b] for b in bnames]

        def generated_fb():
            loss, saved = fn.forward(*fwd_args)
            return loss, fn.backward(**saved)

        cases = {"generated": generated, "generated f+b": generated_fb,
                 "hand NumPy": lambda: hand_numpy(X, Y, Ws, bs),
                 "matmul floor": lambda: matmul_floor(X, Y, Ws, bs)}
        for peer, make in (("torch eager", torch_peer), ("jax jit", jax_peer)):
            run = make(X, Y, Ws, bs)
            if run is not None:
                cases[peer] = run
        reference = hand_numpy(X, Y, Ws, bs)
        rtol = 1e-10 if dtype == np.float64 else 1e-3
        for name in ("generated", "torch eager", "jax jit"):
            if name in cases:
                check(name, cases[name](), reference, rtol)
        times = median_times(cases, repeat)
        base = times["hand NumPy"][0]
        for name, (t, c) in times.items():
            rows.setdefault(name, []).append(f"{t * 1e3:9.3f} ms {t / base:5.2f}x {c * 1e3:9.3f} ms")
    for name, cells in rows.items():
        print(f"  {name:<16}" + "".join(f"{c:>34}" for c in cells))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=None, help="timings per case (median)")
    parser.add_argument("--only", choices=sorted(NETWORKS), default=None)
    args = parser.parse_args()
    print(f"NumPy {np.__version__}; single-threaded BLAS; times are medians, ratios to hand NumPy")
    for label, cfg in NETWORKS.items():
        if args.only and label != args.only:
            continue
        cfg = dict(cfg)
        if args.repeat:
            cfg["repeat"] = args.repeat
        bench(label, **cfg)


if __name__ == "__main__":
    main()
