"""The trust checks: matcalc's answers against the reference evaluator, in one place.

Used by tests/test_trust.py (hypothesis, CI-sized and slow) and benchmarks/fuzz.py (plain random
campaigns). Every check goes through the PUBLIC API only (`import matcalc as mc`, `import
codegen`) and compares with `matcalc.reference.evaluate_text`, which reads the TEXT as the user
typed it and shares no code with the engine; derivatives of the reference come from HIPS autograd
(`xp=autograd.numpy`) and, for gradients, from central finite differences along a random
direction (Richardson-extrapolated).

Kinds of check (`KINDS`):

* value     mc.evaluate(mc.parse(text, shapes), values) = the reference value
* grad      for each variable X of the text,
            mc.grad(f, X).result = autograd.grad of the reference, and <G, V> = the central
            difference of the reference along a random V (when two step sizes agree on it)
* jacobian  mc.jacobian(f, X).result = autograd.jacobian of the reference, through vec for
            matrices (d vec F = J d vec X, columns stacked: order="F")
* hessian   mc.hessian(f, x).result = autograd.hessian of the reference (x a vector)
* hvp       mc.hvp(f, X).result at a random direction = grad of <grad f, V> by autograd
* codegen   codegen.compile(f, wrt)(**values) = (reference value, autograd gradients)

Each check returns an `Outcome` whose status is one of:

* passed   the numbers agree;
* refused  matcalc raised a MatcalcError (a clear refusal, counted, not a failure);
* skipped  the reference is not finite at the point, or the text is too deep for it; or, where
           the numbers differ, the point is ill-conditioned: finite differences do not settle,
           side with matcalc, or the value itself moves in extended precision (a pole that
           only rounding keeps finite);
* failed   wrong numbers or shapes, an exception that is not a MatcalcError (an internal error),
           a timeout, or a text the reference itself rejects (a bug in the generator).

`Outcome.repro()` is a one-line Python call that reruns the case from tests/. What this module
does not do: generate texts (tests/strategies.py does) or decide how many cases to run.
"""
import contextlib
import random
import re
import signal
import traceback
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import autograd
import autograd.numpy as anp
import numpy as np

import codegen
import matcalc as mc
from matcalc import reference
from strategies import Case, random_case, symbols_in

KINDS = ("value", "grad", "jacobian", "hessian", "hvp", "codegen")
TARGET = {"value": "any", "grad": "scalar", "jacobian": "nonscalar", "hessian": "scalar",
          "hvp": "scalar", "codegen": "scalar"}
SIZE_RANGE = (2, 5)
VALUE_RTOL = 1e-8
RTOL = 1e-6
FD_RTOL = 1e-5


# ---- outcomes -----------------------------------------------------------------------------------
@dataclass
class Outcome:
    kind: str
    case: Case
    wrt: object          # a name, a list of names (grad, codegen) or None (value)
    seed: int
    status: str          # passed | refused | skipped | failed
    detail: str = ""

    def repro(self):
        """A one-line call that reruns this case (from tests/, or with tests/ on sys.path)."""
        return (f"check({self.kind!r}, Case({self.case.text!r}, {self.case.shapes!r}, "
                f"{self.case.draw!r}), wrt={self.wrt!r}, seed={self.seed})")

    def __str__(self):
        return f"{self.status}: {self.repro()}  # {self.detail}"


class Refused(Exception):
    """matcalc raised a MatcalcError."""


class Failed(Exception):
    """Wrong numbers, a wrong shape, or an internal error of matcalc."""


class Skip(Exception):
    """The reference is not finite at the point (or the text is too deep for it)."""


class CaseTimeout(BaseException):
    """A case ran past its time limit (BaseException: no `except Exception` swallows it)."""


def engine(what, function, *args, **kwargs):
    """Call matcalc: a MatcalcError is a refusal, any other exception an internal error."""
    try:
        return function(*args, **kwargs)
    except mc.MatcalcError as e:
        raise Refused(f"{what}: {type(e).__name__}: {first_line(e)}") from None
    except Exception as e:     # noqa: BLE001 - every other exception is a finding
        raise Failed(f"internal error in {what}: {type(e).__name__}: {first_line(e)}"
                     f" [{innermost_frame(e)}]") from None


