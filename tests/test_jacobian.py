"""Jacobians, Hessians and HVPs (matcalc/derive/second_order.py), each checked against two references:
central finite differences of the function (or of its gradient) and HIPS autograd's
jacobian/hessian of the same expression evaluated with xp=autograd.numpy. float64, rtol 1e-6,
random sizes from a seeded generator.
"""
import json
import os

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import matcalc as mc
from checks import fd_jacobian, random_values
from matcalc import JacobianError, hessian, hvp, jacobian

RTOL = 1e-6


def load_public():
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.path.join(here, "data", "public.json"), "/work/shared/corpus/public.json"):
        if os.path.exists(path):
            with open(path) as fh:
                return json.load(fh)
    return {}


PUBLIC = load_public()


# ---- drawing inputs -----------------------------------------------------------------------------
def draw_values(expr, shapes, assume, rng):
    """name -> array, sizes random in 2..5 per dimension name, honouring `assume`."""
    return random_values(shapes, rng, assume)[0]


def function_of(expr, values, wrt, xp=np):
    def f(v):
        return mc.evaluate(expr, {**values, wrt: v}, xp=xp)
    return f


def central_jacobian(f, x, h=1e-5):
    """Central differences, Richardson-extrapolated (checks.fd_jacobian)."""
    return fd_jacobian(f, x, h)


def assert_close(actual, expected, what):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(np.abs(expected).max(), 1.0)
    err = np.abs(actual - expected).max() / scale
    assert err < RTOL, f"{what}: relative error {err:.2e}"


def check_jacobian(text, shapes, wrt, assume=None, seed=0, trials=2):
    shapes = {k: tuple(v) for k, v in shapes.items()}
    f = mc.parse(text, shapes)
    J = jacobian(f, wrt).result
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        values = draw_values(f, shapes, assume or {}, rng)
        x = values[wrt]
        got = np.asarray(mc.evaluate(J, values), float)
        fd = central_jacobian(function_of(f, values, wrt), x)
        assert_close(got, fd, f"jacobian of {text} vs finite differences")
        auto = autograd.jacobian(function_of(f, values, wrt, anp))(x)
        assert_close(got, np.reshape(auto, got.shape), f"jacobian of {text} vs autograd")
    return J


def check_hessian(text, shapes, wrt, assume=None, seed=0, trials=2):
    shapes = {k: tuple(v) for k, v in shapes.items()}
    f = mc.parse(text, shapes)
    H = hessian(f, wrt).result
    g = mc.grad(f, wrt).result
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        values = draw_values(f, shapes, assume or {}, rng)
        x = values[wrt]
        got = np.asarray(mc.evaluate(H, values), float)
        fd = central_jacobian(function_of(g, values, wrt), x)   # differences of the gradient
        assert_close(got, fd, f"hessian of {text} vs finite differences of the gradient")
        auto = autograd.hessian(function_of(f, values, wrt, anp))(x)
        assert_close(got, np.reshape(auto, got.shape), f"hessian of {text} vs autograd")
    return H


def check_hvp(text, shapes, wrt, assume=None, seed=0, trials=2):
    shapes = {k: tuple(v) for k, v in shapes.items()}
    f = mc.parse(text, shapes)
    d = hvp(f, wrt)
    HV, V = d.result, d.direction
    g = mc.grad(f, wrt).result
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        values = draw_values(f, shapes, assume or {}, rng)
        X = values[wrt]
        direction = rng.standard_normal(X.shape)
        got = np.asarray(mc.evaluate(HV, {**values, V.name: direction}), float)
        G = function_of(g, values, wrt)
        h = 1e-5
        fd = (4 * (G(X + h / 2 * direction) - G(X - h / 2 * direction)) / h
              - (G(X + h * direction) - G(X - h * direction)) / (2 * h)) / 3
        assert_close(got, fd, f"hvp of {text} vs finite differences of the gradient")
        fa = function_of(f, values, wrt, anp)
        auto = autograd.grad(lambda X_: anp.sum(autograd.grad(fa)(X_) * direction))(X)
        assert_close(got, auto, f"hvp of {text} vs autograd")
    return HV


# ---- the public corpus --------------------------------------------------------------------------
@pytest.mark.parametrize("entry", PUBLIC.get("jacobians", []), ids=lambda e: e["id"])
def test_public_jacobians(entry):
    check_jacobian(entry["expr"], entry["shapes"], entry["wrt"], entry.get("assume"))


