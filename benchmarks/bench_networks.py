"""Generated forward+backward against hand-written NumPy, the GEMM floor and the peers, measured
the way a user runs it. Run by hand:

    python benchmarks/bench_networks.py [--repeat-scale 1.0] [--only seed,wide,deep_tanh,deep_relu]

Four networks, sum-of-squares loss, float64 and float32:

    seed        the seed 000 net: 64 x 1000 -> 100 -> 10, relu, no biases
    wide        3 dense layers 1024 wide with biases, tanh, N = 512
    deep_tanh   20 dense layers 64 wide with biases, tanh, N = 256
    deep_relu   20 dense layers 64 wide with biases, relu, N = 256

The parent process generates each network's module with codegen (SymPy and matcalc loaded) and
writes it to a temporary directory; nothing is timed there. Each network and library set is then
timed in a fresh child process of its own, so that one library's allocator and threads do not
load another, and one network's arrays do not change the allocator another runs with:

    numpy   imports NumPy and the generated modules only, as a user's training script imports a
            generated module: the headline ratios to hand NumPy. Run twice: as started, and
            "warm", after one 16 MB array was made and freed. glibc's malloc serves a block of
            128 KB or more (a 256 x 64 float64 activation) with mmap, and returns freed heap
            to the system beyond 256 KB; freeing an mmap-ed block raises both thresholds. As
            started, every such array of hand NumPy faults its pages in again on every call
            (what the workspace avoids); warm, they are reused from the heap. A training script
            that has freed a large array runs warm; one that has not, as started.
    peers   the same NumPy cases again, with PyTorch eager + autograd (one thread),
            jax.jit(jax.value_and_grad) and HIPS autograd (grad of an autograd.numpy loss), each
            in its own idiomatic code, whichever of them is importable, and the generated
            modules of the torch and jax backends (the latter under jax.jit)

Cases, timed in interleaved rounds (benchmarks/timing.py), medians, CPU time beside wall time
(on a loaded machine the CPU ratios are the reliable ones), and the peak memory NumPy allocates
in one call (tracemalloc):

    hand NumPy      the network written by hand as a careful person would (the ratio's base):
                    saved activations, 1 - a*a for tanh', the mask (a > 0) for relu'
    generated       the module's value_and_grad (input checks and answers in the caller's dtype)
    generated f+b   the module's forward then backward(**saved)
    workspace       value_and_grad of the module generated with workspace=True: every
                    intermediate written with out= into buffers made on the first call and
                    reused after (the results are views into them, valid until the next call)
    workspace f+b   its forward then backward(**saved)
    GEMM floor      only the matrix products of the same forward and backward passes

Peak memory of one call: NumPy's through tracemalloc (every NumPy array buffer allocated during
the call; the inputs exist before it), PyTorch's (peers process) through its own allocator
counter, the "Total Allocated" of the profiler's memory events (profile_memory=True) over one
forward + backward with the gradients cleared before it, so that both count what the call
allocates and still holds or held at its peak, the returned gradients included.

Every case's gradients are checked against hand NumPy's before timing. BLAS is single-threaded
(the thread variables are set before NumPy loads); each child prints the BLAS library and kernel
in use (threadpoolctl) and OPENBLAS_CORETYPE when it is set.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
NETWORKS = {
    "seed": dict(sizes=(1000, 100, 10), activation="relu", bias=False, N=64, repeat=300),
    "wide": dict(sizes=(1024,) * 4, activation="tanh", bias=True, N=512, repeat=15),
    "deep_tanh": dict(sizes=(64,) * 21, activation="tanh", bias=True, N=256, repeat=300),
    "deep_relu": dict(sizes=(64,) * 21, activation="relu", bias=True, N=256, repeat=300),
}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "BLIS_NUM_THREADS")


def spec(sizes, activation, bias):
    flag = "" if bias else ",bias=false"
    return f" {activation} ".join(f"dense({a},{b}{flag})" for a, b in zip(sizes, sizes[1:]))


# ---- the parent: generate the modules -------------------------------------------------------------
def generate(directory, only):
    import matcalc.api  # noqa: F401
    import codegen
    from matcalc import nn
    for label, cfg in NETWORKS.items():
        if label in only:
            net = nn.from_spec(spec(cfg["sizes"], cfg["activation"], cfg["bias"]), loss="sse")
            for backend, suffix, workspace in (("numpy", "", False), ("numpy", "_ws", True),
                                               ("jax", "_jax", False), ("torch", "_torch", False)):
                with open(os.path.join(directory, f"gen_{label}{suffix}.py"), "w") as f:
                    f.write(codegen.numpy_source(net, name=f"gen_{label}{suffix}", backend=backend,
                                                 workspace=workspace))


def child(libraries, directory, only, scale, warm=False):
    """The results of one fresh process per network (merged): a network's timings do not depend
    on which networks ran before it in the process (one that frees large arrays raises glibc's
    thresholds, after which small ones no longer fault their pages in: see the docstring)."""
    env = dict(os.environ, **{v: "1" for v in THREAD_VARIABLES})
    env.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    merged = None
    for label in only:
        p = subprocess.run([sys.executable, __file__, "--child", libraries, directory, label,
                            str(scale)] + (["--warm"] if warm else []), env=env, capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise SystemExit(f"the {libraries} process failed:\n{p.stderr}")
        result = json.loads(p.stdout.strip().splitlines()[-1])
        if merged is None:
            merged = result
        else:
            for key in ("rows", "peak_MB"):
                merged[key].update(result[key])
            merged["maxrss_MB"] = max(merged["maxrss_MB"], result["maxrss_MB"])
    return merged


# ---- the children: the cases ----------------------------------------------------------------------
def init(np, sizes, bias, N, dtype, seed=0):
    rng = np.random.default_rng(seed)
    Ws = [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    bs = [(0.1 * rng.standard_normal(b)).astype(dtype) for b in sizes[1:]] if bias else []
    X = rng.standard_normal((N, sizes[0])).astype(dtype)
    Y = rng.standard_normal((N, sizes[-1])).astype(dtype)
    return X, Y, Ws, bs


def hand_numpy(np, activation):
    """Forward and backward as a person writes them (the base of every ratio)."""
    def run(X, Y, Ws, bs):
        A = [X]
        for k, W in enumerate(Ws[:-1]):
            Z = A[-1] @ W
            if bs:
                Z += bs[k]
            A.append(np.tanh(Z) if activation == "tanh" else np.maximum(Z, 0.0))
        diff = A[-1] @ Ws[-1]
        if bs:
            diff += bs[-1]
        diff -= Y
        loss = np.sum(diff * diff)
        g = 2.0 * diff
        gWs, gbs = [None] * len(Ws), [None] * len(bs)
        for k in range(len(Ws) - 1, -1, -1):
            gWs[k] = A[k].T @ g
            if bs:
                gbs[k] = g.sum(axis=0)
            if k > 0:
                g = g @ Ws[k].T
                g *= (1.0 - A[k] * A[k]) if activation == "tanh" else (A[k] > 0)
        return loss, gWs, gbs
    return run


def gemm_floor(X, Y, Ws, bs):
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


def torch_peer(X, Y, Ws, bs, activation):
    import torch
    torch.set_num_threads(1)
    act = torch.tanh if activation == "tanh" else torch.relu
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    tW = [torch.from_numpy(W.copy()).requires_grad_() for W in Ws]
    tb = [torch.from_numpy(b.copy()).requires_grad_() for b in bs]

    def run():
        for p in tW + tb:
            p.grad = None
        a = tX
        for k, W in enumerate(tW):
            a = a @ W + tb[k] if tb else a @ W
            if k < len(tW) - 1:
                a = act(a)
        loss = ((a - tY) ** 2).sum()
        loss.backward()
        return loss.item(), [p.grad.numpy() for p in tW], [p.grad.numpy() for p in tb]
    return run


def jax_value_and_grad(activation):
    """jax.jit(jax.value_and_grad) of the network's loss, as a JAX user writes it."""
    import jax
    import jax.numpy as jnp
    act = jnp.tanh if activation == "tanh" else jax.nn.relu

    def loss(Ws, bs, X, Y):
        a = X
        for k, W in enumerate(Ws):
            a = a @ W + bs[k] if bs else a @ W
            if k < len(Ws) - 1:
                a = act(a)
        return jnp.sum((a - Y) ** 2)
    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))


