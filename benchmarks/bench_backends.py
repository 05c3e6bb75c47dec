"""The generated modules of the JAX and PyTorch backends against each library's own idiomatic
code, on the four networks of bench_networks.py. Run by hand:

    python benchmarks/bench_backends.py [--repeat-scale 1.0] [--only seed,wide,deep_tanh,deep_relu]
                                        [--dtypes float64,float32] [--no-memory]

The networks (sum-of-squares loss) are bench_networks.py's: seed 64 x 1000-100-10 relu without
biases; 3 x 1024 tanh with biases, N=512; 20 x 64 tanh and 20 x 64 relu with biases, N=256.
The parent process generates each network's module for the jax and torch backends (and NumPy,
for reference) and writes them to a temporary directory; nothing is timed there. One child
process, with NumPy, PyTorch, JAX and HIPS autograd all loaded, then times in interleaved rounds
(a seeded shuffle per round, benchmarks/timing.py), medians, CPU time beside wall time:

    jax jit(value_and_grad)   jax.jit(jax.value_and_grad(loss)) of a jax.numpy loss, by hand
    generated jax             the generated module's value_and_grad under jax.jit, as
                              codegen.compile(net, backend="jax") runs it
    torch eager + autograd    a torch loss on tensors with requires_grad, loss.backward()
                              (gradients set to None before each call, as zero_grad does)
    generated torch           the generated module's value_and_grad on plain tensors
    hand NumPy / generated numpy / autograd (an autograd.numpy loss): for reference

The bars read the CPU-time ratios generated jax / jax jit and generated torch / torch eager.
Every case's gradients are checked against hand NumPy's before timing. Every library runs one
thread (the thread variables and XLA_FLAGS are set before anything loads; torch.set_num_threads(1));
the child prints the BLAS libraries and thread pools in use (threadpoolctl).

The logistic-regression Hessian (N=1000, d=200, float64; unless --no-hessian), in the same
process and the same way: the generated hessian module of each backend (JAX under jax.jit)
against jax.jit(jax.hessian(loss)) and torch.func.hessian(loss) of the same loss written in each
library, and the NumPy module against the closed form X.T @ (s*(1-s)*X).

Peak memory (unless --no-memory): one forward+backward of the wide net (float64), each case in
a fresh process with glibc's mmap threshold fixed at 128 KB (MALLOC_MMAP_THRESHOLD_), so that
every large buffer is mapped when allocated and unmapped when freed, whichever library allocates
it; the peak resident size during the call (VmHWM, reset through /proc/self/clear_refs) less the
resident size before it, after two warm-up calls. The inputs exist before and are not counted;
the returned gradients are.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_networks import NETWORKS, THREAD_VARIABLES, init, spec  # noqa: E402 - the four nets
from bench_networks import hand_numpy as by_hand, jax_value_and_grad  # noqa: E402

XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
PAIRS = (("generated jax", "jax jit(value_and_grad)"), ("generated torch", "torch eager + autograd"))


# ---- the parent: generate the modules -------------------------------------------------------------
HESSIAN = ("sum(log(1 + exp(X @ w))) - y.T @ X @ w", {"X": ("N", "d"), "w": ("d",), "y": ("N",)})
HESSIAN_SIZE, HESSIAN_REPEAT = (1000, 200), 60


def generate(directory, only):
    import matcalc as mc
    import codegen
    from matcalc import nn
    hessian = mc.hessian(mc.parse(*HESSIAN), "w")
    for backend in ("numpy", "jax", "torch"):
        with open(os.path.join(directory, f"hess_{backend}.py"), "w") as f:
            f.write(codegen.numpy_source(hessian, backend=backend))
    for label in only:
        cfg = NETWORKS[label]
        net = nn.from_spec(spec(cfg["sizes"], cfg["activation"], cfg["bias"]), loss="sse")
        for backend in ("numpy", "jax", "torch"):
            with open(os.path.join(directory, f"gen_{label}_{backend}.py"), "w") as f:
                f.write(codegen.numpy_source(net, name=f"gen_{label}_{backend}", backend=backend))


def child_env(**more):
    env = dict(os.environ, **{v: "1" for v in THREAD_VARIABLES}, **more)
    env.setdefault("XLA_FLAGS", XLA_FLAGS)
    return env


def run_child(argv, env):
    p = subprocess.run([sys.executable, __file__, *argv], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"the child {' '.join(argv)} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---- the cases (in a child) -----------------------------------------------------------------------
def names_of(cfg):
    L = len(cfg["sizes"]) - 1
    return [f"W{k}" for k in range(1, L + 1)], ([f"b{k}" for k in range(1, L + 1)] if cfg["bias"] else [])


def hand_numpy(X, Y, Ws, bs, activation):
    """bench_networks' hand-written NumPy pass (the base of every ratio), on these arrays."""
    import numpy as np
    run = by_hand(np, activation)
    return lambda: run(X, Y, Ws, bs)


