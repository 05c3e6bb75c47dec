"""The logistic-regression Hessian, N=1000, d=200: generated code vs the NumPy closed form,
HIPS autograd.hessian (of an autograd.numpy loss, its own idiom), mc.evaluate of the derived
result, torch.autograd.functional.hessian and jax.jit(jax.hessian) on CPU (each peer skipped
with a note when it is not importable). Run by hand:

    python benchmarks/bench_hessian.py [--repeat 30] [--N 1000] [--d 200]

f(w) = sum(log(1 + exp(X @ w))) - y.T @ X @ w, H = X.T @ diag(s * (1 - s)) @ X, s = sigmoid(X @ w).
Single-threaded BLAS (the environment variables are set before NumPy, PyTorch or JAX is
imported), float64; every answer is checked against the generated one. The fast cases (the
generated code, the closed form X.T @ (s*(1-s)*X), the floors) are timed in interleaved rounds
(timing.py), CPU time beside wall time; a slow peer is timed on its own, fewer times (at least 3
runs, at most about --budget seconds). Ratios are to the NumPy closed form. The generated code
writes the Gram product as Xs.T @ Xs with Xs = sqrt(s*(1-s)) * X (codegen/gram.py), which
NumPy hands to BLAS syrk.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
            "NUMEXPR_NUM_THREADS"):
    os.environ[var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import time  # noqa: E402


import sys  # noqa: E402

import numpy as np  # noqa: E402

import matcalc as mc  # noqa: E402
import codegen  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import median_times  # noqa: E402

TEXT = "sum(log(1 + exp(X @ w))) - y.T @ X @ w"
SHAPES = {"X": ("N", "d"), "w": ("d",), "y": ("N",)}


def median_time(fn, repeat, budget):
    fn()                                           # warm-up (and JIT compilation)
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    runs = max(3, min(repeat, int(budget / max(once, 1e-9))))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), runs


def peers(X, w, y):
    """name -> (zero-argument callable returning the Hessian as an array) or a note string."""
    out = {}
    f = mc.parse(TEXT, SHAPES)
    H = mc.hessian(f, "w")

    import autograd
    import autograd.numpy as anp

    def fun(v):                                    # the loss as an autograd user writes it
        z = anp.dot(X, v)
        return anp.sum(anp.logaddexp(0.0, z)) - anp.dot(y, z)
    hess = autograd.hessian(fun)
    out["HIPS autograd.hessian"] = lambda: hess(w).reshape(w.size, w.size)
    out["mc.evaluate(H.result)"] = lambda: np.asarray(mc.evaluate(H.result, {"X": X, "w": w, "y": y}))

    try:
        import torch
        torch.set_num_threads(1)
        Xt, yt, wt = (torch.from_numpy(a) for a in (X, y, w))

        def ft(v):
            z = Xt @ v
            return torch.nn.functional.softplus(z).sum() - yt @ z
        out["torch.autograd.functional.hessian"] = \
            lambda: torch.autograd.functional.hessian(ft, wt).numpy()
        out["torch ... hessian(vectorize=True)"] = \
            lambda: torch.autograd.functional.hessian(ft, wt, vectorize=True).numpy()
    except ImportError as e:
        out["torch.autograd.functional.hessian"] = f"skipped: PyTorch not importable ({e})"

    try:
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        Xj, yj, wj = (jnp.asarray(a) for a in (X, y, w))

        def fj(v):
            z = Xj @ v
            return jnp.sum(jnp.logaddexp(0.0, z)) - yj @ z
        hj = jax.jit(jax.hessian(fj))
        out["jax.jit(jax.hessian)"] = lambda: np.asarray(hj(wj).block_until_ready())
    except ImportError as e:
        out["jax.jit(jax.hessian)"] = f"skipped: JAX not importable ({e})"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=1000)
    ap.add_argument("--d", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds per method, about")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.N, args.d)) / np.sqrt(args.d)
    w = rng.standard_normal(args.d)
    y = (rng.random(args.N) < 0.5).astype(np.float64)

    hessian = codegen.compile(mc.hessian(mc.parse(TEXT, SHAPES), "w"))
    generated = lambda: hessian(X=X, w=w, y=y)           # noqa: E731
    reference = generated()

    print(f"logistic-regression Hessian, N={args.N}, d={args.d}, float64, single-threaded BLAS, "
          f"numpy {np.__version__}")

    def closed_form():
        s = 1.0 / (1.0 + np.exp(-(X @ w)))
        return X.T @ ((s * (1.0 - s))[:, None] * X)
    assert np.abs(closed_form() - reference).max() < 1e-10 * np.abs(reference).max()
    Z = 0.25 * X
    # floors: the one general product X.T @ Z, and X.T @ X, which NumPy computes with the
    # symmetric rank-k update (syrk, half the work) because both operands are the same array
    cases = {"NumPy closed form X.T @ (s*(1-s)*X)": closed_form, "generated code": generated,
             "floor: the bare product X.T @ Z": lambda: X.T @ Z, "floor: X.T @ X (syrk)": lambda: X.T @ X}
    times = median_times(cases, args.repeat)
    base = times["NumPy closed form X.T @ (s*(1-s)*X)"][0]
    for label, (wall, cpu) in times.items():
        print(f"{label:38s} median {wall * 1e3:10.3f} ms   CPU {cpu * 1e3:10.3f} ms   "
              f"ratio {wall / base:5.2f}x   ({args.repeat} rounds)")
    t_gen = times["generated code"][0]
    for label, method in peers(X, w, y).items():
        if isinstance(method, str):
            print(f"{label:38s} {method}")
            continue
        got = np.asarray(method(), dtype=np.float64)
        err = np.abs(got - reference).max() / np.abs(reference).max()
        assert err < 1e-8, f"{label}: relative error {err:.2e} against the generated code"
        t, runs = median_time(method, args.repeat, args.budget)
        print(f"{label:38s} median {t * 1e3:10.3f} ms   ratio {t / base:5.2f}x   "
              f"({t / t_gen:.1f}x the generated code, {runs} runs)")
    print("ratio = median wall time / the NumPy closed form's")


if __name__ == "__main__":
    main()