def jax_peer(X, Y, Ws, bs, activation):
    import jax
    import jax.numpy as jnp
    import numpy as np
    jax.config.update("jax_enable_x64", X.dtype == np.float64)
    vg = jax_value_and_grad(activation)
    jW, jb, jX, jY = [jnp.asarray(W) for W in Ws], [jnp.asarray(b) for b in bs], jnp.asarray(X), \
        jnp.asarray(Y)

    def run():
        value, (gW, gb) = jax.block_until_ready(vg(jW, jb, jX, jY))
        return float(value), [np.asarray(g) for g in gW], [np.asarray(g) for g in gb]
    return run


def generated_jax(label, args, wnames, bnames):
    """The generated module for the JAX backend, its value_and_grad under jax.jit (as
    codegen.compile(net, backend="jax") runs it)."""
    import importlib
    import jax
    import jax.numpy as jnp
    import numpy as np
    jax.config.update("jax_enable_x64", args["X"].dtype == np.float64)
    vg = jax.jit(importlib.import_module(f"gen_{label}_jax").value_and_grad)
    jargs = {k: jnp.asarray(v) for k, v in args.items()}

    def run():
        value, g = jax.block_until_ready(vg(**jargs))
        return float(value), [np.asarray(g[w]) for w in wnames], [np.asarray(g[b]) for b in bnames]
    return run