@pytest.mark.parametrize("entry", PUBLIC.get("hessians", []), ids=lambda e: e["id"])
def test_public_hessians(entry):
    check_hessian(entry["expr"], entry["shapes"], entry["wrt"], entry.get("assume"))


# ---- Jacobians: Matrix Cookbook and classic models ----------------------------------------------
V = ["n"]
JACOBIANS = [
    # id, expression, shapes, wrt, assume
    ("cookbook-69-linear", "A@x", {"A": ["m", "n"], "x": V}, "x", None),
    ("cookbook-affine", "A@x + b", {"A": ["m", "n"], "x": V, "b": ["m"]}, "x", None),
    ("cookbook-quadratic-vector", "x.T@A@x*b", {"A": ["n", "n"], "x": V, "b": ["m"]}, "x", None),
    ("tanh-layer", "tanh(A@x)", {"A": ["m", "n"], "x": V}, "x", None),
    ("sigmoid-layer-bias", "sigmoid(W@x + b)", {"W": ["m", "n"], "x": V, "b": ["m"]}, "x", None),
    ("two-layer-tanh", "W2@tanh(W1@x)", {"W1": ["h", "n"], "W2": ["m", "h"], "x": V}, "x", None),
    ("two-layer-wrt-bias", "W2@sigmoid(W1@x + b)", {"W1": ["h", "n"], "W2": ["m", "h"],
                                                    "x": V, "b": ["h"]}, "b", None),
    ("softmax", "softmax(x)", {"x": V}, "x", None),
    ("softmax-of-linear", "softmax(W@x)", {"W": ["m", "n"], "x": V}, "x", None),
    ("hadamard-self", "x*sin(x)", {"x": V}, "x", None),
    ("elementwise-sqrt", "sqrt(x)", {"x": V}, "x", {"x": "positive"}),
    ("elementwise-log-exp", "log(1 + exp(x))", {"x": V}, "x", None),
    ("scaled-by-norm", "x/norm(x)", {"x": V}, "x", None),
    ("scaled-by-inner", "(a.T@x)*x", {"a": V, "x": V}, "x", None),
    ("outer-product-applied", "x@x.T@a", {"a": V, "x": V}, "x", None),
    ("diag-of-outer", "diag(x@x.T)", {"x": V}, "x", None),
    ("diag-of-sandwich", "diag(A@diag(x)@B)", {"A": ["n", "n"], "B": ["n", "n"], "x": V}, "x",
     None),
    ("diag-times-matrix", "diag(x)@A@x", {"A": ["n", "n"], "x": V}, "x", None),
    ("cookbook-59-inverse", "inv(A + x@x.T)@b", {"A": ["n", "n"], "x": V, "b": V}, "x",
     {"A": "spd"}),
    ("hadamard-matrix", "(A*(x@x.T))@b", {"A": ["n", "n"], "x": V, "b": V}, "x", None),
    ("transpose-applied", "A@(x@b.T).T@c", {"A": ["m", "k"], "x": V, "b": ["k"], "c": V}, "x",
     None),
    ("gradient-of-logsumexp", "softmax(A@x) - y", {"A": ["m", "n"], "x": V, "y": ["m"]}, "x",
     None),
    ("scalar-coefficient-sum", "sum(x)*x + tr(A)*x", {"x": V, "A": ["m", "m"]}, "x", None),
    ("rational", "A@x/(1 + x.T@x)", {"A": ["m", "n"], "x": V}, "x", None),
    ("power", "x**3 - 2*x", {"x": V}, "x", None),
]


@pytest.mark.parametrize("case", JACOBIANS, ids=[c[0] for c in JACOBIANS])
def test_jacobian_identities(case):
    _, text, shapes, wrt, assume = case
    check_jacobian(text, shapes, wrt, assume)


def test_jacobian_human_forms():
    shapes = {"A": ("m", "n"), "x": ("n",)}
    assert mc.to_text(jacobian(mc.parse("A@x", shapes), "x").result) == "A"
    assert mc.to_text(jacobian(mc.parse("tanh(A@x)", shapes), "x").result) == \
        "diag(1 - tanh(A@x)**2)@A"


