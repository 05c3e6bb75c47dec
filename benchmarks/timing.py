"""The timing loop the benchmarks share: warm up, then the median of `repeat` runs, in seconds."""
import statistics
import time


def median_time(fn, repeat, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