def first_line(e):
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


def innermost_frame(e):
    """file:line function of the deepest frame inside matcalc or codegen."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if re.search(r"[/\\](matcalc|codegen)[/\\]", f.filename) or "matcalc codegen" in f.filename]
    if not frames:
        return "outside matcalc"
    f = frames[-1]
    name = re.sub(r".*[/\\](matcalc|codegen)[/\\]", r"\1/", f.filename)
    return f"{name}:{f.lineno} {f.name}"


# ---- values -------------------------------------------------------------------------------------
def draw_values(case, seed):
    """(values, sizes) for a case: sizes 2..5 per dimension and float64 values, all from
    np.random.default_rng(seed); vectors are 1-D or n x 1 (one coin per case)."""
    rng = np.random.default_rng(seed)
    dims = sorted({d for shape in case.shapes.values() for d in shape if isinstance(d, str)})
    sizes = {d: int(rng.integers(SIZE_RANGE[0], SIZE_RANGE[1] + 1)) for d in dims}
    flat_vectors = bool(rng.integers(0, 2))
    values = {}
    for name in sorted(case.shapes):
        shape = tuple(sizes[d] if isinstance(d, str) else int(d) for d in case.shapes[name])
        values[name] = draw(shape, case.draw[name], rng, flat_vectors)
    return values, sizes


def draw(shape, kind, rng, flat_vectors):
    if kind == "spd":
        n = shape[0]
        g = rng.standard_normal(shape)
        return g @ g.T / n + np.eye(n)
    full = shape if len(shape) != 1 or flat_vectors else (shape[0], 1)
    v = rng.uniform(0.5, 1.5, full) if kind == "positive" else rng.standard_normal(full)
    return float(v) if shape == () else v


def matrix_shape(value):
    """The variable's shape as matcalc sees it: () for scalars, (n, 1) for vectors."""
    s = np.shape(value)
    return s if len(s) != 1 else (s[0], 1)


# ---- the reference and its derivatives ----------------------------------------------------------
def reference_function(case, values, name, xp=anp):
    """X -> the reference value of the text with `name` bound to X."""
    def f(X):
        return reference.evaluate_text(case.text, case.shapes, {**values, name: X}, xp=xp)
    return f


def finite(value, what):
    a = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise Skip(f"the reference {what} is not finite at this point")
    return a


def as_float_array(value):
    if hasattr(value, "_value"):                      # an autograd box: never here, but be sure
        value = value._value
    return np.asarray(value, dtype=np.float64)


def central_difference(f, X, V, dtype=np.float64):
    """The slope of f along V by central differences, two Richardson steps (error O(h**6)),
    at two step sizes h and h/8: (the estimate at h/8, how far the two estimates differ).
    dtype=np.longdouble differences in extended precision (x86: 64-bit mantissa)."""
    X, V = np.asarray(X, dtype=dtype), np.asarray(V, dtype=dtype)
    h = 1e-3 * max(1.0, float(np.max(np.abs(X)))) / max(1.0, float(np.max(np.abs(V))))

    def d(step):
        return float((dtype(f(X + step * V)) - dtype(f(X - step * V))) / (2 * step))

    def richardson(step):
        d1, d2, d4 = d(step), d(step / 2), d(step / 4)
        return (64 * d4 - 20 * d2 + d1) / 45
    coarse, fine = richardson(h), richardson(h / 8)
    return fine, abs(fine - coarse)


def extended_difference(case, values, wrt, X, V):
    """central_difference of the reference in extended precision where NumPy has it (not in
    linalg: det, inv, logdet fall back to float64). Where tanh(z) rounds to 1 in float64, a
    float64 difference of arcsin(tanh(z)) is noise that can look settled; 64 bits of mantissa
    resolve it."""
    try:
        wide = {k: np.asarray(v, dtype=np.longdouble) for k, v in values.items()}
        return central_difference(reference_function(case, wide, wrt, xp=np), X, V, np.longdouble)
    except TypeError:
        return central_difference(reference_function(case, values, wrt, xp=np), X, V)


