"""What kind of mistake turns the right value into yours: one table row per common mistake.

    kind_of(Evidence(yours, right, sizes, terms, alternatives, named)) -> (kind, detail)

Both checks of a user's work read this table: the comparison of a hand-derived formula with the
derived one (derive/compare.py) and the check of a hand-written backward pass
(audit/backward.py). Each row is one mistake people make when they derive gradients by hand,
and it states the relation it tests between your value Y and the right value R:

    transpose            Y = R.T                       (G.T written for G)
    not summed           Y is N x m and sum of its rows = R        (a bias gradient per sample)
    sign                 Y = -R
    factor               Y = c R, c a constant (2, 1/2, 1/N, ...: named by the sizes that fit)
    missing term         Y = R - T for a term T of the right sum   (a share not accumulated)
    extra term           Y = R + T
    known mistake        Y = an alternative the derivation supplies (R without the mask
                         step(h); the Jacobian of softmax(z) kept only on its diagonal)
    elementwise factor   Y = R * V or R / V for a named value V    (x where step(x) belongs)

The rows are tried in this order; the first that holds names the kind. The comparisons are
numeric (relative to the larger of the two values), at values the caller drew.
"""
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations

import numpy as np

RTOL = 1e-7


@dataclass
class Evidence:
    yours: object                 # your value (an array)
    right: object                 # the right value (an array)
    sizes: dict = field(default_factory=dict)        # dimension name -> size at these values
    terms: list = field(default_factory=list)        # [(text, value)]: the parts of R's sum
    alternatives: list = field(default_factory=list)  # [(kind, detail, value)]: known mistakes
    named: list = field(default_factory=list)        # [(name, value)]: forward values, inputs
    others: list = field(default_factory=list)       # [(yours, right, sizes)] at other sizes