def generated_torch(label, args, wnames, bnames):
    """The generated module for the PyTorch backend, on tensors."""
    import importlib
    import torch
    torch.set_num_threads(1)
    module = importlib.import_module(f"gen_{label}_torch")
    targs = {k: torch.from_numpy(v) for k, v in args.items()}

    def run():
        value, g = module.value_and_grad(**targs)
        return float(value), [g[w].numpy() for w in wnames], [g[b].numpy() for b in bnames]
    return run


def autograd_peer(X, Y, Ws, bs, activation):
    import autograd
    import autograd.numpy as anp
    act = anp.tanh if activation == "tanh" else (lambda z: anp.maximum(z, 0.0))

    def loss(Ws, bs):
        a = X
        for k, W in enumerate(Ws):
            a = anp.dot(a, W) + bs[k] if bs else anp.dot(a, W)
            if k < len(Ws) - 1:
                a = act(a)
        return anp.sum((a - Y) ** 2)
    vg = autograd.value_and_grad(loss, argnum=(0, 1)) if bs else None
    g_only = autograd.value_and_grad(lambda Ws: loss(Ws, []))

    def run():
        if bs:
            value, (gW, gb) = vg(list(Ws), list(bs))
            return value, gW, gb
        value, gW = g_only(list(Ws))
        return value, gW, []
    return run


def torch_peak_memory(X, Y, Ws, bs, activation):
    """The peak of the memory PyTorch's CPU allocator holds during one forward + backward, in MB:
    the largest "Total Allocated" of the profiler's memory events (its running count of the
    bytes allocated) less the count before the call. The gradients of the previous call are
    cleared before the profiler starts (a block freed that was allocated before would not be
    subtracted)."""
    import json
    import torch
    from torch.profiler import ProfilerActivity, profile
    torch.set_num_threads(1)
    act = torch.tanh if activation == "tanh" else torch.relu
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    tW = [torch.from_numpy(W.copy()).requires_grad_() for W in Ws]
    tb = [torch.from_numpy(b.copy()).requires_grad_() for b in bs]

    def run():
        a = tX
        for k, W in enumerate(tW):
            a = a @ W + tb[k] if tb else a @ W
            if k < len(tW) - 1:
                a = act(a)
        ((a - tY) ** 2).sum().backward()
    run()
    for p in tW + tb:
        p.grad = None
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "trace.json")
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f)["traceEvents"]
    memory = [e["args"] for e in events
              if e.get("name") == "[memory]" and e["args"].get("Device Type", 0) == 0]
    if not memory:
        return 0.0
    # the counter runs on from an earlier profile in the process: the count before the call
    # is the first event's total less its own size
    before = memory[0]["Total Allocated"] - memory[0]["Bytes"]
    return (max(m["Total Allocated"] for m in memory) - before) / 2**20


