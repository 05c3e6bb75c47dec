"""Derivation cost against depth (run by hand: python benchmarks/bench_derive.py).

Derives the gradient of a chain of K matrix products and of a K-layer tanh network for several K
and reports the median time of 5 runs each, and the ratio to the smallest K: linear growth shows
as ratios close to K / K_min.
"""
import statistics
import time

import matcalc as mc


def chain(k):
    shapes = {f"A{i}": ("n", "n") for i in range(k)}
    text = "tr(" + " @ ".join(f"A{i}" for i in range(k)) + ")"
    return mc.parse(text, shapes), "A0"


def network(k):
    shapes = {"X": ("N", "d")}
    text = "X"
    for i in range(1, k + 1):
        shapes[f"W{i}"] = ("d", "d")
        shapes[f"b{i}"] = ("d",)
        text = f"tanh({text} @ W{i} + b{i}.T)"
    shapes["Y"] = ("N", "d")
    return mc.parse(f"sum(({text} - Y) ** 2)", shapes), ["W1", f"W{k}"]


def median_time(build, k, runs=5):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f, wrt = build(k)
        mc.grad(f, wrt)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


if __name__ == "__main__":
    for name, build in (("chain of products", chain), ("tanh network", network)):
        base = None
        for k in (10, 25, 50, 100):
            t = median_time(build, k)
            base = base or t
            print(f"{name:18s} depth {k:4d}: parse+grad median {t * 1000:8.1f} ms  "
                  f"(x{t / base:5.1f} of depth 10)")
