"""Shared numeric helpers for the matcalc tests.

Everything here is float64 and seeded (`np.random.default_rng`), so a failure reproduces.

* `random_sizes(shapes, rng)`          a size 2..5 for every named dimension
* `random_values(shapes, rng, assume)` arrays for every symbol, honouring `assume`
  (`symmetric`, `spd` = B @ B.T / n + I, `invertible`, `positive` = uniform 0.5..1.5, `ones`);
  vectors are n x 1 columns, scalars are Python floats.
* `fd_grad(func, X)`                   central differences with Richardson extrapolation,
  step scaled to the size of X
* `fd_jacobian(F, X)`                  d vec F / d vec X by central differences, column by column
* `directional_check(func, X, G, rng)` sum(G * V) against (f(X + hV) - f(X - hV)) / 2h
* `autograd_grad(f_expr, wrt, values)` the gradient by HIPS autograd of
  `mc.evaluate(f_expr, ..., xp=autograd.numpy)`: an independent derivative of the function
* `assert_gradient(f_expr, wrt, G_expr, values)` the derived gradient against both references
* `assert_close(a, b)`                 relative error on norms, with a floor for near-zero values

Errors are relative on norms: ||a - b|| <= rtol * max(||a||, ||b||) + atol, where the small
absolute floor `atol` covers gradients that are exactly zero (finite differences then return
rounding noise of size eps * |f| / h).
"""
import autograd
import autograd.numpy as anp
import numpy as np

import matcalc as mc
from matcalc.evaluate import dimension_sizes

RTOL = 1e-6
SIZE_RANGE = (2, 5)


# ---- random points ------------------------------------------------------------------------
def dim_names(shapes):
    """The named dimensions of a shapes dict, sorted (integers are fixed sizes)."""
    return sorted({d for shp in shapes.values() for d in shp if isinstance(d, str)})


def random_sizes(shapes, rng, low=SIZE_RANGE[0], high=SIZE_RANGE[1]):
    """dimension name -> size in low..high (inclusive)."""
    return {d: int(rng.integers(low, high + 1)) for d in dim_names(shapes)}


def concrete_shape(shape, sizes):
    """() -> (), (n,) -> (n, 1), (n, m) -> (n, m) with the sizes of the names."""
    r = tuple(sizes[d] if isinstance(d, str) else int(d) for d in shape)
    return r if len(r) != 1 else (r[0], 1)


ELEMENTWISE_KINDS = {
    "normal": lambda rng, shape: rng.standard_normal(shape),
    "ones": lambda rng, shape: np.ones(shape),
    "positive": lambda rng, shape: rng.uniform(0.5, 1.5, shape),
    "negative": lambda rng, shape: -rng.uniform(0.5, 1.5, shape),
    "nonzero": lambda rng, shape: rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape),
    "unit": lambda rng, shape: rng.uniform(-0.8, 0.8, shape),
    "small": lambda rng, shape: 0.3 * rng.standard_normal(shape),
    "large": lambda rng, shape: rng.uniform(20.0, 30.0, shape),
}
ELEMENTWISE_KINDS["real"] = ELEMENTWISE_KINDS["normal"]
ELEMENTWISE_KINDS["above -1"] = ELEMENTWISE_KINDS["positive"]      # a function's domain words


def draw(shape, kind, rng):
    """One float64 value of a concrete shape; `kind` is an assume word (or a function's domain,
    functions.Function.domain), None for standard normal values."""
    kind = kind or "normal"
    if kind in ELEMENTWISE_KINDS:
        v = ELEMENTWISE_KINDS[kind](rng, shape)
    else:
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"assume {kind!r} needs a square matrix, got {shape}")
        n = shape[0]
        g = rng.standard_normal(shape)
        if kind == "symmetric":
            v = 0.5 * (g + g.T)
        elif kind == "spd":
            v = g @ g.T / n + np.eye(n)
        elif kind == "invertible":
            v = g
            while np.linalg.cond(v) > 100:   # invertible and not nearly singular
                v = rng.standard_normal(shape)
        else:
            raise ValueError(f"unknown assume {kind!r}")
    return float(v) if shape == () else np.asarray(v, dtype=np.float64)


def random_values(shapes, rng, assume=None, sizes=None):
    """name -> value for every symbol of `shapes`; returns (values, sizes)."""
    assume = assume or {}
    sizes = sizes if sizes is not None else random_sizes(shapes, rng)
    values = {name: draw(concrete_shape(shp, sizes), assume.get(name), rng)
              for name, shp in shapes.items()}
    return values, sizes


# ---- evaluation ---------------------------------------------------------------------------
def as_array(v, like_shape):
    """An evaluation result as a float64 array of `like_shape` (() for scalars)."""
    a = np.asarray(v, dtype=np.float64)
    if like_shape == ():
        assert a.size == 1, f"expected a scalar, got shape {a.shape}"
        return a.reshape(())
    assert a.size == int(np.prod(like_shape)), f"shape {a.shape} does not fit {like_shape}"
    return a.reshape(like_shape)


def scalar_function(f_expr, wrt, values):
    """X -> float value of the scalar expression with `wrt` replaced by X."""
    def func(x):
        v = mc.evaluate(f_expr, {**values, wrt: x})
        return float(as_array(v, ()))
    return func