def peak_memory(fn):
    """The peak of the memory NumPy allocates during one call, in MB (tracemalloc sees every
    NumPy array buffer; the inputs exist before the call and are not counted)."""
    import tracemalloc
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    parts = [f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture')}, "
             f"{i.get('num_threads')} thread(s)" for i in threadpool_info() if i.get("user_api") == "blas"]
    core = os.environ.get("OPENBLAS_CORETYPE")
    return "; ".join(parts) + (f"; OPENBLAS_CORETYPE={core}" if core else "")


def worst_difference(np, result, reference):
    loss, gWs, gbs = result
    ref_loss, ref_gWs, ref_gbs = reference
    worst = abs(float(loss) - float(ref_loss)) / abs(float(ref_loss))
    for a, b in zip(list(gWs) + list(gbs), list(ref_gWs) + list(ref_gbs)):
        worst = max(worst, float(np.max(np.abs(np.ravel(a) - np.ravel(b))) / np.max(np.abs(b))))
    return worst


def run_child(libraries, directory, only, scale, warm=False):
    import importlib
    import resource
    import numpy as np
    if warm:      # glibc: a freed 16 MB block raises the mmap threshold to 16 MB, the trim one to 32
        warming = np.ones(2**21)
        del warming
    sys.path.insert(0, HERE)
    sys.path.insert(0, directory)
    from timing import median_times
    out = {"blas": None, "modules": sorted(m for m in ("torch", "jax", "autograd", "sympy", "matcalc")
                                           if m in sys.modules), "rows": {}}
    for label in only:
        cfg = NETWORKS[label]
        gen = importlib.import_module(f"gen_{label}")
        gen_ws = importlib.import_module(f"gen_{label}_ws")
        L = len(cfg["sizes"]) - 1
        wnames = [f"W{k}" for k in range(1, L + 1)]
        bnames = [f"b{k}" for k in range(1, L + 1)] if cfg["bias"] else []
        for dtype in (np.float64, np.float32):
            X, Y, Ws, bs = init(np, cfg["sizes"], cfg["bias"], cfg["N"], dtype)
            args = dict(X=X, Y=Y, **dict(zip(wnames, Ws)), **dict(zip(bnames, bs)))
            hand = hand_numpy(np, cfg["activation"])

            def generated():
                loss, g = gen.value_and_grad(**args)
                return loss, [g[w] for w in wnames], [g[b] for b in bnames]

            def forward_backward(module):
                def run():
                    loss, saved = module.forward(**args)
                    grads = module.backward(**saved)
                    return loss, grads[::2] if bnames else grads, grads[1::2] if bnames else []
                return run

            def workspace():
                loss, g = gen_ws.value_and_grad(**args)
                return loss, [g[w] for w in wnames], [g[b] for b in bnames]

            cases = {"hand NumPy": lambda: hand(X, Y, Ws, bs), "generated": generated,
                     "generated f+b": forward_backward(gen), "workspace": workspace,
                     "workspace f+b": forward_backward(gen_ws),
                     "GEMM floor": lambda: gemm_floor(X, Y, Ws, bs)}
            if libraries == "peers":
                for name, make in (("torch eager", torch_peer), ("jax jit", jax_peer),
                                   ("autograd", autograd_peer)):
                    try:
                        cases[name] = make(X, Y, Ws, bs, cfg["activation"])
                    except ImportError:
                        pass
                for name, make in (("generated torch", generated_torch), ("generated jax", generated_jax)):
                    try:
                        cases[name] = make(label, args, wnames, bnames)
                    except ImportError:
                        pass
            reference = hand(X, Y, Ws, bs)
            rtol = 1e-9 if dtype == np.float64 else 2e-3
            for name, fn in cases.items():
                if name != "GEMM floor":
                    worst = worst_difference(np, fn(), reference)
                    if worst > rtol:
                        raise SystemExit(f"{label} {name}: gradients differ from hand NumPy ({worst:.1e})")
            dt = np.dtype(dtype).name
            if dtype == np.float32:
                g = generated()
                assert all(a.dtype == np.float32 for a in g[1] + g[2]), "float32 in, float32 out"
            repeat = max(5, int(cfg["repeat"] * scale))
            times = median_times(cases, repeat)
            out["rows"].setdefault(label, {})[dt] = times
            peaks = {name: peak_memory(cases[name]) for name in ("hand NumPy", "generated",
                                                                 "generated f+b", "workspace")}
            if libraries == "peers":
                try:
                    peaks["torch eager (its allocator)"] = torch_peak_memory(X, Y, Ws, bs,
                                                                             cfg["activation"])
                except ImportError:
                    pass
            out.setdefault("peak_MB", {}).setdefault(label, {})[dt] = peaks
    out["blas"] = blas_info()
    out["modules"] = sorted(m for m in ("torch", "jax", "autograd", "sympy", "matcalc")
                            if m in sys.modules)
    out["maxrss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def report(title, result, only):
    print(f"\n## {title}: BLAS {result['blas']}; modules loaded besides NumPy: "
          f"{', '.join(result['modules']) or 'none'}")
    for label in only:
        cfg = NETWORKS[label]
        rows = result["rows"][label]
        print(f"\n{label}: {spec(cfg['sizes'], cfg['activation'], cfg['bias'])[:60]}..., N={cfg['N']}")
        print("| | float64 wall | ratio | CPU (ratio) | float32 wall | ratio | CPU (ratio) |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name in rows["float64"]:
            cells = []
            for dt in ("float64", "float32"):
                wall, cpu = rows[dt][name]
                base, base_cpu = rows[dt]["hand NumPy"]
                cells += [f"{wall * 1e3:.3f} ms", f"{wall / base:.2f}x",
                          f"{cpu * 1e3:.3f} ms ({cpu / base_cpu:.2f}x)"]
            print(f"| {name} | " + " | ".join(cells) + " |")
        floor = {dt: rows[dt]["GEMM floor"][1] for dt in ("float64", "float32")}
        print("workspace / GEMM floor, CPU time, float64 / float32: " + " / ".join(
            f"{rows[dt]['workspace'][1] / floor[dt]:.2f}x" for dt in ("float64", "float32")) +
              " (value_and_grad); " + " / ".join(
            f"{rows[dt]['workspace f+b'][1] / floor[dt]:.2f}x" for dt in ("float64", "float32")) +
              " (forward + backward)")
        peaks = result["peak_MB"][label]
        print("peak memory of one call, float64 / float32 (ratio to hand NumPy): " + "; ".join(
            f"{name} {peaks['float64'][name]:.2f} / {peaks['float32'][name]:.2f} MB "
            f"({peaks['float64'][name] / peaks['float64']['hand NumPy']:.2f}x)"
            for name in peaks["float64"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat-scale", type=float, default=1.0, help="scale the rounds per case")
    parser.add_argument("--only", default=",".join(NETWORKS))
    parser.add_argument("--no-peers", action="store_true", help="only the NumPy-only processes")
    parser.add_argument("--allocator", choices=("fresh", "warm", "both"), default="both",
                        help="NumPy-only processes as started (fresh), or after a 16 MB array was "
                             "made and freed (warm), or both")
    args = parser.parse_args()
    only = args.only.split(",")
    with tempfile.TemporaryDirectory() as directory:
        generate(directory, only)
        if args.allocator in ("fresh", "both"):
            report("NumPy-only process per network, allocator as started (the headline)",
                   child("numpy", directory, only, args.repeat_scale), only)
        if args.allocator in ("warm", "both"):
            report("NumPy-only process per network, allocator warmed (a 16 MB array made and "
                   "freed first)", child("numpy", directory, only, args.repeat_scale, warm=True),
                   only)
        if not args.no_peers:
            report("process with the peers loaded", child("peers", directory, only, args.repeat_scale),
                   only)


if __name__ == "__main__":
    if "--child" in sys.argv:
        i = sys.argv.index("--child")
        run_child(sys.argv[i + 1], sys.argv[i + 2], sys.argv[i + 3].split(","), float(sys.argv[i + 4]),
                  warm="--warm" in sys.argv)
    else:
        main()
