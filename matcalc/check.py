"""Numeric checking of a derived gradient against central finite differences of the function.

The random-direction inner-product test: draw V with the variable's shape and compare
<G, V> = sum(G * V) with the Richardson-extrapolated central difference of f along V. Two
function evaluations per step size, whatever the shape. Random values are drawn in-domain where
possible: a few kinds of draws are tried until f and G are finite (plain normal values, positive
values, well-conditioned square matrices).
"""
from dataclasses import dataclass

import numpy as np
from sympy import MatrixSymbol

from .errors import MatcalcError
from .ops import free_variables
from .evaluate import dimension_sizes, evaluate

RTOL = 1e-6


@dataclass
class CheckReport:
    errors: dict          # variable name -> relative error
    sizes: dict           # dimension name -> size used
    ok: bool

    def __str__(self):
        dims = ", ".join(f"{k}={v}" for k, v in sorted(self.sizes.items()))
        lines = [f"check {name}: relative error {err:.1e} against central finite differences"
                 + (f" ({dims})" if dims else "") + (" ok" if err < RTOL else " FAILED")
                 for name, err in self.errors.items()]
        return "\n".join(lines)


def _concrete(shape, sizes):
    return tuple(int(d) if d.is_Integer else sizes[d.name] for d in shape)


def draw_values(f, sizes, rng, kind):
    """Random values for every symbol of f: kind 0 normal, 1 positive, 2 positive + SPD squares."""
    values = {}
    for name, s in sorted(free_variables(f).items()):
        shape = _concrete(s.shape, sizes) if isinstance(s, MatrixSymbol) else ()
        if kind == 0:
            v = rng.standard_normal(shape)
        else:
            v = rng.uniform(0.5, 1.5, shape)
        if kind == 2 and len(shape) == 2 and shape[0] == shape[1] and shape[0] > 1:
            g = rng.standard_normal(shape)
            v = g @ g.T / shape[0] + np.eye(shape[0])
        if kind == 0 and len(shape) == 2 and shape[0] == shape[1] and shape[0] > 1:
            v = v + shape[0] * np.eye(shape[0]) * 0.5
        values[name] = np.array(v, dtype=float)
    return values


def _dims(f):
    dims = set()
    for s in free_variables(f).values():
        if isinstance(s, MatrixSymbol):
            dims |= {d.name for d in s.shape if d.is_Symbol}
    return dims


def _finite(x):
    return np.all(np.isfinite(np.asarray(x, dtype=float)))


def check_derivation(d, values=None, sizes=None, seed=0):
    rng = np.random.default_rng(seed)
    sizes = dict(sizes or {})
    for name in sorted(_dims(d.f)):
        sizes.setdefault(name, int(rng.integers(2, 6)))
    if values is None:
        for kind in (0, 1, 2, 2, 2):
            values = draw_values(d.f, sizes, rng, kind)
            if _finite(evaluate(d.f, values)) and all(
                    _finite(evaluate(r, values, sizes=sizes)) for r in d.results.values()):
                break
        else:
            raise MatcalcError("no random point where the function and its gradient are finite; "
                               "pass values=")
    values = {k: np.array(v, dtype=float) for k, v in values.items()}
    errors = {}
    error_of = _jacobian_error if d.kind == "jacobian" else _directional_error
    for x in d.variables:
        errors[x.name] = error_of(d.f, x, d.results[x.name], values, rng,
                                  dimension_sizes(d.f, values))
    return CheckReport(errors, sizes, all(e < RTOL for e in errors.values()))


def _directional_error(f, x, G_expr, values, rng, sizes):
    x0 = np.array(values[x.name], dtype=float)
    if isinstance(x, MatrixSymbol) and x0.ndim == 1:
        x0 = x0.reshape(-1, 1)
    V = rng.standard_normal(x0.shape)
    G = np.asarray(evaluate(G_expr, values, sizes=sizes), dtype=float)
    if G.ndim == 0 and x0.ndim == 2:
        G = np.full(x0.shape, float(G)) if x0.shape == (1, 1) else G * np.ones(x0.shape)
    analytic = float(np.sum(G.reshape(x0.shape) * V))
    scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0

    def along(h):
        def at(t):
            return float(np.real(evaluate(f, {**values, x.name: x0 + t * V})))
        return (at(h) - at(-h)) / (2 * h)

    h = 1e-3 * scale
    numeric = (4 * along(h / 2) - along(h)) / 3
    den = max(abs(numeric), abs(analytic), 1e-12)
    return abs(numeric - analytic) / den


def _jacobian_error(f, x, J_expr, values, rng, sizes):
    """J @ vec(V) against the central difference of vec(F) along V (vec stacks columns), for
    a Jacobian d vec F = J d vec X; for vectors vec is the identity, so df = J dx is covered."""
    x0 = np.array(values[x.name], dtype=float)
    if isinstance(x, MatrixSymbol) and x0.ndim == 1:
        x0 = x0.reshape(-1, 1)
    V = rng.standard_normal(x0.shape)
    J = np.atleast_2d(np.asarray(evaluate(J_expr, values, sizes=sizes), dtype=float))
    analytic = J @ np.reshape(V, (-1,), order="F")
    scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0

    def along(h):
        def at(t):
            F = np.asarray(evaluate(f, {**values, x.name: x0 + t * V}), dtype=float)
            return np.reshape(F, (-1,), order="F")
        return (at(h) - at(-h)) / (2 * h)

    h = 1e-3 * scale
    numeric = (4 * along(h / 2) - along(h)) / 3
    den = max(float(np.max(np.abs(numeric))), float(np.max(np.abs(analytic))), 1e-12)
    return float(np.max(np.abs(numeric - analytic))) / den