def jax_peer(X, Y, Ws, bs, activation):
    import jax
    import jax.numpy as jnp
    vg = jax_value_and_grad(activation)
    jW, jb, jX, jY = [jnp.asarray(W) for W in Ws], [jnp.asarray(b) for b in bs], jnp.asarray(X), \
        jnp.asarray(Y)

    def run():
        value, (gW, gb) = jax.block_until_ready(vg(jW, jb, jX, jY))
        return value, gW, gb
    return run


def generated_jax(module, args, wnames, bnames):
    """value_and_grad under jax.jit, as codegen.compile(net, backend="jax") applies it."""
    import jax
    import jax.numpy as jnp
    vg = jax.jit(module.value_and_grad)
    jargs = {k: jnp.asarray(v) for k, v in args.items()}

    def run():
        value, g = jax.block_until_ready(vg(**jargs))
        return value, [g[w] for w in wnames], [g[b] for b in bnames]
    return run


def torch_peer(X, Y, Ws, bs, activation):
    import torch
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
        return loss.detach(), [p.grad for p in tW], [p.grad for p in tb]

    def release():
        """Drop the last call's gradients (the memory runs measure from a baseline without them)."""
        for p in tW + tb:
            p.grad = None
    run.release = release
    return run


def generated_torch(module, args, wnames, bnames):
    import torch
    targs = {k: torch.from_numpy(v) for k, v in args.items()}

    def run():
        value, g = module.value_and_grad(**targs)
        return value, [g[w] for w in wnames], [g[b] for b in bnames]
    return run


def generated_numpy(module, args, wnames, bnames):
    def run():
        value, g = module.value_and_grad(**args)
        return value, [g[w] for w in wnames], [g[b] for b in bnames]
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
    vg = autograd.value_and_grad(loss, argnum=(0, 1))

    def run():
        value, (gW, gb) = vg(list(Ws), list(bs))
        return value, gW, gb
    return run


def make_cases(label, dtype, directory, which=None):
    """{case name: zero-argument callable} for one net and dtype (the libraries imported here)."""
    import importlib
    import numpy as np
    sys.path.insert(0, directory)
    cfg = NETWORKS[label]
    X, Y, Ws, bs = init(np, cfg["sizes"], cfg["bias"], cfg["N"], np.dtype(dtype).type)
    wnames, bnames = names_of(cfg)
    args = dict(X=X, Y=Y, **dict(zip(wnames, Ws)), **dict(zip(bnames, bs)))
    act = cfg["activation"]
    module = {b: (lambda b=b: importlib.import_module(f"gen_{label}_{b}")) for b in ("numpy", "jax", "torch")}
    makers = {
        "hand NumPy": lambda: hand_numpy(X, Y, Ws, bs, act),
        "generated numpy": lambda: generated_numpy(module["numpy"](), args, wnames, bnames),
        "jax jit(value_and_grad)": lambda: jax_peer(X, Y, Ws, bs, act),
        "generated jax": lambda: generated_jax(module["jax"](), args, wnames, bnames),
        "torch eager + autograd": lambda: torch_peer(X, Y, Ws, bs, act),
        "generated torch": lambda: generated_torch(module["torch"](), args, wnames, bnames),
        "autograd": lambda: autograd_peer(X, Y, Ws, bs, act),
    }
    return {name: make() for name, make in makers.items() if which is None or name in which}


