"""Is a hand-derived formula the derived result? compare(d, "X.T@(sigmoid(X@w) - y)").

The formula is text in the notation, with the shapes of the derivation's function (and the
direction V of an HVP). It is decided in three stages:

1. Shapes. The formula is parsed with those shapes: an operation whose shapes do not fit is
   reported as a shape error naming it (the parser's message). A formula whose shape is that of
   the result transposed, or any other shape, is a transpose or shape mistake.
2. Structure. Both sides simplified (calculus/simplify.py): equal forms, or a difference that
   simplifies to zero, are the same formula (`(A + A.T)@x` and `A@x + A.T@x`).
3. Numbers. Otherwise the formula, evaluated from its TEXT by the independent evaluator
   (matcalc/reference.py), and the derived result, evaluated by matcalc's evaluator, are compared
   at random in-domain values, at several sizes with every dimension different (a formula right
   only for square or 1 x 1 cases fails there). Equal to rtol 1e-9 at every point: accepted
   (`exp(z)/(1 + exp(z)) - y` for `sigmoid(z) - y`). Otherwise the first point where they
   differ is the counterexample (sizes, values, both results, the relative difference), and
   audit/differences.py names the kind of mistake: transpose, sign, factor (2, 1/2, 1/N, ...),
   a missing or extra term of the derived sum or of the shares the variable receives (a
   variable used twice), a missing mask step(h), the Jacobian of softmax kept diagonal.
"""
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy import MatrixSymbol

from ..audit import differences
from ..audit.differences import Evidence, kind_of, relative
from ..core import dag, functions, ops
from ..core.rebuild import Substitution
from ..errors import MatcalcError, ShapeError
from ..evaluate import evaluate
from ..notation.parse import parse, source_of
from ..printing import display
from ..printing.latex import latex
from ..printing.text import to_text
from .. import reference
from .check import draw_values

RTOL = 1e-9
ROUNDS = 3          # value draws, each at its own sizes


@dataclass
class Comparison:
    formula: str                  # the formula as typed
    variable: str                 # the variable of the result it was compared with
    derived: object               # the derived result (an expression)
    equal: bool
    how: str = ""                 # "structurally, after simplification" | "numerically at ..."
    kind: str = ""                # differences.kind_of's kind, "shape" for a shape error
    detail: str = ""
    counterexample: dict = field(default_factory=dict)   # sizes, values, yours, derived, relative
    what: str = "gradient"

    @property
    def ok(self):
        return self.equal

    def __repr__(self):
        verdict = "equal" if self.equal else f"differs: {self.kind}"
        return display.angle_repr(f"Comparison {self.formula} ({verdict})")

    def __str__(self):
        head = f"expected {self.formula}: "
        if self.equal:
            return head + f"equal to the derived {self.what} with respect to {self.variable} ({self.how})"
        lines = [head + f"differs from the derived {self.what} with respect to {self.variable}: "
                 + self.detail,
                 f"  derived: {to_text(self.derived)}"]
        c = self.counterexample
        if c:
            dims = ", ".join(f"{k}={v}" for k, v in sorted(c["sizes"].items()))
            lines.append(f"  counterexample{' (' + dims + ')' if dims else ''}: " + (
                f"relative difference {c['relative']:.2g}" if c["relative"] is not None else
                f"yours is {differences.shape_text(c['yours'])}, the derived "
                f"{differences.shape_text(c['derived'])}"))
            for name, v in c["values"].items():
                lines.append(f"    {name} = {_array_text(v)}")
            lines.append(f"    yours   = {_array_text(c['yours'])}")
            lines.append(f"    derived = {_array_text(c['derived'])}")
        return "\n".join(lines)

    def latex(self, derivation_latex):
        """The derivation, then the read-off line marked with the formula that differs."""
        if self.equal:
            return derivation_latex
        mark = (r"&\boxed{\text{yours: } " + self._formula_latex() + r" \neq "
                + latex(self.derived) + r"} \\" + "\n" + r"&\qquad {\scriptstyle \text{first wrong "
                r"line: the read-off; " + _latex_words(self.detail) + r"}}")
        return derivation_latex.replace("\n\\end{aligned}", " \\\\\n" + mark + "\n\\end{aligned}")

    def _formula_latex(self):
        try:
            return latex(parse(self.formula, self.counterexample.get("shapes") or {}))
        except MatcalcError:
            return r"\texttt{" + _latex_words(self.formula) + "}"