# ---- comparing ----------------------------------------------------------------------------------
def compare(got, expected, what, rtol, atol=0.0, shape=None):
    """got (from matcalc) equals expected (the reference): shapes, finiteness, then
    ||got - expected|| <= rtol * max(||got||, ||expected||) + atol."""
    a, b = as_float_array(got), as_float_array(expected)
    if shape is not None:
        b = b.reshape(shape)
        if a.size != b.size:
            raise Failed(f"wrong shape: {what} has shape {a.shape}, expected {shape}")
        a = a.reshape(shape)
    elif a.shape != b.shape and not (a.size == 1 and b.size == 1 and b.ndim == 0):
        raise Failed(f"wrong shape: {what} has shape {a.shape}, expected {b.shape}")
    a = a.reshape(b.shape)
    if not np.all(np.isfinite(a)):
        raise Failed(f"wrong value: {what} is not finite where the reference is: {a.ravel()[:4]}")
    error = float(np.linalg.norm(a - b))
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
    if error > rtol * scale + atol:
        raise Failed(f"wrong value: {what}: relative error {error / max(scale, 1e-300):.2e} "
                     f"(|got| {np.linalg.norm(a):.4g}, |reference| {np.linalg.norm(b):.4g})")


def gradient_atol(f0, X):
    """Rounding noise floor for a gradient: exact zeros against 1e-17-sized noise."""
    return 1e-10 * (1.0 + abs(float(f0))) * max(1.0, float(np.size(X))) ** 0.5


# ---- the checks ---------------------------------------------------------------------------------
def parse(case):
    return engine("parse", mc.parse, case.text, case.shapes)


def all_sizes(f, values, sizes):
    """Sizes for mc.evaluate of a derived result: those read off f's values, and the rest."""
    return {**sizes, **engine("dimension_sizes", mc.dimension_sizes, f, values)}


def check_value(case, wrt, values, sizes, rng):
    expected = finite(reference.evaluate_text(case.text, case.shapes, values), "value")
    f = parse(case)
    got = engine("evaluate", mc.evaluate, f, values, sizes=sizes)
    try:
        compare(got, expected, "value", VALUE_RTOL, atol=1e-12)
    except Failed as e:
        if value_is_noise(case, values, expected):
            raise Skip(f"ill-conditioned point: {e}; the value itself is rounding noise") from None
        raise


def check_grad(case, wrt, values, sizes, rng):
    """The gradient with respect to each variable of `wrt` (a list of names)."""
    for name in wrt:
        check_gradient(case, name, values, sizes, rng)


def check_gradient(case, wrt, values, sizes, rng):
    X = values[wrt]
    fref = reference_function(case, values, wrt)
    f0 = finite(fref(X), "value")
    G_ref = finite(autograd.grad(fref)(X), "gradient")
    f = parse(case)
    d = engine("grad", mc.grad, f, wrt)
    G = engine("evaluate(grad)", mc.evaluate, d.result, values, sizes=all_sizes(f, values, sizes))
    differences = Differences(case, values, wrt, f0, rng)
    compare_gradient(G, G_ref, f"gradient wrt {wrt} (against autograd)", f0, X, differences)
    if differences.agree(G) is False:
        raise Failed(f"wrong value: <gradient wrt {wrt}, V> differs from the central difference "
                     f"{differences.slope:.10g} of the reference (autograd agreed with matcalc)")


