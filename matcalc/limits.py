"""Room on the Python stack for walking deep expressions (a 100-layer network nests ~400 deep)."""
import sys
from contextlib import contextmanager

STACK_FOR_DEEP_EXPRESSIONS = 20000


@contextmanager
def recursion_room(n=STACK_FOR_DEEP_EXPRESSIONS):
    old = sys.getrecursionlimit()
    if old < n:
        sys.setrecursionlimit(n)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
