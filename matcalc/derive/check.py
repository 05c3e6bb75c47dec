"""Numeric checks of a derived result against the function as the user wrote it.

The reference is the function itself, not matcalc's rewritten form of it: when the expression
came from text (`mc.parse`), the text is evaluated by matcalc.reference, an evaluator of the
notation written independently of the parser, the canonical forms and the rules; only
expressions built in Python (or too deep for Python's own parser) are evaluated by
`mc.evaluate`, and the report says which reference was used. Every kind is checked by central
differences, Richardson-extrapolated, along random directions (two evaluations per step size,
whatever the shape):

* gradient  <G, V>            against d/dt f(X + tV)
* Jacobian  J @ vec(V)        against d/dt vec F(X + tV)              (vec stacks columns)
* Hessian   u.T @ H @ w       against d2/ds dt f(x + su + tw)         (mixed differences)
* HVP       <W, H[V]>         against d2/ds dt f(X + sV + tW)

A second difference that is within its own rounding noise of the result passes (the Hessian of a
linear function is 0, and the differences are noise); for functions with kinks (relu, abs) the
directions are drawn so that the largest step crosses none.

Random values are drawn in-domain where possible: a few kinds of draws are tried until f and the
result are finite (plain normal values, positive values, well-conditioned square matrices).
"""
from dataclasses import dataclass

import numpy as np
from sympy import MatrixSymbol

from ..core import dag
from ..core.functions import record_of
from ..core.nodes import Elementwise
from ..core.ops import free_variables
from ..errors import MatcalcError
from ..evaluate import dimension_sizes, evaluate
from ..notation.parse import source_of
from ..printing import display
from .. import reference

RTOL = 1e-6
MAX_CHECK_ENTRIES = 1_000_000      # a larger value is not checked numerically
SIZE_RANGE = (2, 5)


@dataclass
class CheckReport:
    errors: dict          # variable name -> relative error
    sizes: dict           # dimension name -> size used
    ok: bool
    kind: str = "gradient"
    against: str = "the function as written"

    def __str__(self):
        dims = ", ".join(f"{k}={v}" for k, v in sorted(self.sizes.items()))
        what = {"gradient": "central finite differences",
                "jacobian": "central finite differences of vec F",
                "hessian": "mixed second differences of f",
                "hvp": "mixed second differences of f"}[self.kind]
        lines = [f"check {name}: relative error {err:.1e} against {what} of {self.against}"
                 + (f" ({dims})" if dims else "") + (": ok" if err < RTOL else ": FAILED")
                 for name, err in self.errors.items()]
        return "\n".join(lines)

    def _repr_markdown_(self):
        return "\n".join(f"* {line}" for line in str(self).splitlines())

    def _repr_html_(self):
        return display.check_html(self, RTOL)

    def __repr__(self):
        return display.angle_repr("CheckReport " + display.check_summary(self))


def _concrete(shape, sizes):
    return tuple(int(d) if d.is_Integer else sizes[d.name] for d in shape)


def draw_values(symbols, sizes, rng, kind, assumed=None):
    """Random values for every symbol: kind 0 normal, 1 positive, 2 positive + SPD squares,
    3 negative; a variable in `assumed` (name -> assumptions.Kind) gets values of its kind."""
    assumed = assumed or {}
    values = {}
    for name, s in sorted(symbols.items()):
        shape = _concrete(s.shape, sizes) if isinstance(s, MatrixSymbol) else ()
        if int(np.prod(shape)) > MAX_CHECK_ENTRIES:
            raise MatcalcError(f"{name} would be {shape[0]} x {shape[1]}: too large to check "
                               f"numerically (at most {MAX_CHECK_ENTRIES:,} entries)")
        v = rng.standard_normal(shape) if kind == 0 else rng.uniform(0.5, 1.5, shape)
        if kind == 3:
            v = -v
        if len(shape) == 2 and shape[0] == shape[1] and shape[0] > 1:
            if kind == 2:
                g = rng.standard_normal(shape)
                v = g @ g.T / shape[0] + np.eye(shape[0])
            elif kind == 0:
                v = v + shape[0] * np.eye(shape[0]) * 0.5
        if name in assumed:
            v = assumed[name].draw(shape, rng)
        values[name] = np.array(v, dtype=float)
    return values


def _dims(symbols):
    dims = set()
    for s in symbols.values():
        if isinstance(s, MatrixSymbol):
            dims |= {d.name for d in s.shape if d.is_Symbol}
    return dims


def _finite(x):
    try:
        return bool(np.all(np.isfinite(np.asarray(x, dtype=float))))
    except (TypeError, ValueError):
        return False


