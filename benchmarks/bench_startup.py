"""Start-up time of the command line: `matcalc --version`, `matcalc --help`, every `matcalc <command>
--help`, `matcalc help notation`, `python -m matcalc --version`, `import matcalc` and `import
matcalc; matcalc.grad` (the API loaded), and for scale a whole `matcalc grad`, each a fresh
process as a user runs it, timed in interleaved rounds (timing.median_times); wall and the
child's CPU time (user + system, from os.wait4). Issue 14 asks for --help and --version under
0.3 s. Python's own start-up (`python -c pass`) is the floor.

    python benchmarks/bench_startup.py [--repeat 15]
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

from timing import median_times

CPU = {}
COMMANDS = ["grad", "jacobian", "hessian", "hvp", "net", "codegen", "serve", "check-backward",
            "help"]


def process(name, argv):
    def run():
        w0 = time.perf_counter()
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        CPU.setdefault(name, []).append(usage.ru_utime + usage.ru_stime)
        return time.perf_counter() - w0
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    repeat = ap.parse_args().repeat
    script = shutil.which("matcalc") or "matcalc"
    py = sys.executable
    cases = {
        "python -c pass (floor)": [py, "-c", "pass"],
        "matcalc --version": [script, "--version"],
        "python -m matcalc --version": [py, "-m", "matcalc", "--version"],
        "matcalc --help": [script, "--help"],
        **{f"matcalc {c} --help": [script, c, "--help"] for c in COMMANDS},
        "matcalc help notation": [script, "help", "notation"],
        "import matcalc": [py, "-c", "import matcalc"],
        "import matcalc; matcalc.grad": [py, "-c", "import matcalc; matcalc.grad"],
        "matcalc grad \"tr(X)\" --wrt X (a whole command)": [script, "grad", "tr(X)", "--wrt",
                                                               "X", "--shape", "X=n,n"],
    }
    times = median_times({n: process(n, a) for n, a in cases.items()}, repeat, warmup=1)
    print(f"| command | wall s (median of {repeat}) | CPU s (child, median) |")
    print("| --- | --- | --- |")
    for name, (wall, _) in times.items():
        cpu = sorted(CPU[name])[len(CPU[name]) // 2]
        print(f"| `{name}` | {wall:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