def assert_close(actual, expected, rtol=RTOL, atol=0.0, what=""):
    """||actual - expected|| <= rtol * max(||actual||, ||expected||) + atol."""
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} != {b.shape}"
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(b)), f"{what}: non-finite values"
    err = np.linalg.norm(a - b)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    assert err <= rtol * scale + atol, (
        f"{what}: relative error {err / max(scale, 1e-300):.3e} (abs {err:.3e}, "
        f"norm {scale:.3e})\nactual=\n{a}\nexpected=\n{b}")


# ---- references ---------------------------------------------------------------------------
def fd_step(X):
    """A central-difference step scaled to the input."""
    return 2e-4 * max(1.0, float(np.max(np.abs(X))) if np.size(X) else 1.0)


def richardson(d, h):
    """Two Richardson steps on central differences d(h), d(h/2), d(h/4): error O(h**6)."""
    d1, d2, d4 = d(h), d(h / 2), d(h / 4)
    return (64 * d4 - 20 * d2 + d1) / 45


def fd_grad(func, X, h=None):
    """Elementwise central differences of scalar `func` at X, Richardson-extrapolated."""
    X = np.asarray(X, dtype=np.float64)
    h = fd_step(X) if h is None else h
    G = np.zeros(X.shape)
    for idx in np.ndindex(*X.shape):
        def d(hh):
            xp, xm = X.copy(), X.copy()
            xp[idx] += hh
            xm[idx] -= hh
            return (func(xp if X.shape else float(xp)) - func(xm if X.shape else float(xm))) / (2 * hh)
        G[idx] = richardson(d, h)
    return G


def directional_derivative(func, X, V, h=None, extrapolate=True):
    """(f(X + hV) - f(X - hV)) / 2h, Richardson-extrapolated (or not: a tiny step across
    functions with kinks, where extrapolation would amplify rounding)."""
    X = np.asarray(X, dtype=np.float64)
    h = fd_step(X) / max(1.0, float(np.max(np.abs(V)))) if h is None else h

    def d(hh):
        xp, xm = X + hh * V, X - hh * V
        if X.shape == ():
            xp, xm = float(xp), float(xm)
        return (func(xp) - func(xm)) / (2 * hh)
    return richardson(d, h) if extrapolate else d(h)


def fd_jacobian(F, X, h=1e-5):
    """J with vec F(X + E) = vec F(X) + J @ vec(E): Richardson-extrapolated central differences
    of vec F (columns stacked) along each unit direction of vec X."""
    X = np.asarray(X, dtype=np.float64)
    columns = []
    for k in range(X.size):
        E = np.zeros(X.size)
        E[k] = 1.0
        E = np.reshape(E, X.shape, order="F")

        def d(step):
            plus = np.reshape(np.asarray(F(X + step * E), dtype=float), -1, order="F")
            minus = np.reshape(np.asarray(F(X - step * E), dtype=float), -1, order="F")
            return (plus - minus) / (2 * step)
        columns.append((4 * d(h / 2) - d(h)) / 3)
    return np.stack(columns, axis=1)


def directional_check(func, X, G, rng, rtol=RTOL, atol=0.0):
    """Random direction V: sum(G * V) equals the directional derivative of func at X."""
    X = np.asarray(X, dtype=np.float64)
    V = rng.standard_normal(X.shape)
    lhs = float(np.sum(np.asarray(G) * V))
    rhs = directional_derivative(func, X, V)
    scale = np.linalg.norm(G) * np.linalg.norm(V)
    assert abs(lhs - rhs) <= rtol * max(scale, abs(rhs)) + atol, (
        f"inner-product check: sum(G*V) = {lhs!r}, FD = {rhs!r}")


def autograd_grad(f_expr, wrt, values):
    """Gradient of the scalar expression by autograd through `mc.evaluate(xp=autograd.numpy)`."""
    X = values[wrt]
    X = float(X) if np.ndim(X) == 0 else np.asarray(X, dtype=np.float64)

    def func(x):
        return mc.evaluate(f_expr, {**values, wrt: x}, xp=anp)
    return np.asarray(autograd.grad(func)(X), dtype=np.float64)


# ---- the one-call check -------------------------------------------------------------------
def assert_gradient(f_expr, wrt_name, G_expr, values, rtol=RTOL, rng=None):
    """The gradient expression `G_expr` of the scalar `f_expr` wrt `wrt_name` at `values` equals
    elementwise finite differences, the random-direction inner-product check and autograd.

    Vectors in `values` may be 1-D or n x 1; everything is compared as float64 arrays of the
    variable's shape (denominator layout: the gradient has the shape of the variable)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    X = values[wrt_name]
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    values = {**values, wrt_name: float(X) if X.shape == () else X}
    func = scalar_function(f_expr, wrt_name, values)
    f0 = func(values[wrt_name])
    G = as_array(mc.evaluate(G_expr, values, sizes=dimension_sizes(f_expr, values)), X.shape)
    # rounding noise of central differences is about eps * |f| / h per entry
    atol = 1e-9 * (1.0 + abs(f0)) * max(1.0, float(np.size(X))) ** 0.5
    fd = fd_grad(func, X)
    assert_close(G, fd, rtol, atol, what="gradient vs finite differences")
    directional_check(func, X, G, rng, rtol, atol)
    ag = as_array(autograd_grad(f_expr, wrt_name, values), X.shape)
    assert_close(G, ag, rtol, 1e-12 * (1.0 + abs(f0)), what="gradient vs autograd")


# ---- LaTeX --------------------------------------------------------------------------------
def braces_balanced(tex):
    """Whether the braces of a LaTeX string (escaped \\{ \\} aside) close in order."""
    depth = 0
    for c in tex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0