def relative(a, b):
    """max |a - b| over the larger of max |a|, max |b|."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    den = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)), 1e-300)
    return float(np.max(np.abs(a - b), initial=0.0)) / den


def aligned(yours, right):
    """The two values in one layout when they hold the same vector: (n,), 1 x n and n x 1 are
    the same n numbers (a bias kept as a row is not a mistake); a scalar and a 1 x 1 likewise."""
    y, r = np.asarray(yours, dtype=float), np.asarray(right, dtype=float)
    if y.size == r.size and (min(y.shape, default=1) <= 1 or y.ndim < 2) and \
            (min(r.shape, default=1) <= 1 or r.ndim < 2):
        return y.reshape(-1), r.reshape(-1)
    return y, r


def close(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and relative(a, b) < RTOL


def shape_text(a):
    a = np.asarray(a)
    return "scalar" if a.ndim == 0 else " x ".join(str(n) for n in (a.shape if a.ndim == 2
                                                                     else (a.shape[0], 1)))


def constant_name(c, sizes, others=()):
    """c as a short expression in the sizes: 2, 1/2, -1, 1/N, 2/N, N*M; or its digits. others:
    [(c, sizes)] at other sizes, which the name must fit too (4 is 4, or N when N = 4)."""
    for text in _constant_names(c, sizes):
        if all(text in _constant_names(c2, sizes2) for c2, sizes2 in others):
            return text
    return f"{c:.6g}"


def _constant_names(c, sizes):
    """Every short expression of c in the sizes (see constant_name)."""
    names = []
    candidates = [("", 1)]
    for name, n in sorted(sizes.items()):
        candidates.append((name, n))
    for (a, m), (b, k) in combinations(sorted(sizes.items()), 2):
        candidates.append((f"{a}*{b}", m * k))
    for word, size in candidates:
        for power in (1, -1):
            base = Fraction(size) ** power
            ratio = (Fraction(c) / base).limit_denominator(8)
            if abs(float(ratio * base) - c) > 1e-9 * max(1.0, abs(c)):
                continue
            if abs(ratio.numerator) > 4 or ratio.denominator > 4:
                continue
            names.append(_product_text(ratio, word, power))
    return names


def _product_text(ratio, word, power):
    sign = "-" if ratio < 0 else ""
    ratio = abs(ratio)
    if not word:
        return sign + (str(ratio.numerator) if ratio.denominator == 1 else f"{ratio.numerator}/{ratio.denominator}")
    if power == 1:
        num = word if ratio.numerator == 1 else f"{ratio.numerator}*{word}"
        return sign + (num if ratio.denominator == 1 else f"{num}/{ratio.denominator}")
    den = word if ratio.denominator == 1 else f"{ratio.denominator}*{word}"
    den = den if "*" not in den else f"({den})"
    return f"{sign}{ratio.numerator}/{den}"


# ---- the rows ---------------------------------------------------------------------------------
def transposed(e):
    y, r = np.asarray(e.yours, float), np.asarray(e.right, float)
    if r.ndim == 2 and y.shape == r.T.shape and r.shape[0] != r.shape[1] and close(y, r.T):
        return "a transpose: yours is the transpose of the right value"
    if r.ndim == 2 and y.shape == r.shape and r.shape[0] == r.shape[1] and close(y, r.T) \
            and not close(y, r):
        return "a transpose: yours is the transpose of the right value"
    return None


def not_summed(e):
    y, r = np.asarray(e.yours, float), np.asarray(e.right, float)
    if y.ndim != 2 or y.size == r.size:
        return None
    for axis, per in ((0, "row"), (1, "column")):
        if y.shape[1 - axis] == r.size and close(y.sum(axis=axis), r.reshape(-1)):
            return (f"not summed over the batch: yours is {shape_text(y)}, one {per} per sample; "
                    f"the right value is the sum of those {per}s")
    return None


def sign(e):
    y, r = aligned(e.yours, e.right)
    return "a sign: yours is minus the right value" if close(y, -r) and not close(y, r) else None


def _ratio(yours, right):
    """c with yours = c * right, or None."""
    y, r = aligned(yours, right)
    if y.shape != r.shape or not np.any(r):
        return None
    c = float(np.sum(y * r) / np.sum(r * r))
    return c if abs(c) > 1e-12 and abs(c - 1) > 1e-9 and close(y, c * r) else None


def factor(e):
    c = _ratio(e.yours, e.right)
    if c is None:
        return None
    others = [(_ratio(y, r), s) for y, r, s in e.others]
    others = [(c2, s) for c2, s in others if c2 is not None]
    inverse = constant_name(1 / c, e.sizes, [(1 / c2, s) for c2, s in others])
    return (f"a factor: yours is {constant_name(c, e.sizes, others)} times the right value "
            f"(a factor {inverse} is missing)")


def missing_term(e):
    y, r = aligned(e.yours, e.right)
    for text, t in e.terms:
        if np.size(t) == r.size and np.any(t) and close(y, r - np.reshape(t, r.shape)):
            return f"a missing term: the right value also adds {text}"
    return None


def extra_term(e):
    y, r = aligned(e.yours, e.right)
    for text, t in e.terms:
        if np.size(t) == r.size and np.any(t) and close(y, r + np.reshape(t, r.shape)):
            return f"an extra term: yours adds {text} once more"
    return None


def known_mistake(e):
    y, _ = aligned(e.yours, e.right)
    for kind, detail, value in e.alternatives:
        v, _ = aligned(value, e.right)
        if close(y, v):
            return f"{kind}: {detail}"
    return None


def elementwise_factor(e):
    y, r = np.asarray(e.yours, float), np.asarray(e.right, float)
    if y.shape != r.shape:
        return None
    for name, v in e.named:
        v = np.asarray(v, float)
        if v.shape != r.shape or not np.any(r):
            continue
        if close(y, r * v):
            return f"an elementwise factor: yours is the right value times {name}, entry by entry"
        if np.all(v != 0) and close(y, r / v):
            return f"an elementwise factor: yours is the right value divided by {name}, entry by entry"
    return None


KINDS = (("transpose", transposed), ("not summed", not_summed), ("sign", sign),
         ("factor", factor), ("missing term", missing_term), ("extra term", extra_term),
         ("known mistake", known_mistake), ("elementwise factor", elementwise_factor))


def kind_of(e):
    """(kind, detail) of the first row of KINDS that holds; for a known mistake the kind is the
    alternative's own ("missing mask", "diagonal Jacobian"); ("shape", ...) when the shapes
    differ and no row explains it; ("value", ...) otherwise."""
    for kind, test in KINDS:
        detail = test(e)
        if detail:
            return (detail.split(":")[0] if kind == "known mistake" else kind), detail
    y, r = aligned(e.yours, e.right)
    if y.shape != r.shape:
        return "shape", f"a shape: yours is {shape_text(e.yours)}, the right value is {shape_text(e.right)}"
    return "value", "a different value (none of the common mistakes explains it)"