class Differences:
    """The central difference of the reference along a random V (extended precision), and
    whether a gradient agrees with it: True, False, or None when differences do not settle
    here (a kink, extreme curvature, a value that rounds in steps)."""

    def __init__(self, case, values, wrt, f0, rng):
        self.V = rng.standard_normal(np.shape(values[wrt]))
        self.f0 = f0
        self.reference = (case, values, wrt)
        self.slope = self.spread = None

    def agree(self, gradient, strict=False):
        """strict: within FD_RTOL of the slope itself, not of |gradient| |V| (a gradient 1e-4
        off can pass the loose test along a V nearly orthogonal to it)."""
        if self.slope is None:                   # computed when first needed
            case, values, wrt = self.reference
            self.slope, self.spread = extended_difference(case, values, wrt, values[wrt], self.V)
        g = as_float_array(gradient).reshape(np.shape(self.V))
        inner = float(np.sum(g * self.V))
        scale = float(np.linalg.norm(g)) * float(np.linalg.norm(self.V))
        tolerance = FD_RTOL * max(scale, abs(self.slope)) + 1e-8 * (1.0 + abs(float(self.f0)))
        if strict:
            close = FD_RTOL * abs(self.slope) + 1e-8 * (1.0 + abs(float(self.f0)))
            return None if self.spread > tolerance else abs(inner - self.slope) <= close
        return None if self.spread > tolerance else abs(inner - self.slope) <= tolerance


def value_is_noise(case, values, f0):
    """Whether the reference value here is rounding noise: in extended precision it moves by more
    than FD_RTOL. At a pole reached only through rounding (1/sum(sign(x))**2 written with
    x.T@(x**2)**-0.5, whose signs cancel to 1e-16 instead of 0: a value of 7e31) neither
    autograd's derivatives nor matcalc's mean anything, and they are not compared. False where
    NumPy has no extended precision (linalg)."""
    try:
        wide = {k: np.asarray(v, dtype=np.longdouble) for k, v in values.items()}
        exact = np.asarray(reference.evaluate_text(case.text, case.shapes, wide, xp=np),
                           dtype=np.longdouble)
    except (TypeError, np.linalg.LinAlgError):
        return False
    if not np.all(np.isfinite(exact)):
        return True
    error = float(np.linalg.norm(np.ravel(exact - np.asarray(f0, dtype=np.longdouble))))
    return error > FD_RTOL * float(np.linalg.norm(np.ravel(exact))) + 1e-300


def compare_gradient(G, G_ref, what, f0, X, differences):
    """G against autograd's G_ref; a mismatch is judged by finite differences: where they do not
    settle (arccos of a tanh rounded to 1: autograd and matcalc round differently and neither
    can be shown right) the point is skipped, otherwise the verdict is part of the failure."""
    try:
        compare(G, G_ref, what, RTOL, gradient_atol(f0, X), matrix_shape(X))
    except Failed as e:
        if value_is_noise(*differences.reference[:2], f0):
            raise Skip(f"ill-conditioned point: {e}; the value itself is rounding noise") from None
        settled = differences.agree(G)
        if settled is None and "not finite" not in str(e):
            raise Skip(f"ill-conditioned point: {e}; finite differences do not settle") from None
        if settled and differences.agree(G, strict=True) and "not finite" not in str(e):
            raise Skip(f"autograd rounds badly here: {e}; extended-precision differences side "
                       f"with matcalc") from None
        verdict = {True: "finite differences side with matcalc",
                   False: "finite differences side with autograd",
                   None: "finite differences do not settle"}[settled]
        raise Failed(f"{e}; {verdict}") from None


def check_jacobian(case, wrt, values, sizes, rng):
    X = values[wrt]
    fref = reference_function(case, values, wrt)
    F0 = finite(fref(X), "value")
    J_ref = finite(autograd.jacobian(fref)(X), "Jacobian")
    # d vec F = J d vec X: rows follow vec(F), columns vec(X), both column-major
    J_ref = J_ref.reshape((F0.size, np.size(X)), order="F")
    f = parse(case)
    d = engine("jacobian", mc.jacobian, f, wrt)
    J = engine("evaluate(jacobian)", mc.evaluate, d.result, values,
               sizes=all_sizes(f, values, sizes))
    try:
        compare(J, J_ref, f"Jacobian wrt {wrt} (against autograd)", RTOL, gradient_atol(0.0, X),
                J_ref.shape)
    except Failed as e:
        if value_is_noise(case, values, F0):
            raise Skip(f"ill-conditioned point: {e}; the value itself is rounding noise") from None
        raise


