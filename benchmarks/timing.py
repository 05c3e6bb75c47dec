"""The timing loop the benchmarks share: every case warmed up, then timed in interleaved rounds.

`median_times(cases, repeat)` runs round after round, each case once per round, and returns for
each case the median wall time and the median CPU time (time.process_time) in seconds. Timing
the cases one after another (all runs of A, then all of B) lets a drift of the machine's speed
(a noisy neighbour, frequency scaling) fall on one case and not the other; interleaved, it falls
on all of them alike, so the ratios of one run are comparable. Each round runs the cases in an
order of its own (a seeded shuffle, the same from run to run), so that no case always runs right
after the same neighbour: a case that follows its own module's other entry point finds that
module's arrays warm in the cache, one that follows another library finds them cold. A case
may ask for fewer rounds
(`rounds={"slow case": 30}`): it is simply left out of the later rounds.
"""
import random
import statistics
import time


def median_times(cases, repeat, warmup=3, rounds=None):
    """{name: (median wall seconds, median CPU seconds)} for {name: zero-argument callable}."""
    rounds = rounds or {}
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    wall = {name: [] for name in cases}
    cpu = {name: [] for name in cases}
    order = random.Random(0)
    for r in range(repeat):
        names = list(cases)
        order.shuffle(names)
        for name in names:
            fn = cases[name]
            if r >= rounds.get(name, repeat):
                continue
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            c1, w1 = time.process_time(), time.perf_counter()
            wall[name].append(w1 - w0)
            cpu[name].append(c1 - c0)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in cases}


def print_against(title, times, base_name):
    """The times of one run as a table: CPU and wall per case, and `base_name`'s CPU time over
    each case's (how many times faster than the base a case is; < 1 slower)."""
    base = times[base_name][1]
    print(title)
    for name, (wall, cpu) in times.items():
        print(f"  {name:26} {1000 * cpu:8.2f} ms CPU ({1000 * wall:8.2f} ms wall)   "
              f"{base_name} / this = {base / cpu:5.2f}")