def _latex_words(s):
    for a, b in (("\\", r"\backslash "), ("_", r"\_"), ("&", r"\&"), ("%", r"\%"), ("#", r"\#"),
                 ("{", r"\{"), ("}", r"\}"), ("^", r"\^{}")):
        s = s.replace(a, b)
    return s


def _array_text(v):
    v = np.asarray(v, dtype=float)
    if v.ndim == 2 and v.shape[1] == 1:
        return np.array2string(v.reshape(-1), precision=4, suppress_small=True) + ".T"
    return " ".join(np.array2string(v, precision=4, suppress_small=True).split())


def shapes_of(d):
    """name -> shape spec of the function's symbols (and the HVP direction), for parsing."""
    source = source_of(d.f)
    shapes = dict(source.shapes) if source is not None else {}
    symbols = dict(ops.free_variables(d.f))
    for x in d.variables + ([d.direction] if d.direction is not None else []):
        symbols.setdefault(x.name, x)
    for name, s in symbols.items():
        if name not in shapes:
            shapes[name] = _spec(s)
    if d.direction is not None:
        shapes[d.direction.name] = _spec(d.direction)
    return shapes, symbols


def _spec(s):
    if not isinstance(s, MatrixSymbol):
        return ()
    dims = [int(n) if n.is_Integer else n.name for n in s.shape]
    return (dims[0],) if dims[1] == 1 else tuple(dims)


def masks_removed(expr):
    """[(text of the mask, expr with it replaced by ones)]: each step(...) the expression holds
    (a relu' mask) left out, the mistake of forgetting the mask."""
    out = []
    for node in dag.postorder(expr):
        record = functions.record_of(node)
        if record is not None and record.name == "step" and ops.is_matrix(node):
            ones = sp.OneMatrix(*node.shape)
            out.append((to_text(node), Substitution(lambda n, node=node: n == node)(expr, {node: ones})))
    return out


def jacobian_diagonal(record, value, h=1e-6):
    """The diagonal of the Jacobian of a matrix-of-matrix function (softmax) at value, by
    central differences entry by entry: what treating its Jacobian as diagonal keeps."""
    value = np.asarray(value, dtype=float)
    out = np.zeros_like(value)
    for i in np.ndindex(value.shape):
        e = np.zeros_like(value)
        e[i] = h
        out[i] = (np.asarray(record.array(np, value + e))[i]
                  - np.asarray(record.array(np, value - e))[i]) / (2 * h)
    return out


def compare(d, formula, wrt=None, seed=0):
    """The Comparison of the formula text with the result for wrt (default: the first variable)."""
    if not isinstance(formula, str) or not formula.strip():
        raise MatcalcError("the expected formula must be non-empty text in the notation")
    x = _variable(d, wrt)
    R = d.results[x.name]
    shapes, symbols = shapes_of(d)
    what = d.kind if d.kind != "hvp" else "Hessian-vector product"
    base = dict(formula=formula.strip(), variable=x.name, derived=R, what=what)
    try:
        U = parse(formula.strip(), shapes)
    except ShapeError as e:
        return Comparison(**base, equal=False, kind="shape",
                          detail="a shape error in your formula: " + " ".join(str(e).split()))
    if _shape(U) == _shape(R) and _structurally_equal(U, R):
        return Comparison(**base, equal=True, how="structurally, after simplification")
    return _numerically(d, x, U, R, shapes, symbols, base, seed)


def _variable(d, wrt):
    if wrt is None:
        return d.variables[0]
    for x in d.variables:
        if x.name == (wrt if isinstance(wrt, str) else wrt.name):
            return x
    raise MatcalcError(f"{wrt} is not a variable of this derivation; its variables are: "
                       + ", ".join(x.name for x in d.variables))


def _shape(e):
    return tuple(e.shape) if ops.is_matrix(e) else (1, 1)


def _structurally_equal(U, R):
    from ..calculus.simplify import simplify
    try:
        if simplify(U) == simplify(R):
            return True
        return ops.is_zero(simplify(ops.sub(U, R)))
    except (MatcalcError, TypeError, ValueError):
        return False


def _round_sizes(dims, k, rng):
    """Round k's sizes: all different (2, 3, 4, ... shuffled), from a larger pool later."""
    pool = list(range(2 + k, 2 + k + max(len(dims), 1) + 2))
    rng.shuffle(pool)
    return {name: pool[i] for i, name in enumerate(sorted(dims))}


