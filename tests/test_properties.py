"""Property tests: random well-shaped expressions in the text notation.

`expressions()` is a hypothesis @composite strategy that builds the text of a scalar expression
(depth <= 3) with shape bookkeeping: every subexpression is generated for a target shape
(rows, cols) with rows, cols in {1, n, m}. Values stay in the domain: log and sqrt only of
`1 + E**2`, exp only of a bounded `sin(E)`/`tanh(E)`, inv and logdet only of `B@B.T + c*eye(k)`,
division only by `E**2 + 1`.

Properties: the derived gradient equals finite differences and autograd; `parse(to_text(e)) == e`
structurally, for the function and for its gradient.
"""
import re

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import matcalc as mc
from matcalc.core.nodes import AsScalar
from checks import assert_gradient, random_values

SHAPES = {
    "a": (), "c": (),
    "x": ("n",), "y": ("n",), "v": ("m",),
    "A": ("n", "n"), "B": ("n", "n"), "X": ("n", "m"), "M": ("m", "m"),
}
# (rows, cols) -> texts of that shape at depth 0
LEAVES = {
    ("1", "1"): ["a", "c", "(x.T@y)", "2", "0.5"],
    ("n", "1"): ["x", "y"], ("1", "n"): ["x.T", "y.T"],
    ("m", "1"): ["v"], ("1", "m"): ["v.T"],
    ("n", "n"): ["A", "B", "A.T"], ("m", "m"): ["M", "M.T"],
    ("n", "m"): ["X"], ("m", "n"): ["X.T"],
}
DIMS = ("n", "m")
FUNCTION_NAMES = {"tr", "det", "logdet", "inv", "sum", "norm", "exp", "log", "sin", "cos", "tanh",
                  "sigmoid", "relu", "softplus", "sqrt", "abs", "step", "sign", "softmax",
                  "logsumexp", "diag", "eye", "ones", "n", "m"}
SMOOTH = ["sin", "cos", "tanh", "sigmoid", "softplus"]


def gen(draw, shape, depth):
    """Text of an expression of `shape` = (rows, cols), at most `depth` levels deep."""
    r, c = shape
    scalar = shape == ("1", "1")
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(LEAVES[shape]))
    sub = lambda s: gen(draw, s, depth - 1)    # noqa: E731
    kinds = ["add", "sub", "hadamard", "scale", "matmul", "transpose", "smooth", "exp", "log",
             "sqrt", "power", "divide", "neg"]
    if scalar:
        kinds += ["tr", "sum", "norm2", "logdet", "trinv", "logsumexp", "bilinear", "det"]
    if r == c and r != "1":
        kinds += ["inv", "diag_matrix"]
    if c == "1" and r != "1":
        kinds += ["softmax", "diag_vector"]
    if r != "1" and c != "1":
        kinds += ["relu_square"]
    kind = draw(st.sampled_from(kinds))
    k = draw(st.sampled_from(DIMS))
    if kind == "add":
        return f"{sub(shape)} + {sub(shape)}"
    if kind == "sub":
        return f"{sub(shape)} - ({sub(shape)})"
    if kind == "neg":
        return f"-({sub(shape)})"
    if kind == "hadamard":
        return f"({sub(shape)})*({sub(shape)})"
    if kind == "scale":
        return f"({sub(('1', '1'))})*({sub(shape)})"
    if kind == "matmul":
        return f"({sub((r, k))})@({sub((k, c))})"
    if kind == "transpose":
        return f"({sub((c, r))}).T"
    if kind == "smooth":
        return f"{draw(st.sampled_from(SMOOTH))}({sub(shape)})"
    if kind == "exp":
        return f"exp({draw(st.sampled_from(['sin', 'tanh']))}({sub(shape)}))"
    if kind == "log":
        return f"log(1 + ({sub(shape)})**2)"
    if kind == "sqrt":
        return f"sqrt(({sub(shape)})**2 + 1)"
    if kind == "power":
        return f"({sub(shape)})**{draw(st.sampled_from(['2', '3']))}"
    if kind == "divide":
        return f"({sub(shape)})/(({sub(shape)})**2 + 1)"
    if kind == "relu_square":
        # relu of a square keeps FD away from the kink except where the argument is exactly 0
        return f"relu(({sub(shape)})**2 + 0.5)*({sub(shape)})"
    if kind == "tr":
        return f"tr({sub((k, k))})"
    if kind == "sum":
        return f"sum({sub(draw(st.sampled_from(list(LEAVES))))})"
    if kind == "norm2":
        return f"norm({sub(draw(st.sampled_from(list(LEAVES))))})**2"
    if kind == "logdet":
        return f"logdet(({sub((k, 'n'))})@({sub((k, 'n'))}).T + eye({k}))"
    if kind == "det":
        return f"det(0.3*({sub((k, k))}) + eye({k}))*0 + det(({sub((k, 'm'))})@({sub((k, 'm'))}).T + eye({k}))"
    if kind == "trinv":
        b = sub((k, "m"))
        return f"tr(inv(({b})@({b}).T + 2*eye({k}))@({sub((k, k))}))"
    if kind == "logsumexp":
        return f"logsumexp({sub((k, '1'))})"
    if kind == "bilinear":
        return f"({sub(('1', k))})@({sub((k, k))})@({sub((k, '1'))})"
    if kind == "inv":
        b = sub((r, "n"))
        return f"inv(({b})@({b}).T + eye({r}))"
    if kind == "diag_matrix":
        return f"diag({sub((r, '1'))})"
    if kind == "diag_vector":
        return f"diag({sub((r, r))})"
    if kind == "softmax":
        return f"softmax({sub(shape)})"
    raise AssertionError(kind)


