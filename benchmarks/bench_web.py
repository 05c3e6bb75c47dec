"""Load test of `matcalc serve` on loopback: a burst of concurrent mixed requests, runaway ones
among them, then the latency of a typical gradient request. Run by hand:

    python benchmarks/bench_web.py [--requests 200] [--workers 2] [--time-limit 5] [--idle 50]

Starts `python -m matcalc serve --port 0` as a process of its own on 127.0.0.1 and sends
traffic to it only. First `--idle` typical gradient requests one after another (the latency of
a request on an idle server), then `--requests` requests at once, one client thread each,
released together: typical gradients, other kinds, networks, input errors, bodies over the size
limit, and runaway derivations (a 10,000-term sum, a 1000-deep nest, a value of 3 GB). Every
answer must be a result or a JSON error with a message, the server must still be alive and
answer afterwards; the script says so and exits 1 otherwise. Bounded: every request has a
timeout, the whole run stops after --deadline seconds, and the server is stopped at the end.
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

TYPICAL = {"expr": "sum(log(1 + exp(X @ w))) - y.T @ X @ w",
           "shapes": {"X": ["N", "d"], "w": ["d"], "y": ["N"]}, "wrt": "w", "kind": "gradient"}
MIX = [  # (label, body or raw bytes, how many of every 100)
    ("typical gradient", TYPICAL, 30),
    ("trace gradient", {"expr": "tr(X @ A @ X.T)", "shapes": {"X": ["n", "m"], "A": ["m", "m"]},
                        "wrt": "X"}, 20),
    ("hessian", {**TYPICAL, "kind": "hessian"}, 8),
    ("jacobian", {"expr": "sigmoid(W @ x)", "shapes": {"W": ["m", "n"], "x": ["n"]}, "wrt": "x",
                  "kind": "jacobian"}, 7),
    ("seed 000 network", {"net": "dense(1000,100,bias=false) relu dense(100,10,bias=false)",
                          "loss": "sse"}, 10),
    ("parse error", {**TYPICAL, "expr": "tr(X @@ A)"}, 6),
    ("shape error", {"expr": "X @ A", "shapes": {"X": ["n", "m"], "A": ["n", "m"]}, "wrt": "X"}, 6),
    ("body over the limit", b'{"expr": "' + b"x + " * 80_000 + b'x"}', 3),
    ("runaway: 10,000-term sum", {"expr": " + ".join(f"sum(exp({k}*x))" for k in range(1, 10_001)),
                                  "shapes": {"x": ["n"]}, "wrt": "x"}, 4),
    ("runaway: 1000-deep nest", {"expr": "sum(" + "exp(" * 1000 + "x" + ")" * 1000 + ")",
                                 "shapes": {"x": ["n"]}, "wrt": "x"}, 4),
    ("runaway: 3 GB value", {"expr": "sum(exp(x @ x.T))", "shapes": {"x": [20000]}, "wrt": "x"}, 2),
]


def post(url, body, timeout):
    """(status, answer or None, seconds); a connection failure is status 0."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + "api/derive", data=data,
                                     headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except OSError as e:
        return 0, {"error": {"message": f"no answer: {e}"}}, time.perf_counter() - start
    elapsed = time.perf_counter() - start
    try:
        return status, json.loads(raw), elapsed
    except ValueError:
        return status, None, elapsed


def clear(status, answer):
    """A result, or an error with a message: nothing else counts as an answer."""
    if answer is None:
        return False
    if status == 200:
        return bool(answer.get("results"))
    return bool(answer.get("error", {}).get("message"))


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


def start_server(args):
    process = subprocess.Popen([sys.executable, "-m", "matcalc", "serve", "--port", "0",
                                "--workers", str(args.workers), "--time-limit", str(args.time_limit)],
                               stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
    if not found:
        process.kill()
        sys.exit(f"bench_web: the server did not start: {line!r}")
    return process, found.group(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--time-limit", type=float, default=5.0)
    p.add_argument("--idle", type=int, default=50, help="typical requests on the idle server")
    p.add_argument("--deadline", type=float, default=600.0, help="seconds for the whole burst")
    args = p.parse_args()
    if not 1 <= args.requests <= 1000:
        sys.exit("bench_web: --requests from 1 to 1000")
    process, url = start_server(args)
    failures = []
    try:
        post(url, TYPICAL, 60)                                  # warm-up
        idle = [post(url, TYPICAL, 60) for _ in range(args.idle)]
        if not all(s == 200 for s, _, _ in idle):
            failures.append("a typical request on the idle server failed")
        idle_times = [t for _, _, t in idle]

        plan = [(label, body) for label, body, share in MIX for _ in range(share)]
        plan = [plan[i % len(plan)] for i in range(args.requests)]
        results = [None] * len(plan)
        gate = threading.Barrier(len(plan) + 1)

        def client(i):
            gate.wait()
            results[i] = post(url, plan[i][1], args.deadline)
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(plan))]
        for t in threads:
            t.start()
        burst_start = time.perf_counter()
        gate.wait()
        for t in threads:
            t.join(max(1.0, args.deadline - (time.perf_counter() - burst_start)))
        burst = time.perf_counter() - burst_start
        unanswered = sum(r is None for r in results)
        if unanswered:
            failures.append(f"{unanswered} requests unanswered within {args.deadline:g} s")
        after = post(url, TYPICAL, 60)
        alive = process.poll() is None and after[0] == 200
        if not alive:
            failures.append("the server did not answer after the burst")
    finally:
        process.terminate()
        process.wait(10)

    print(f"server: 127.0.0.1, {args.workers} workers, time limit {args.time_limit:g} s per "
          f"derivation; client and server on this machine")
    print(f"idle server, {args.idle} typical gradient requests one at a time: "
          f"p50 {statistics.median(idle_times) * 1000:.0f} ms, "
          f"p99 {percentile(idle_times, 99) * 1000:.0f} ms")
    print(f"burst of {len(plan)} concurrent requests: all answered in {burst:.1f} s")
    print(f"{'request':28} {'n':>4}  {'statuses':24} {'p50 s':>7} {'p99 s':>7}  clear")
    by_label = {}
    for (label, _), r in zip(plan, results):
        if r is not None:
            by_label.setdefault(label, []).append(r)
    for label, _, _ in MIX:
        rs = by_label.get(label, [])
        if not rs:
            continue
        times = [t for _, _, t in rs]
        statuses = ", ".join(f"{s}x{n}" for s, n in sorted(Counter(s for s, _, _ in rs).items()))
        ok = sum(clear(s, a) for s, a, _ in rs)
        if ok != len(rs):
            failures.append(f"{label}: {len(rs) - ok} answers were neither a result nor an error")
        print(f"{label:28} {len(rs):4}  {statuses:24} {statistics.median(times):7.2f} "
              f"{percentile(times, 99):7.2f}  {ok}/{len(rs)}")
    examples = {label: rs[0][1]["error"]["message"] for label, rs in by_label.items()
                if rs[0][1] and "error" in rs[0][1]}
    for label, message in examples.items():
        print(f"  {label}: {message[:110]}")
    print(f"server alive and answering after the burst: {'yes' if alive else 'NO'}")
    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