def to_numpy(result):
    import numpy as np

    def arr(a):
        return np.asarray(a.detach() if hasattr(a, "detach") else a, dtype=np.float64)
    loss, gWs, gbs = result
    return arr(loss), [arr(g) for g in gWs], [arr(g) for g in gbs]


def worst_difference(result, reference):
    import numpy as np
    (loss, gWs, gbs), (ref_loss, ref_gWs, ref_gbs) = to_numpy(result), to_numpy(reference)
    worst = abs(float(loss) - float(ref_loss)) / abs(float(ref_loss))
    for a, b in zip(gWs + gbs, ref_gWs + ref_gbs):
        worst = max(worst, float(np.max(np.abs(np.ravel(a) - np.ravel(b))) / np.max(np.abs(b))))
    return worst


def dtypes_of(result):
    loss, gWs, gbs = result
    return sorted({str(a.dtype).replace("torch.", "") for a in [loss] + list(gWs) + list(gbs)})


def settings():
    """The thread pools and BLAS kernels in use (threadpoolctl), and each library's threads."""
    lines = []
    try:
        from threadpoolctl import threadpool_info
        for i in threadpool_info():
            lines.append(f"{i.get('user_api')}: {i.get('internal_api')} {i.get('version')} "
                         f"{os.path.basename(i.get('filepath', ''))} kernel {i.get('architecture')}, "
                         f"{i.get('num_threads')} thread(s)")
    except ImportError:
        lines.append("threadpoolctl not installed")
    import torch
    import jax
    lines.append(f"torch {torch.__version__}: {torch.get_num_threads()} intra-op, "
                 f"{torch.get_num_interop_threads()} inter-op thread(s); jax {jax.__version__} "
                 f"on {jax.devices()[0].platform}, XLA_FLAGS={os.environ.get('XLA_FLAGS')!r}")
    lines.append(", ".join(f"{v}={os.environ.get(v)}" for v in THREAD_VARIABLES)
                 + (f", OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}"
                    if "OPENBLAS_CORETYPE" in os.environ else ""))
    return lines


