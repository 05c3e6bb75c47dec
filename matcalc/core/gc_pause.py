"""Building large expressions without Python's cyclic garbage collector running underneath.

A derivation creates hundreds of thousands of SymPy nodes that all stay alive until it ends; the
cyclic collector, triggered by allocation counts, walks all of them again and again, which made
a 1000-layer network's code generation a quarter slower and its growth with depth superlinear
(benchmarks/bench_derive.py). Nothing matcalc builds relies on the collector (hash-consed nodes
are held weakly, and are freed by reference counting), so the public entry points run with it
paused and turn it back on when the outermost of them returns. The collector is process-wide:
a pause made here ends when the outermost paused call returns, on any thread.
"""
import functools
import gc
import threading

_lock = threading.Lock()
_depth = 0
_was_enabled = False


def without_cyclic_gc(fn):
    """Run fn with the cyclic garbage collector paused (reference counting still frees)."""
    @functools.wraps(fn)
    def paused(*args, **kwargs):
        global _depth, _was_enabled
        with _lock:
            if _depth == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _depth += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with _lock:
                _depth -= 1
                if _depth == 0 and _was_enabled:
                    gc.enable()
    return paused
