"""Size and time of printed derivations of recurrent cells over T steps (run by hand:
python benchmarks/bench_derivation_size.py [--quick]).

The bar of issue "Derivations a student can follow" (point 2): an RNN over T steps with shared
weights derives and prints in O(T) lines; at T = 30 the vanilla RNN, GRU and LSTM cells each
derive and print the steps (text) and the LaTeX in under 2 s and under 200 kB. Each row is one
fresh process (as a user runs it), median of 3 runs, CPU time beside wall time: build the cell
over T steps (matcalc.nn.unrolled), grad with respect to every weight, .text(), .latex().
Growth is linear when tripling T costs about three times the size.
"""
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

ONE = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import matcalc as mc
from matcalc.nn.unrolled import unrolled
f, wrt = unrolled(sys.argv[1], int(sys.argv[2]))
d = mc.grad(f, wrt)
text = d.text()
latex = d.latex()
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "text": len(text), "latex": len(latex), "lines": text.count("\n") + 1}))
"""


def run(cell, T):
    out = subprocess.run([sys.executable, "-c", ONE, cell, str(T)], capture_output=True,
                         text=True, check=True, cwd=os.path.dirname(HERE))
    return json.loads(out.stdout)


def main():
    quick = "--quick" in sys.argv
    Ts = [10, 30] if quick else [10, 30, 90]
    print(f"{'cell':<5} {'T':>3} {'wall s':>7} {'cpu s':>6} {'text kB':>8} {'LaTeX kB':>9} "
          f"{'lines':>6}")
    for cell in ("rnn", "gru", "lstm"):
        for T in Ts:
            runs = [run(cell, T) for _ in range(1 if quick else 3)]
            wall = statistics.median(r["wall"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            r = runs[0]
            print(f"{cell:<5} {T:>3} {wall:>7.2f} {cpu:>6.2f} {r['text'] / 1000:>8.0f} "
                  f"{r['latex'] / 1000:>9.0f} {r['lines']:>6}")


if __name__ == "__main__":
    main()