def _numerically(d, x, U, R, shapes, symbols, base, seed):
    rng = np.random.default_rng(seed)
    dims = {n.name for s in symbols.values() if isinstance(s, MatrixSymbol)
            for n in s.shape if n.is_Symbol}
    points, differing = 0, []
    for k in range(ROUNDS):
        sizes = _round_sizes(dims, k, rng)
        point = _draw(d, U, R, symbols, shapes, sizes, rng, base["formula"])
        if point is None:
            continue
        values, yours, right = point
        points += 1
        y, r = differences.aligned(yours, right)
        if _shape(U) != _shape(R) or y.shape != r.shape or relative(y, r) >= RTOL:
            differing.append((values, sizes, yours, right))
    if differing:
        values, sizes, yours, right = differing[0]
        evidence = _evidence(d, x, R, values, sizes, yours, right)
        evidence.others = [(y, r, s) for _, s, y, r in differing[1:]]
        kind, detail = kind_of(evidence)
        y, r = differences.aligned(yours, right)
        counter = dict(sizes=sizes, values=values, yours=yours, derived=right, shapes=shapes,
                       relative=relative(y, r) if _shape(U) == _shape(R) else None)
        return Comparison(**base, equal=False, kind=kind, detail=detail, counterexample=counter)
    if points == 0:
        raise MatcalcError("no random point where the formula and the derived result are both "
                           "finite: cannot compare them numerically")
    return Comparison(**base, equal=True, how=f"numerically, at {points} random points of "
                                              f"different sizes, rtol {RTOL:g}")


def _draw(d, U, R, symbols, shapes, sizes, rng, text):
    """(values, yours, right) at a random in-domain point of these sizes, or None."""
    with np.errstate(all="ignore"):
        for kind in (0, 1, 2, 3):
            values = draw_values(symbols, sizes, rng, kind, d.assumptions)
            try:
                f_value = reference.evaluate_text(to_text(d.f), shapes, values, sizes=sizes) \
                    if source_of(d.f) is None else \
                    reference.evaluate_text(source_of(d.f).text, shapes, values, sizes=sizes)
                yours = np.asarray(reference.evaluate_text(text, shapes, values, sizes=sizes), float)
            except reference.NotationError:
                f_value, yours = evaluate(d.f, values, sizes=sizes), \
                    np.asarray(evaluate(U, values, sizes=sizes), float)
            right = np.asarray(evaluate(R, values, sizes=sizes), float)
            if all(np.all(np.isfinite(v)) for v in (f_value, yours, right)):
                return values, yours, right
    return None


def _evidence(d, x, R, values, sizes, yours, right):
    """The terms, alternatives and named values the kinds of mistake are tested with."""
    def value(e):
        return np.asarray(evaluate(e, values, sizes=sizes), float)

    terms, seen = [], set()
    parts = []
    for e in (d.raw.get(x.name), R):
        if isinstance(e, (sp.MatAdd, sp.Add)):
            parts += list(e.args)
    if d.walk is not None:
        for v in d.walk.visits:
            for c in v.pulled:
                if c.child == x and len(d.walk.received.get(x, ())) > 1:
                    parts.append(c.value)
    for t in parts:
        text = to_text(t)
        if text not in seen and ops.free_variables(t).keys() <= values.keys():
            seen.add(text)
            terms.append((text, value(t)))
    alternatives = [("missing mask", f"the mask {mask} is left out", value(e))
                    for mask, e in masks_removed(d.raw.get(x.name, R))]
    alternatives += _diagonal_alternatives(d, x, right, value)
    named = [(name, values[name]) for name in sorted(values)]
    return Evidence(yours, right, sizes, terms, alternatives, named)


def _diagonal_alternatives(d, x, right, value):
    """R with the share through softmax(x) taken with the diagonal of its Jacobian only."""
    out = []
    if d.kind != "gradient" or d.walk is None:
        return out
    for v in d.walk.visits:
        record = functions.record_of(v.node)
        if record is None or record.kind != "matrix of matrix":
            continue
        shares = [c.value for c in v.pulled if c.child == x]
        if not shares:
            continue
        g = value(v.value)
        diag = jacobian_diagonal(record, value(x))
        alt = right - sum(value(c) for c in shares) + g * diag
        out.append(("diagonal Jacobian", f"the Jacobian of {to_text(v.node)} is kept only on "
                    f"its diagonal (d{to_text(v.node)}_i/d{x.name}_i); it is full: "
                    f"{record.identity}", alt))
    return out
