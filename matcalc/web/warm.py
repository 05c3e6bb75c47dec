"""Warm-up of the fork server: imported by it (web/worker.py) before it forks any worker.

Importing this module derives, checks and generates code for one gradient, one Hessian and one
network. The caches that every derivation fills on first use (SymPy's, matcalc's rule and
printer tables) are then filled once, in the fork server, and every worker inherits them: a
fresh worker answers a typical gradient about twice as fast as a cold one.
"""
import gc

from .answer import answer
from .examples import EXAMPLES

WARM_UP = ("logistic regression", "Hessian of logistic regression", "XOR network (MSE)",
           "tr(X A X^T) (Cookbook 117)")

for example in EXAMPLES:
    if example["title"] in WARM_UP:
        answer(example["request"])

gc.freeze()       # what the fork server holds now is never collected by a worker's GC (no copies)
