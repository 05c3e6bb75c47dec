"""Seed 000 network: generated forward+backward vs the seed's hand-written NumPy, the bare matmul
floor and mc.evaluate; optional PyTorch / JAX peers. Run by hand:

    python benchmarks/bench_codegen.py [--repeat 300]

Single-threaded BLAS (the environment variables are set before NumPy is imported); medians and
ratios to the hand-written code come from one run, float64 and float32.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
            "NUMEXPR_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402


import numpy as np  # noqa: E402

from timing import median_times  # noqa: E402

import codegen  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
from seed000_numpy import forward_backward as hand_written  # noqa: E402
import matcalc as mc  # noqa: E402

N, D_in, H, D_out = 64, 1000, 100, 10




def floor(x, y, w1, w2):
    """Only the four matrix products of the same forward and backward pass."""
    h = x @ w1
    y_pred = h @ w2
    g = y_pred @ w2.T
    return h.T @ y_pred, x.T @ g


def peers(x, y, w1, w2):
    out = {}
    try:
        import torch
        torch.set_num_threads(1)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        tw1, tw2 = torch.from_numpy(w1).requires_grad_(), torch.from_numpy(w2).requires_grad_()

        def run_torch():
            tw1.grad = tw2.grad = None
            loss = ((torch.relu(tx @ tw1) @ tw2 - ty) ** 2).sum()
            loss.backward()
        out["torch eager"] = run_torch
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", x.dtype == np.float64)
        vg = jax.jit(jax.value_and_grad(
            lambda w1, w2, x, y: jnp.sum((jnp.maximum(x @ w1, 0.0) @ w2 - y) ** 2), argnums=(0, 1)))
        out["jax jit"] = lambda: jax.block_until_ready(vg(w1, w2, x, y))
    except ImportError:
        pass
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    f = mc.parse("sum((relu(x @ w1) @ w2 - y) ** 2)",
                 {"x": ("N", "D_in"), "w1": ("D_in", "H"), "w2": ("H", "D_out"), "y": ("N", "D_out")})
    fn = codegen.compile(f, wrt=["w1", "w2"])
    from matcalc import nn
    net_fn = codegen.compile(nn.from_spec("dense(1000,100,bias=false) relu dense(100,10,bias=false)",
                                          loss="sse"))
    derived = mc.grad(f, ["w1", "w2"])
    print(f"seed 000 network: N={N}, D_in={D_in}, H={H}, D_out={D_out}; single-threaded BLAS; "
          f"median of {args.repeat}")
    for dtype in (np.float64, np.float32):
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((N, D_in)).astype(dtype), rng.standard_normal((N, D_out)).astype(dtype)
        w1, w2 = rng.standard_normal((D_in, H)).astype(dtype), rng.standard_normal((H, D_out)).astype(dtype)
        values = {"x": x, "w1": w1, "w2": w2, "y": y}
        saved = fn.forward(x, w1, w2, y)[1]
        cases = {
            "hand-written NumPy (seed)": lambda: hand_written(x, y, w1, w2),
            "generated value_and_grad": lambda: fn(x=x, w1=w1, w2=w2, y=y),
            "generated, network path": lambda: net_fn(X=x, W1=w1, W2=w2, Y=y),
            "generated forward+backward": lambda: fn.backward(**fn.forward(x, w1, w2, y)[1]),
            "generated backward only": lambda: fn.backward(**saved),
            "matmul floor": lambda: floor(x, y, w1, w2),
            "mc.evaluate (value + 2 gradients)": lambda: [mc.evaluate(e, values) for e in
                                                       [f, *derived.results.values()]],
        }
        cases.update(peers(x, y, w1, w2))
        times = median_times(cases, args.repeat, warmup=5,
                             rounds={name: 30 for name in cases if "evaluate" in name})
        base = times["hand-written NumPy (seed)"][0]
        print(f"\n{np.dtype(dtype).name}:                           wall     ratio       CPU")
        for name, (t, c) in times.items():
            print(f"  {name:<36} {t * 1e3:8.3f} ms {t / base:5.2f}x {c * 1e3:8.3f} ms")


if __name__ == "__main__":
    main()