# ---- Hessians -----------------------------------------------------------------------------------
HESSIANS = [
    ("cookbook-81-quadratic", "x.T@A@x", {"x": V, "A": ["n", "n"]}, "x", None),
    ("cookbook-84-least-squares", "(A@x - b).T@(A@x - b)", {"A": ["m", "n"], "x": V,
                                                           "b": ["m"]}, "x", None),
    ("least-squares-norm", "norm(X@w - y)**2", {"X": ["N", "d"], "w": ["d"], "y": ["N"]}, "w",
     None),
    ("ridge", "sum((X@w - y)**2) + 3*w.T@w", {"X": ["N", "d"], "w": ["d"], "y": ["N"]}, "w",
     None),
    ("logistic-regression", "sum(log(1 + exp(X@w))) - y.T@X@w",
     {"X": ["N", "d"], "w": ["d"], "y": ["N"]}, "w", None),
    ("logistic-softplus", "sum(softplus(X@w)) - y.T@X@w", {"X": ["N", "d"], "w": ["d"],
                                                           "y": ["N"]}, "w", None),
    ("softmax-regression", "logsumexp(W@x) - y.T@W@x", {"W": ["C", "n"], "x": V, "y": ["C"]},
     "x", None),
    ("logsumexp", "logsumexp(x)", {"x": V}, "x", None),
    ("gaussian-loglik-mean", "-0.5*(x - mu).T@inv(S)@(x - mu)", {"x": V, "mu": V,
                                                                 "S": ["n", "n"]}, "mu",
     {"S": "spd"}),
    ("cookbook-quartic", "(x.T@x)**2", {"x": V}, "x", None),
    ("norm", "norm(x - a)", {"x": V, "a": V}, "x", None),
    ("log-barrier-linear", "-sum(log(b - A@x))", {"A": ["m", "n"], "x": V, "b": ["m"]}, "x",
     {"A": "small", "x": "small", "b": "positive"}),
    ("tanh-sum", "sum(tanh(A@x))", {"A": ["m", "n"], "x": V}, "x", None),
    ("exp-quadratic", "exp(-x.T@x/2)", {"x": V}, "x", None),
    ("rayleigh-numerator-ratio", "x.T@A@x/(x.T@x)", {"x": V, "A": ["n", "n"]}, "x", None),
    ("cookbook-logdet-diag", "logdet(A + diag(x))", {"A": ["n", "n"], "x": V}, "x",
     {"A": "spd", "x": "positive"}),
    ("inverse-quadratic", "b.T@inv(A + diag(x))@b", {"A": ["n", "n"], "x": V, "b": V}, "x",
     {"A": "spd", "x": "positive"}),
    ("small-network", "sum((W2@tanh(W1@x) - y)**2)", {"W1": ["h", "n"], "W2": ["m", "h"],
                                                      "x": V, "y": ["m"]}, "x", None),
    ("entropy", "sum(x*log(x))", {"x": V}, "x", {"x": "positive"}),
]


@pytest.mark.parametrize("case", HESSIANS, ids=[c[0] for c in HESSIANS])
def test_hessian_identities(case):
    _, text, shapes, wrt, assume = case
    check_hessian(text, shapes, wrt, assume)


def test_hessian_human_forms():
    text = mc.to_text
    shapes = {"x": ("n",), "A": ("n", "n"), "a": ("n",)}
    assert text(hessian(mc.parse("x.T@A@x", shapes), "x").result) == "A + A.T"
    assert text(hessian(mc.parse("(a.T@x)**2", shapes), "x").result) == "2*(a@a.T)"
    logistic = mc.parse("sum(log(1 + exp(X@w))) - y.T@X@w",
                        {"X": ("N", "d"), "w": ("d",), "y": ("N",)})
    assert text(hessian(logistic, "w").result) == \
        "X.T@diag(sigmoid(X@w)*(1 - sigmoid(X@w)))@X"


def test_hessian_of_linear_is_zero():
    f = mc.parse("a.T@x", {"a": ("n",), "x": ("n",)})
    assert mc.to_text(hessian(f, "x").result) == "0*ones(n, n)"