class Function:
    """f(values) -> value, from the user's text when there is one (the independent path)."""

    TYPED = "the expression as typed, by an independent evaluator"
    BUILT = "the expression, by matcalc's evaluator"

    def __init__(self, f, source=None):
        self.f = f
        if source is None:
            parsed = source_of(f)
            source = (parsed.text, parsed.shapes) if parsed is not None else (None, None)
        self.text, self.shapes = source
        kinks = [n for n in dag.postorder(f) if getattr(record_of(n), "kink", False)]
        self.kink = bool(kinks)
        # where an elementwise kink is (relu, abs: where its argument changes sign)
        self.kink_arguments = [n.arg if isinstance(n, Elementwise) else n.args[0]
                               for n in kinks if record_of(n).kind == "elementwise"]
        self.against = self.TYPED if self.text is not None else self.BUILT

    def __call__(self, values, sizes):
        if self.text is not None:
            try:
                return reference.evaluate_text(self.text, self.shapes, values, sizes=sizes)
            except reference.NotationError:      # deeper than Python's parser takes, ...
                self.text, self.against = None, self.BUILT
        return evaluate(self.f, values, sizes=sizes)


def check_derivation(d, values=None, sizes=None, seed=0, source=None):
    """A CheckReport for every variable of the Derivation d; `source` = (text, shapes) names
    the text the function was written as, when it did not come from mc.parse."""
    rng = np.random.default_rng(seed)
    symbols = free_variables(d.f)
    for x in d.variables:
        symbols.setdefault(x.name, x)
    if d.direction is not None:
        symbols.pop(d.direction.name, None)
    sizes = dict(sizes or {})
    for name in sorted(_dims(symbols)):
        sizes.setdefault(name, int(rng.integers(SIZE_RANGE[0], SIZE_RANGE[1] + 1)))
    function = Function(d.f, source)
    results = {x.name: d.results[x.name] for x in d.variables}
    extra = {}
    if d.direction is not None:
        extra[d.direction.name] = None
    with np.errstate(all="ignore"):
        if values is None:
            for kind in (0, 1, 2, 2, 3, 2):
                values = draw_values(symbols, sizes, rng, kind, d.assumptions)
                if _finite(function(values, sizes)) and all(
                        _finite(evaluate(r, {**values, **_directions(extra, values, d, rng)},
                                         sizes=sizes)) for r in results.values()):
                    break
            else:
                raise MatcalcError("no random point where the function and its result are finite; "
                                   "pass values=")
        values = {k: np.array(v, dtype=float) for k, v in values.items()}
        sizes = {**sizes, **dimension_sizes(d.f, values)}
        errors = {}
        for x in d.variables:
            errors[x.name] = CHECKS[d.kind](function, d, x, values, sizes, rng)
    return CheckReport(errors, sizes, all(e < RTOL for e in errors.values()), d.kind,
                       function.against)


def _directions(extra, values, d, rng):
    if d.direction is None:
        return {}
    x = d.variables[0]
    return {d.direction.name: np.ones(np.shape(values[x.name]))}


def _point(values, x):
    x0 = np.array(values[x.name], dtype=float)
    if isinstance(x, MatrixSymbol) and x0.ndim < 2:
        x0 = x0.reshape(-1, 1) if x0.ndim == 1 else x0.reshape(1, 1)
    return x0


def _derivative(function, d, h):
    """A central difference d(h), Richardson-extrapolated; with a tiny step and no
    extrapolation when the function has kinks (relu, abs), so a step rarely straddles one."""
    if function.kink:
        return d(1e-7 * h / 1e-3)
    return (4 * d(h / 2) - d(h)) / 3


