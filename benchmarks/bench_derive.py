"""Derivation cost against depth (run by hand: python benchmarks/bench_derive.py [--quick]
[--only grad_all,codegen]).

The bars of issue "One engine" (point 5), each the median of 3 runs, CPU time beside wall time,
in a fresh process per depth so one case does not warm the next:

* parse + grad + to_text of a K-deep nest sum(tanh(tanh(...(x)...))), K = 500, 1000, 2000;
* parse + grad (w.r.t. the first layer's W1, the deepest) + to_text of a K-layer Dense+Tanh
  network written as text, K = 250, 500, 1000;
* mc.grad of a K-layer nn.Sequential of Dense(16,16)+Tanh w.r.t. every weight and bias at
  once, K = 300, 1000 (bars of issue 15: under 3 s at 300 layers, under 10 s at 1000);
* codegen.numpy_source of a K-layer nn.Sequential of Dense(16,16)+Tanh (every parameter),
  K = 250, 300, 500, 1000 (the same bars at 300 and 1000);
* grad of tr(X @ X @ ... @ X) with K factors, K = 1000, and its result.

Growth is linear when doubling K costs about twice the time (the bar: at most 2.3x).
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def nest(k):
    import matcalc as mc
    text = "x"
    for _ in range(k):
        text = f"tanh({text})"
    f = mc.parse(f"sum({text})", {"x": ("n",)})
    return mc.to_text(mc.grad(f, "x").result)


def network_text(k):
    import matcalc as mc
    shapes = {"X": ("N", "d")}
    text = "X"
    for i in range(1, k + 1):
        shapes[f"W{i}"] = ("d", "d")
        shapes[f"b{i}"] = ("d",)
        text = f"tanh({text} @ W{i} + b{i}.T)"
    shapes["Y"] = ("N", "d")
    f = mc.parse(f"sum(({text} - Y) ** 2)", shapes)
    return mc.to_text(mc.grad(f, "W1").result)


def network_codegen(k):
    import codegen
    from matcalc import nn
    layers = []
    for _ in range(k):
        layers += [nn.Dense(16, 16), nn.Tanh()]
    return codegen.numpy_source(nn.Sequential(layers, loss=nn.SumSquaredError()))


def network_all(k):
    """mc.grad of a K-layer Dense(16,16)+Tanh network's loss with respect to every weight and
    bias at once (one walk, one simplify memo shared by all variables)."""
    import matcalc as mc
    from matcalc import nn
    layers = []
    for _ in range(k):
        layers += [nn.Dense(16, 16), nn.Tanh()]
    net = nn.Sequential(layers, loss=nn.SumSquaredError())
    d = mc.grad(net.loss_expr, list(net.parameters.values()))
    return f"{len(d.results)} gradients"


def power_chain(k):
    import matcalc as mc
    f = mc.parse("tr(" + " @ ".join(["X"] * k) + ")", {"X": ("n", "n")})
    return mc.to_text(mc.grad(f, "X").result)


CASES = {"nest": nest, "network": network_text, "grad_all": network_all, "codegen": network_codegen,
         "power": power_chain}
# issue 15, point 4: every weight and bias of a K-layer network, derivation and code generation
BARS = {("grad_all", 300): 3.0, ("grad_all", 1000): 10.0, ("codegen", 300): 3.0,
        ("codegen", 1000): 10.0}


def one(case, k):
    """Run in a child process: print (wall, cpu, len(result)) as JSON. The imports are not
    timed (python -X importtime shows them: about 0.6 s, SymPy's own import most of it)."""
    import matcalc.api  # noqa: F401  (the public API, loaded before the clock starts)
    import codegen  # noqa: F401
    wall, cpu = time.perf_counter(), time.process_time()
    out = CASES[case](k)
    print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu, len(out),
                      out[:60]]))


def measure(case, k, runs=3):
    results = []
    for _ in range(runs):
        p = subprocess.run([sys.executable, __file__, "--one", case, str(k)], capture_output=True,
                           text=True, check=True, cwd=os.path.dirname(HERE))
        results.append(json.loads(p.stdout.strip().splitlines()[-1]))
    wall = statistics.median(r[0] for r in results)
    cpu = statistics.median(r[1] for r in results)
    return wall, cpu, results[0][2], results[0][3]


def main(quick=False, only=None):
    plan = {"nest": (500, 1000, 2000), "network": (250, 500, 1000), "grad_all": (300, 1000),
            "codegen": (250, 300, 500, 1000), "power": (500, 1000)}
    if quick:
        plan = {case: depths[:2] for case, depths in plan.items()}
    if only:
        plan = {case: plan[case] for case in only}
    for case, depths in plan.items():
        previous = previous_k = None
        for k in depths:
            wall, cpu, size, head = measure(case, k)
            growth = f"x{wall / previous:4.2f} for x{k / previous_k:g} depth" if previous else ""
            bar = BARS.get((case, k))
            verdict = f"  bar {bar:.0f} s: {'met' if wall < bar else 'MISSED'}" if bar else ""
            print(f"{case:8s} K={k:5d}: wall {wall:6.2f} s  cpu {cpu:6.2f} s  "
                  f"{size:9,d} chars  {growth}{verdict}  {head!r}")
            previous_k = k
            previous = wall


if __name__ == "__main__":
    if "--one" in sys.argv:
        i = sys.argv.index("--one")
        one(sys.argv[i + 1], int(sys.argv[i + 2]))
    else:
        only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
        main("--quick" in sys.argv, only)