# ---- Hessian-vector products --------------------------------------------------------------------
HVPS = [
    ("logdet", "logdet(X)", {"X": ["n", "n"]}, "X", {"X": "spd"}),
    ("cookbook-trace-quadratic", "tr(X.T@A@X)", {"X": ["n", "m"], "A": ["n", "n"]}, "X", None),
    ("trace-inverse", "tr(inv(X)@A)", {"X": ["n", "n"], "A": ["n", "n"]}, "X", {"X": "spd"}),
    ("frobenius-least-squares", "sum((A@X@B - C)**2)", {"A": ["p", "n"], "X": ["n", "m"],
                                                        "B": ["m", "q"], "C": ["p", "q"]},
     "X", None),
    ("seed-network-W1", "sum((relu(X@W1)@W2 - Y)**2)", {"X": ["N", "D"], "W1": ["D", "H"],
                                                        "W2": ["H", "K"], "Y": ["N", "K"]},
     "W1", None),
    ("softmax-regression-matrix", "sum(logsumexp(X@W)) - tr(Y.T@X@W)",
     {"X": ["N", "D"], "W": ["D", "C"], "Y": ["N", "C"]}, "W", None),
    ("vector-logistic", "sum(log(1 + exp(X@w)))", {"X": ["N", "d"], "w": ["d"]}, "w", None),
]


@pytest.mark.parametrize("case", HVPS, ids=[c[0] for c in HVPS])
def test_hvp_identities(case):
    _, text, shapes, wrt, assume = case
    check_hvp(text, shapes, wrt, assume)


def test_hvp_logdet_form():
    d = hvp(mc.parse("logdet(X)", {"X": ("n", "n")}), "X")
    assert mc.to_text(d.result) == "-(inv(X)@V@inv(X)).T"
    assert d.kind == "hvp" and d.direction.shape == d.variables[0].shape


def test_hvp_direction_avoids_user_names():
    d = hvp(mc.parse("tr(V@X.T@X)", {"V": ("n", "n"), "X": ("m", "n")}), "X")
    assert d.direction.name != "V"


# ---- records and errors -------------------------------------------------------------------------
def test_derivation_record():
    f = mc.parse("tanh(A@x)", {"A": ("m", "n"), "x": ("n",)})
    d = jacobian(f, "x")
    assert d.kind == "jacobian" and set(d.results) == {"x"}
    assert any("diag" in s.identity for s in d.steps)
    assert hessian(mc.parse("x.T@x", {"x": ("n",)}), "x").kind == "hessian"


@pytest.mark.parametrize("text, shapes, wrt, expected", [
    # a scalar f has the 1 x n row J = g.T (df = J@dx), and a 1 x 1 f (A 1 x n) is one
    ("x.T@x", {"x": ("n",)}, "x", "2*x.T"),
    ("A@x", {"A": (1, "n"), "x": ("n",)}, "x", "A"),
    ("sum(exp(x))", {"x": ("n",)}, "x", "exp(x).T"),
    ("exp(x)", {"x": (1,)}, "x", "exp(x)*ones(1)"),
    # of a matrix: the row vec(G).T, d f = vec(G).T@vec(dX)
    ("tr(X@A)", {"X": ("n", "m"), "A": ("m", "n")}, "X", "vec(A.T).T"),
])
def test_jacobian_of_a_scalar_is_the_transposed_gradient(text, shapes, wrt, expected):
    f = mc.parse(text, shapes)
    d = jacobian(f, wrt)
    assert d.kind == "jacobian" and mc.to_text(d.result) == expected
    assert d.check().ok, d.check()
    assert [s.rule for s in d.steps][-1] == "read off J"


def test_jacobian_with_respect_to_a_scalar_is_an_error():
    f = mc.parse("x*a", {"x": ("n",), "a": ()})
    with pytest.raises(JacobianError, match="use grad"):
        jacobian(f, "a")


def test_hessian_wrt_matrix_suggests_hvp():
    f = mc.parse("tr(X.T@X)", {"X": ("n", "m")})
    with pytest.raises(JacobianError, match="hvp"):
        hessian(f, "X")


def test_hessian_of_vector_is_an_error():
    f = mc.parse("A@x", {"A": ("m", "n"), "x": ("n",)})
    with pytest.raises(JacobianError, match="scalar"):
        hessian(f, "x")


def test_unknown_variable():
    f = mc.parse("A@x", {"A": ("m", "n"), "x": ("n",)})
    with pytest.raises(mc.MatcalcError, match="does not occur"):
        jacobian(f, "z")