def _relative(a, b, floor=1e-12):
    """max|a - b| over the larger of max|a|, max|b| and `floor`."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    den = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), floor)
    return float(np.max(np.abs(a - b))) / den


def _floor(value):
    """The size below which a first derivative counts as zero: 1e-6 of the function's size.
    A gradient that is exactly zero (a bias before batch normalisation) is then compared with
    the differences' rounding noise, about 1e-13 of f, instead of being divided by it; a wrong
    gradient still fails unless it is wrong by less than 1e-12 of f."""
    size = float(np.max(np.abs(np.asarray(value, dtype=float)))) if np.size(value) else 0.0
    return max(1e-12, 1e-6 * size) if np.isfinite(size) else 1e-12


def gradient_error(function, d, x, values, sizes, rng):
    x0 = _point(values, x)
    V = rng.standard_normal(x0.shape)
    G = np.asarray(evaluate(d.results[x.name], values, sizes=sizes), dtype=float)
    analytic = float(np.sum(np.broadcast_to(G.reshape(G.shape if G.size > 1 else ()), x0.shape) * V))
    scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0

    def along(h):
        def at(t):
            return float(np.real(function({**values, x.name: x0 + t * V}, sizes)))
        return (at(h) - at(-h)) / (2 * h)

    return _relative(_derivative(function, along, 1e-3 * scale), analytic,
                     _floor(np.real(function(values, sizes))))


def jacobian_error(function, d, x, values, sizes, rng):
    """J @ vec(V) against the central difference of vec(F) along V."""
    x0 = _point(values, x)
    V = rng.standard_normal(x0.shape)
    J = np.atleast_2d(np.asarray(evaluate(d.results[x.name], values, sizes=sizes), dtype=float))
    analytic = J @ np.reshape(V, (-1,), order="F")
    scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0

    def along(h):
        def at(t):
            F = np.asarray(function({**values, x.name: x0 + t * V}, sizes), dtype=float)
            return np.reshape(F, (-1,), order="F")
        return (at(h) - at(-h)) / (2 * h)

    return _relative(_derivative(function, along, 1e-3 * scale), analytic,
                     _floor(function(values, sizes)))


STEPS = (1e-2, 5e-3, 2.5e-3)       # the mixed differences' steps, times the scale of x


def _mixed(function, values, sizes, x, x0, U, W, scale):
    """(d2/ds dt f(x0 + sU + tW) at 0, by mixed central differences (Richardson), and the
    rounding noise of that number: 100 ulps of the largest |f| over the smallest step squared)."""
    seen = [0.0]

    def at(s, t):
        value = float(np.real(function({**values, x.name: x0 + s * U + t * W}, sizes)))
        seen[0] = max(seen[0], abs(value))
        return value

    def diff(h):
        return (at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / (4 * h * h)

    d1, d2, d4 = (diff(step * scale) for step in STEPS)
    noise = 100 * np.finfo(float).eps * seen[0] / (STEPS[-1] * scale) ** 2
    return (64 * d4 - 20 * d2 + d1) / 45, noise


def _smooth_directions(function, values, sizes, x, x0, scale, rng, V=None):
    """Two random directions (the first V when given) along which the largest step crosses no
    elementwise kink: the signs of every kink's argument (relu, abs) are the same at the four
    corners as at x0, so the differences see one smooth piece (drawn again up to 20 times)."""
    def signs(point):
        return [np.sign(np.asarray(evaluate(a, {**values, x.name: point}, sizes=sizes),
                                   dtype=float)) for a in function.kink_arguments]

    h = STEPS[0] * scale
    for _ in range(20):
        U = V if V is not None else rng.standard_normal(x0.shape)
        W = rng.standard_normal(x0.shape)
        if not function.kink_arguments:
            break
        here = signs(x0)
        if all(all(np.array_equal(a, b) for a, b in zip(here, signs(x0 + s * U + t * W)))
               for s in (h, -h) for t in (h, -h)):
            break
    return U, W


def hessian_error(function, d, x, values, sizes, rng):
    """u.T @ H @ w against the mixed second difference of f along u and w."""
    x0 = _point(values, x)
    scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0
    U, W = _smooth_directions(function, values, sizes, x, x0, scale, rng)
    H = np.atleast_2d(np.asarray(evaluate(d.results[x.name], values, sizes=sizes), dtype=float))
    analytic = float(np.reshape(U, -1, order="F") @ H @ np.reshape(W, -1, order="F"))
    numeric, noise = _mixed(function, values, sizes, x, x0, U, W, scale)
    return _hessian_relative(numeric, analytic, H, U, W, noise)


def hvp_error(function, d, x, values, sizes, rng):
    """<W, H[V]> against the mixed second difference of f along V and W."""
    x0 = _point(values, x)
    scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0
    V = rng.standard_normal(x0.shape)
    direction = V if isinstance(d.direction, MatrixSymbol) else float(V.reshape(-1)[0])
    if not isinstance(d.direction, MatrixSymbol):
        V = np.full(x0.shape, direction)
    V, W = _smooth_directions(function, values, sizes, x, x0, scale, rng, V)
    HV = np.asarray(evaluate(d.results[x.name], {**values, d.direction.name: direction},
                             sizes=sizes), dtype=float)
    analytic = float(np.sum(np.broadcast_to(HV.reshape(HV.shape if HV.size > 1 else ()), x0.shape) * W))
    numeric, noise = _mixed(function, values, sizes, x, x0, V, W, scale)
    return _hessian_relative(numeric, analytic, HV, V, W, noise)


def _hessian_relative(numeric, analytic, H, U, W, noise):
    """Relative to the size of the terms (second differences lose about 1e-8 of |f|), and
    never to less than the differences' rounding noise over RTOL: a difference within that
    noise passes (a zero Hessian, of a linear f, against differences that are noise), a
    larger one fails."""
    size = float(np.linalg.norm(H)) * float(np.linalg.norm(U)) * float(np.linalg.norm(W))
    den = max(abs(numeric), abs(analytic), 1e-3 * size, noise / RTOL, 1e-12)
    return abs(numeric - analytic) / den


CHECKS = {"gradient": gradient_error, "jacobian": jacobian_error, "hessian": hessian_error,
          "hvp": hvp_error}