@st.composite
def expressions(draw, max_depth=3):
    """(text of a scalar expression, a symbol occurring in it, a seed for the values)."""
    text = gen(draw, ("1", "1"), draw(st.integers(1, max_depth)))
    names = sorted(set(re.findall(r"[A-Za-z_]\w*", text)) - FUNCTION_NAMES - {"T"})
    assume(names)
    wrt = draw(st.sampled_from(names))
    seed = draw(st.integers(0, 2**32 - 1))
    return text, wrt, seed


SETTINGS = settings(deadline=None, max_examples=40, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def derive(text, wrt):
    f = mc.parse(text, SHAPES)
    try:
        d = mc.grad(f, wrt)
    except mc.NotDifferentiableError:
        # the variable cancelled out (e.g. x - (x)); nothing to check
        assume(False)
    return f, d


@SETTINGS
@given(expressions())
def test_gradient_matches_finite_differences_and_autograd(case):
    text, wrt, seed = case
    f, d = derive(text, wrt)
    rng = np.random.default_rng(seed)
    values, _ = random_values(SHAPES, rng)
    f0 = mc.evaluate(f, values)
    assume(np.all(np.isfinite(np.asarray(f0, dtype=float))))
    assume(abs(float(f0)) < 1e8)
    assert_gradient(f, wrt, d.result, values, rng=rng)


@SETTINGS
@given(expressions())
def test_text_round_trip_of_function(case):
    text, _, _ = case
    e = mc.parse(text, SHAPES)
    printed = mc.to_text(e)
    assert mc.parse(printed, SHAPES) == e, printed


@SETTINGS
@given(expressions())
def test_text_round_trip_of_gradient(case):
    text, wrt, _ = case
    _, d = derive(text, wrt)
    printed = mc.to_text(d.result)
    back = unwrap(mc.parse(printed, SHAPES))
    if back != unwrap(d.result) and not getattr(back, "is_Matrix", False):
        # SymPy distributes a number over a sum when it rebuilds a scalar product, 2*(a + 2)
        # -> 2*a + 4 (the known round-trip imperfection): the same value, another structure
        assert sp.expand(back - unwrap(d.result)) == 0, printed
        return
    assert back == unwrap(d.result), printed


def unwrap(e):
    return e.args[0] if isinstance(e, AsScalar) else e


def test_scalar_gradient_round_trip():
    shapes = {"a": (), "v": ("m",)}
    r = mc.grad(mc.parse("(v.T@v)*a", shapes), "a").result
    assert mc.parse(mc.to_text(r), shapes) == r