def check_hessian(case, wrt, values, sizes, rng):
    X = values[wrt]
    fref = reference_function(case, values, wrt)
    f0 = finite(fref(X), "value")
    H_ref = finite(autograd.hessian(fref)(X), "Hessian")
    n = np.size(X)
    H_ref = H_ref.reshape((n, n), order="F")
    f = parse(case)
    d = engine("hessian", mc.hessian, f, wrt)
    H = engine("evaluate(hessian)", mc.evaluate, d.result, values, sizes=all_sizes(f, values, sizes))
    try:
        compare(H, H_ref, f"Hessian wrt {wrt} (against autograd)", RTOL,
                gradient_atol(f0, H_ref), (n, n))
    except Failed as e:
        U, W = rng.standard_normal(np.shape(X)), rng.standard_normal(np.shape(X))
        got = float(np.ravel(U, order="F") @ as_float_array(H).reshape(n, n)
                    @ np.ravel(W, order="F"))
        settle(e, autograd.grad(fref), X, W, U, got, f0, (case, values, wrt))


def settle(e, gradient, X, V, W, got, f0, reference=None):
    """A second-order mismatch: is it matcalc's? `got` is matcalc's <W, H V>. It is estimated
    by mixed second differences of the reference in extended precision (reference = (case,
    values, wrt)), or, where NumPy has no extended precision (linalg), by the central difference
    of autograd's <W, gradient> along V. Where the estimate does not settle, autograd and
    matcalc cannot be told apart and the point is skipped; where it sides with matcalc,
    autograd rounded badly (a sech computed as sqrt(1 - tanh**2) near 0) and the point is
    skipped too; otherwise matcalc is wrong."""
    if reference is not None and value_is_noise(*reference[:2], f0):
        raise Skip(f"ill-conditioned point: {e}; the value itself is rounding noise") from None
    estimate = None
    if reference is not None:
        try:
            estimate = extended_mixed_difference(*reference, V, W)
        except TypeError:
            pass
    if estimate is None:
        def along(Y):
            return float(np.sum(as_float_array(gradient(Y)) * W))
        estimate = central_difference(along, X, V)
    slope, spread = estimate
    tolerance = FD_RTOL * max(abs(got), abs(slope)) + 1e-8 * (1.0 + abs(float(f0)))
    if "not finite" not in str(e) and spread > tolerance:
        raise Skip(f"ill-conditioned point: {e}; finite differences do not settle") from None
    if "not finite" not in str(e) and abs(got - slope) <= tolerance:
        raise Skip(f"autograd rounds badly here: {e}; finite differences side with matcalc") \
            from None
    raise Failed(f"{e}; finite differences side with autograd") from None


def extended_mixed_difference(case, values, wrt, V, W):
    """<W, H V> by mixed central differences of the reference in extended precision, one
    Richardson step, at two step sizes: (the estimate, how far the two differ)."""
    wide = {k: np.asarray(v, dtype=np.longdouble) for k, v in values.items()}
    f = reference_function(case, wide, wrt, xp=np)
    X = wide[wrt]
    V, W = np.asarray(V, dtype=np.longdouble), np.asarray(W, dtype=np.longdouble)
    h = 1e-4 * max(1.0, float(np.max(np.abs(X))))

    def mixed(step):
        a, b = step / max(1.0, float(np.max(np.abs(V)))), step / max(1.0, float(np.max(np.abs(W))))
        value = (f(X + a * V + b * W) - f(X + a * V - b * W) - f(X - a * V + b * W)
                 + f(X - a * V - b * W))
        return np.longdouble(value) / (4 * a * b)

    def richardson(step):
        return (4 * mixed(step / 2) - mixed(step)) / 3
    coarse, fine = richardson(h), richardson(h / 4)
    return float(fine), float(abs(fine - coarse))