def timing_child(directory, only, dtypes, scale):
    import numpy as np  # noqa: F401
    import torch
    import jax
    import autograd  # noqa: F401
    from timing import median_times
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    jax.config.update("jax_enable_x64", True)      # float32 inputs stay float32
    out = {"settings": settings(), "rows": {}, "dtypes": {}}
    for label in only:
        cfg = NETWORKS[label]
        for dtype in dtypes:
            cases = make_cases(label, dtype, directory)
            reference = cases["hand NumPy"]()
            rtol = 1e-9 if dtype == "float64" else 2e-3
            for name, fn in cases.items():
                result = fn()
                worst = worst_difference(result, reference)
                if worst > rtol:
                    raise SystemExit(f"{label} {dtype} {name}: gradients differ from hand NumPy ({worst:.1e})")
                out["dtypes"].setdefault(label, {}).setdefault(dtype, {})[name] = dtypes_of(result)
            repeat = max(5, int(cfg["repeat"] * scale))
            rounds = {"autograd": max(5, repeat // 3)}
            out["rows"].setdefault(label, {})[dtype] = median_times(cases, repeat, rounds=rounds)
    print(json.dumps(out))


def hessian_cases(directory):
    """The logistic Hessian: the generated modules and each library's own hessian."""
    import importlib
    import numpy as np
    import torch
    import jax
    import jax.numpy as jnp
    sys.path.insert(0, directory)
    N, d = HESSIAN_SIZE
    rng = np.random.default_rng(0)
    X, w, y = rng.standard_normal((N, d)) / np.sqrt(d), rng.standard_normal(d), (rng.random(N) < 0.5) * 1.0
    gen = {b: importlib.import_module(f"hess_{b}").hessian for b in ("numpy", "jax", "torch")}
    gen_jax = jax.jit(gen["jax"])
    jX, jw, jy = jnp.asarray(X), jnp.asarray(w), jnp.asarray(y)
    tX, tw, ty = torch.from_numpy(X), torch.from_numpy(w), torch.from_numpy(y)

    def jax_loss(w, X, y):
        return jnp.sum(jnp.logaddexp(0.0, X @ w)) - y @ (X @ w)
    jax_hessian = jax.jit(jax.hessian(jax_loss))

    def torch_loss(w):
        z = tX @ w
        return torch.sum(torch.nn.functional.softplus(z)) - ty @ z

    def closed_form():
        s = 1.0 / (1.0 + np.exp(-(X @ w)))
        return X.T @ ((s * (1 - s))[:, None] * X)
    return {
        "NumPy closed form": closed_form,
        "generated numpy": lambda: gen["numpy"](X=X, w=w, y=y),
        "jax.jit(jax.hessian)": lambda: jax.block_until_ready(jax_hessian(jw, jX, jy)),
        "generated jax": lambda: jax.block_until_ready(gen_jax(X=jX, w=jw, y=jy)),
        "torch.func.hessian": lambda: torch.func.hessian(torch_loss)(tw),
        "generated torch": lambda: gen["torch"](X=tX, w=tw, y=ty),
    }


def hessian_child(directory, scale):
    import numpy as np
    import torch
    import jax
    from timing import median_times
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    jax.config.update("jax_enable_x64", True)
    cases = hessian_cases(directory)
    reference = cases["NumPy closed form"]()
    for name, fn in cases.items():
        got = np.asarray(fn())
        worst = float(np.max(np.abs(got - reference)) / np.max(np.abs(reference)))
        if worst > 1e-9:
            raise SystemExit(f"logistic Hessian, {name}: differs from the closed form ({worst:.1e})")
    print(json.dumps(median_times(cases, max(5, int(HESSIAN_REPEAT * scale)))))


def status():
    return {line.split(":")[0]: int(line.split()[1]) for line in open("/proc/self/status")
            if line.startswith(("VmRSS", "VmHWM"))}


def memory_child(directory, label, dtype, name):
    """The peak resident size of one call of one case over the resident size before it, MB."""
    import gc
    import torch
    import jax
    torch.set_num_threads(1)
    jax.config.update("jax_enable_x64", True)
    fn = make_cases(label, dtype, directory, which={name})[name]
    fn()
    fn()
    getattr(fn, "release", lambda: None)()     # torch eager: the gradients it still holds
    gc.collect()
    before = status()["VmRSS"]
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                     # VmHWM := VmRSS
    result = fn()
    peak = status()["VmHWM"]
    del result
    print(json.dumps((peak - before) / 1024))


def report(result, only, dtypes):
    print("## one process with NumPy, PyTorch, JAX and autograd loaded")
    for line in result["settings"]:
        print("   " + line)
    for label in only:
        cfg = NETWORKS[label]
        print(f"\n{label}: {spec(cfg['sizes'], cfg['activation'], cfg['bias'])[:60]}..., N={cfg['N']}")
        print("| | " + " | ".join(f"{dt} CPU | wall" for dt in dtypes) + " |")
        print("| --- | " + " | ".join("--- | ---" for _ in dtypes) + " |")
        for name in result["rows"][label][dtypes[0]]:
            cells = []
            for dt in dtypes:
                wall, cpu = result["rows"][label][dt][name]
                cells += [f"{cpu * 1e3:.3f} ms", f"{wall * 1e3:.3f} ms"]
            print(f"| {name} | " + " | ".join(cells) + " |")
        for gen, peer in PAIRS:
            cells = []
            for dt in dtypes:
                (gw, gc), (pw, pc) = result["rows"][label][dt][gen], result["rows"][label][dt][peer]
                cells.append(f"{dt} CPU {gc / pc:.2f}x (wall {gw / pw:.2f}x)")
            print(f"   {gen} / {peer}: " + ", ".join(cells))
        for dt in dtypes:
            kinds = result["dtypes"][label][dt]
            print(f"   {dt} outputs: " + "; ".join(f"{n} {'/'.join(k)}" for n, k in kinds.items()))
    print("\nbars (CPU time ratios, at most 1.05x):")
    for gen, peer in PAIRS:
        ratios = [f"{result['rows'][label][dt][gen][1] / result['rows'][label][dt][peer][1]:.2f}"
                  for label in only for dt in dtypes]
        print(f"   {gen} / {peer}: {' '.join(ratios)}  ({', '.join(f'{l} {d}' for l in only for d in dtypes)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat-scale", type=float, default=1.0, help="scale the rounds per case")
    parser.add_argument("--only", default=",".join(NETWORKS))
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--no-memory", action="store_true", help="leave out the peak memory runs")
    parser.add_argument("--memory-only", action="store_true", help="only the peak memory runs")
    parser.add_argument("--no-hessian", action="store_true", help="leave out the logistic Hessian")
    args = parser.parse_args()
    only, dtypes = args.only.split(","), args.dtypes.split(",")
    with tempfile.TemporaryDirectory() as directory:
        generate(directory, sorted(set(only) | ({"wide"} if not args.no_memory else set())))
        if not args.memory_only:
            result = run_child(["--timing", directory, ",".join(only), ",".join(dtypes),
                                str(args.repeat_scale)], child_env())
            report(result, only, dtypes)
        if not args.memory_only and not args.no_hessian:
            times = run_child(["--hessian", directory, str(args.repeat_scale)], child_env())
            base = times["NumPy closed form"][1]
            print(f"\nlogistic-regression Hessian, N={HESSIAN_SIZE[0]}, d={HESSIAN_SIZE[1]}, float64 "
                  f"(CPU time; ratio to the NumPy closed form):")
            for name, (wall, cpu) in times.items():
                print(f"   {name:22} {cpu * 1e3:8.3f} ms CPU ({wall * 1e3:8.3f} ms wall)  {cpu / base:5.2f}x")
            for gen, peer in (("generated jax", "jax.jit(jax.hessian)"), ("generated torch", "torch.func.hessian")):
                print(f"   {gen} / {peer}: CPU {times[gen][1] / times[peer][1]:.2f}x "
                      f"(wall {times[gen][0] / times[peer][0]:.2f}x)")
        if not args.no_memory:
            print("\npeak memory of one forward+backward, wide net, float64 (fresh process each, "
                  "MALLOC_MMAP_THRESHOLD_=131072, VmHWM over VmRSS):")
            for name in ("hand NumPy", "generated numpy", "torch eager + autograd", "generated torch",
                         "jax jit(value_and_grad)", "generated jax"):
                mb = run_child(["--memory", directory, "wide", "float64", name],
                               child_env(MALLOC_MMAP_THRESHOLD_="131072"))
                print(f"   {name:26} {mb:7.1f} MB")


if __name__ == "__main__":
    if "--timing" in sys.argv:
        i = sys.argv.index("--timing")
        timing_child(sys.argv[i + 1], sys.argv[i + 2].split(","), sys.argv[i + 3].split(","),
                     float(sys.argv[i + 4]))
    elif "--hessian" in sys.argv:
        i = sys.argv.index("--hessian")
        hessian_child(sys.argv[i + 1], float(sys.argv[i + 2]))
    elif "--memory" in sys.argv:
        i = sys.argv.index("--memory")
        memory_child(*sys.argv[i + 1:i + 5])
    else:
        main()