def check_hvp(case, wrt, values, sizes, rng):
    X = values[wrt]
    V = float(rng.standard_normal()) if np.ndim(X) == 0 else rng.standard_normal(np.shape(X))
    fref = reference_function(case, values, wrt)
    f0 = finite(fref(X), "value")
    gradient = autograd.grad(fref)

    def directional(Y):
        return anp.sum(gradient(Y) * V)
    HV_ref = finite(autograd.grad(directional)(X), "Hessian-vector product")
    f = parse(case)
    d = engine("hvp", mc.hvp, f, wrt)
    direction = d.direction.name
    HV = engine("evaluate(hvp)", mc.evaluate, d.result, {**values, direction: V},
                sizes=all_sizes(f, values, sizes))
    try:
        compare(HV, HV_ref, f"Hessian-vector product wrt {wrt} (against autograd)", RTOL,
                gradient_atol(f0, X), matrix_shape(X))
    except Failed as e:
        W = rng.standard_normal(np.shape(X))
        got = float(np.sum(as_float_array(HV).reshape(np.shape(W)) * W))
        settle(e, gradient, X, V, W, got, f0, (case, values, wrt))


def check_codegen(case, wrt, values, sizes, rng):
    expected = finite(reference.evaluate_text(case.text, case.shapes, values), "value")
    gradients = {name: finite(autograd.grad(reference_function(case, values, name))(values[name]),
                              f"gradient wrt {name}") for name in wrt}
    f = parse(case)
    fn = engine("codegen.compile", codegen.compile, f, wrt=list(wrt))
    value, grads = engine("generated code", fn, **values)
    compare(value, expected, "generated value", VALUE_RTOL, atol=1e-12)
    for name in wrt:
        if name not in grads:
            raise Failed(f"wrong value: generated code returns no gradient for {name}")
        if np.shape(grads[name]) != np.shape(values[name]):
            raise Failed(f"wrong shape: generated gradient wrt {name} has shape "
                         f"{np.shape(grads[name])}, the input has {np.shape(values[name])}")
        compare_gradient(grads[name], gradients[name], f"generated gradient wrt {name}",
                         expected, values[name], Differences(case, values, name, expected, rng))


CHECKS = {"value": check_value, "grad": check_grad, "jacobian": check_jacobian,
          "hessian": check_hessian, "hvp": check_hvp, "codegen": check_codegen}


# ---- running one case ---------------------------------------------------------------------------
@contextlib.contextmanager
def time_limit(seconds):
    """Raise CaseTimeout after `seconds` (SIGALRM; a no-op where there is none)."""
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def alarm(signum, frame):
        signal.alarm(1)          # if a callback swallows the exception, ring again in a second
        raise CaseTimeout()
    try:
        previous = signal.signal(signal.SIGALRM, alarm)
    except ValueError:                      # not the main thread
        yield
        return
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check(kind, case, wrt=None, seed=0, seconds=None):
    """Run one check; always returns an Outcome (never raises, except KeyboardInterrupt)."""
    values, sizes = draw_values(case, seed)
    rng = np.random.default_rng([seed, 1])

    def outcome(status, detail=""):
        return Outcome(kind, case, wrt, seed, status, detail)
    try:
        with time_limit(seconds), np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            CHECKS[kind](case, wrt, values, sizes, rng)
    except Refused as e:
        return outcome("refused", str(e))
    except Skip as e:
        return outcome("skipped", str(e))
    except Failed as e:
        return outcome("failed", str(e))
    except CaseTimeout:
        return outcome("failed", f"timeout: more than {seconds} s")
    except reference.TooDeep:
        return outcome("skipped", "too deep for the reference evaluator")
    except reference.NotationError as e:
        return outcome("failed", f"the reference rejects the generated text: {e}")
    except np.linalg.LinAlgError as e:
        return outcome("skipped", f"the reference is singular at this point: {e}")
    except Exception as e:     # noqa: BLE001 - a bug in the checks themselves
        return outcome("failed", f"checker error: {type(e).__name__}: {first_line(e)} "
                                 f"[{traceback.extract_tb(e.__traceback__)[-1].name}]")
    return outcome("passed")


# ---- which variable ----------------------------------------------------------------------------
def candidates(kind, case):
    """The variables a check of this kind may differentiate by: symbols of the text, of the
    right shape (vectors for hessian, vectors and matrices for jacobian)."""
    names = symbols_in(case.text, case.shapes)
    if kind == "hessian":
        return [n for n in names if len(case.shapes[n]) == 1]
    if kind == "jacobian":
        return [n for n in names if len(case.shapes[n]) >= 1]
    return names


def choose_wrt(kind, case, pick):
    """wrt for a kind, from pick(list) -> element; None if the case has no suitable variable."""
    if kind == "value":
        return None
    names = candidates(kind, case)
    if not names:
        return None
    if kind == "grad":
        return names
    if kind == "codegen":
        return names if pick([True, False]) else [pick(names)]
    return pick(names)


# ---- campaigns ----------------------------------------------------------------------------------
@dataclass
class Tally:
    """Counts per kind and status, and the outcomes that failed."""
    counts: dict = field(default_factory=lambda: defaultdict(Counter))
    failures: list = field(default_factory=list)
    refusals: Counter = field(default_factory=Counter)

    def record(self, outcome):
        self.counts[outcome.kind][outcome.status] += 1
        if outcome.status == "failed":
            self.failures.append(outcome)
        elif outcome.status == "refused":
            self.refusals[refusal_class(outcome.detail)] += 1

    def total(self, status=None):
        return sum(c[status] if status else sum(c.values()) for c in self.counts.values())

    def summary(self):
        lines = [f"{'kind':<9} {'cases':>6} {'passed':>7} {'refused':>8} {'skipped':>8} {'failed':>7}"]
        for kind in KINDS:
            c = self.counts.get(kind)
            if c:
                lines.append(f"{kind:<9} {sum(c.values()):>6} {c['passed']:>7} {c['refused']:>8} "
                             f"{c['skipped']:>8} {c['failed']:>7}")
        lines.append(f"{'total':<9} {self.total():>6} {self.total('passed'):>7} "
                     f"{self.total('refused'):>8} {self.total('skipped'):>8} "
                     f"{self.total('failed'):>7}")
        return "\n".join(lines)


def refusal_class(detail):
    """A refusal message without its specifics (columns, names, shapes), for counting."""
    text = re.sub(r"at column \d+", "at column N", detail)
    text = re.sub(r"'[^']*'", "'…'", text)
    return re.sub(r"\b\d+\b", "N", text)


def failure_class(outcome):
    """kind and the failure message without numbers or names: one key per kind of finding."""
    text = re.sub(r"wrt \w+", "wrt X", outcome.detail)
    text = re.sub(r"'\w+'", "'…'", text)
    text = re.sub(r"[-+]?\d[\d.e+-]*", "N", text)
    text = re.sub(r"\(\|got\|.*", "", text)
    return f"{outcome.kind}: {text.strip()}"


def campaign_case(index, seed, kinds=KINDS, max_depth=4):
    """The index-th case of a campaign: (kind, case, wrt, value seed), reproducible alone."""
    rng = random.Random(f"matcalc-trust:{seed}:{index}")
    kind = kinds[index % len(kinds)]
    while True:
        case = random_case(rng, TARGET[kind], max_depth)
        wrt = choose_wrt(kind, case, rng.choice)
        if kind == "value" or wrt is not None:
            return kind, case, wrt, rng.randrange(2 ** 32)


def campaign(cases, seed=1, kinds=KINDS, seconds=20, max_depth=4, report=None):
    """Run `cases` cases of the plain random generator; report(outcome) after each."""
    tally = Tally()
    for index in range(cases):
        kind, case, wrt, value_seed = campaign_case(index, seed, kinds, max_depth)
        outcome = check(kind, case, wrt, value_seed, seconds=seconds)
        tally.record(outcome)
        if report is not None:
            report(index, outcome)
    return tally
