"""Generated NumPy code for Jacobians, Hessians and HVPs (codegen/derived.py).

For every Jacobian and Hessian of tests/data/public.json and a list of classic objectives, the
generated function equals (1) the derived result evaluated independently by mc.evaluate and
(2) HIPS autograd's jacobian / hessian (hessian_vector_product for an HVP) of the function
itself, evaluated through mc.evaluate(f, values, xp=autograd.numpy). float64, rtol 1e-6, random
sizes from a seeded generator. Then the shape of the source (no diag / eye / ones arrays, one
product for the logistic Hessian, a shared sigmoid) and the checks at the boundary.
"""
import json
import pathlib

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import codegen
import matcalc as mc
from checks import random_values

RTOL = 1e-6
PUBLIC = json.loads((pathlib.Path(__file__).parent / "data" / "public.json").read_text())

V = ["n"]
EXTRA = [
    # (id, kind, expr, shapes, wrt, assume)
    ("least-squares", "hessian", "sum((X@w - y)**2)", {"X": ["N", "d"], "w": ["d"], "y": ["N"]},
     "w", {}),
    ("ridge", "hessian", "sum((X@w - y)**2) + lam*w.T@w",
     {"X": ["N", "d"], "w": ["d"], "y": ["N"], "lam": None}, "w", {"lam": "positive"}),
    ("quadratic-form", "hessian", "x.T@A@x", {"x": V, "A": ["n", "n"]}, "x", {}),
    ("logistic", "hessian", "sum(log(1 + exp(X@w))) - y.T@X@w",
     {"X": ["N", "d"], "w": ["d"], "y": ["N"]}, "w", {}),
    ("softmax-regression", "hessian", "logsumexp(W@x) - y.T@W@x",
     {"W": ["C", "n"], "x": V, "y": ["C"]}, "x", {}),
    ("log-barrier", "hessian", "-sum(log(b - A@x))", {"A": ["m", "n"], "x": V, "b": ["m"]}, "x",
     {"b": "large"}),
    ("logdet-hvp", "hvp", "logdet(X)", {"X": ["n", "n"]}, "X", {"X": "spd"}),
    ("trace-quadratic-hvp", "hvp", "tr(X.T@A@X)", {"X": ["n", "m"], "A": ["n", "n"]}, "X", {}),
    ("logistic-hvp-X", "hvp", "sum(log(1 + exp(X@w))) - y.T@X@w",
     {"X": ["N", "d"], "w": ["d"], "y": ["N"]}, "X", {}),
    ("logistic-hvp-w", "hvp", "sum(log(1 + exp(X@w))) - y.T@X@w",
     {"X": ["N", "d"], "w": ["d"], "y": ["N"]}, "w", {}),
    ("tanh-layer", "jacobian", "tanh(A@x)", {"A": ["m", "n"], "x": V}, "x", {}),
    ("relu-network", "jacobian", "W@relu(V@x)", {"W": ["p", "m"], "V": ["m", "n"], "x": V}, "x",
     {}),
    ("sigmoid-layer", "jacobian", "sigmoid(A@x + b)", {"A": ["m", "n"], "x": V, "b": ["m"]}, "x",
     {}),
    ("softmax", "jacobian", "softmax(x)", {"x": V}, "x", {}),
    ("linear", "jacobian", "A@x", {"A": ["m", "n"], "x": V}, "x", {}),
    # the HVP with respect to a scalar is a scalar (fuzz: derived.py read the scalar's .shape)
    ("scalar-hvp", "hvp", "sum(exp(a*x)) + a**3", {"a": None, "x": V}, "a", {}),
    # a diagonal term whose coefficient reads a named value, 1/sqrt(...) (fuzz: NameError t2)
    ("named-diagonal-coefficient", "hessian", "sqrt((v * v).T@R@(v * v))",
     {"R": ["n", "n"], "v": V}, "v", {"R": "spd"}),
    # a helper (_sigmoid) read only by a diagonal term (fuzz: NameError _sigmoid)
    ("helper-in-a-diagonal-term", "jacobian", "v.T@b*softplus(b)", {"b": V, "v": V}, "b", {}),
    # 1 - 4*v**2 printed as 1 - t4, t4 = 4*v**2 defined later for a diagonal term
    # (fuzz: UnboundLocalError t4)
    ("read-before-defined", "hessian", "sum((v.T / 17) @ M.T @ (v / ((v + v)**2 + 1)))",
     {"M": ["n", "n"], "v": V}, "v", {}),
]

CASES = [(c["id"], "jacobian", c["expr"], c["shapes"], c["wrt"], c.get("assume") or {})
         for c in PUBLIC["jacobians"]] + \
        [(c["id"], "hessian", c["expr"], c["shapes"], c["wrt"], c.get("assume") or {})
         for c in PUBLIC["hessians"]] + EXTRA


def shapes_of(shapes):
    return {k: (tuple(v) if v is not None else None) for k, v in shapes.items()}


def derive(kind, text, shapes, wrt):
    f = mc.parse(text, shapes_of(shapes))
    return f, {"jacobian": mc.jacobian, "hessian": mc.hessian, "hvp": mc.hvp}[kind](f, wrt)


def draw(shapes, assume, rng):
    """name -> array; vectors drawn as 1-D arrays (the caller's usual shape)."""
    values, _ = random_values({k: (v if v is not None else ()) for k, v in shapes.items()}, rng,
                              {k: ("positive" if v is None else assume.get(k)) for k, v in shapes.items()})
    return {k: (v[:, 0] if np.ndim(v) == 2 and shapes[k] is not None and len(shapes[k]) == 1 else v)
            for k, v in values.items()}


def close(actual, expected, what):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(np.abs(expected).max(), 1.0)
    err = np.abs(actual - expected).max() / scale
    assert err < RTOL, f"{what}: relative error {err:.2e}"


def autograd_reference(kind, f, values, wrt, direction=None):
    x = values[wrt]

    def fun(v):
        return mc.evaluate(f, {**values, wrt: v}, xp=anp)
    if kind == "jacobian":
        return autograd.jacobian(fun)(x)
    if kind == "hessian":
        return autograd.hessian(fun)(x)
    return autograd.hessian_vector_product(fun)(x, direction)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_generated_equals_evaluate_and_autograd(case):
    cid, kind, text, shapes, wrt, assume = case
    f, d = derive(kind, text, shapes, wrt)
    fn = codegen.compile(d)
    assert f"def {kind}(" in fn.source
    rng = np.random.default_rng(sum(map(ord, cid)))
    for _ in range(2):
        values = draw(shapes, assume, rng)
        args = dict(values)
        x = values[wrt]
        direction = None
        if kind == "hvp":
            direction = rng.standard_normal(np.shape(x))
            args[d.direction.name] = direction
        got = fn(**args)
        assert isinstance(got, np.ndarray) and got.dtype == np.float64
        derived = np.asarray(mc.evaluate(d.result, {**values, **args}), float)
        auto = np.asarray(autograd_reference(kind, f, values, wrt, direction), float)
        if kind == "hvp":
            assert got.shape == np.shape(x)              # the caller's shape of the variable
            derived = derived.reshape(got.shape)
        else:
            n = np.size(x)
            p = n if kind == "hessian" else np.size(mc.evaluate(f, values))
            assert got.shape == (p, n)
            auto = auto.reshape(p, n)
        close(got, derived, f"{cid}: generated vs mc.evaluate")
        close(got, auto, f"{cid}: generated vs autograd")


def test_gradient_derivation_is_the_gradient_module():
    f = mc.parse("sum(log(1 + exp(X @ w))) - y.T @ X @ w", {"X": ("N", "d"), "w": ("d",),
                                                             "y": ("N",)})
    d = mc.grad(f, "w")
    assert codegen.numpy_source(d) == codegen.numpy_source(f, wrt=["w"])
    rng = np.random.default_rng(1)
    X, w, y = rng.standard_normal((6, 3)), rng.standard_normal(3), rng.random(6)
    value, grads = codegen.compile(d)(X=X, w=w, y=y)
    close(grads["w"], np.ravel(mc.evaluate(d.result, {"X": X, "w": w, "y": y})), "gradient")


# ---- the source ---------------------------------------------------------------------------------
LOGISTIC = ("sum(log(1 + exp(X @ w))) - y.T @ X @ w", {"X": ("N", "d"), "w": ("d",), "y": ("N",)})


def logistic_source():
    return codegen.numpy_source(mc.hessian(mc.parse(*LOGISTIC), "w"))


def test_logistic_hessian_source_is_efficient():
    src = logistic_source()
    for banned in ("np.diag(", "np.diagflat(", "np.eye(", "np.ones(", "np.broadcast_to("):
        assert banned not in src, banned
    body = src.split("def hessian(")[1].split("\ndef ")[0]
    code = [ln for ln in body.splitlines() if ln.strip() and not ln.strip().startswith(("#", '"'))]
    assert sum(ln.count("@") for ln in code) == 2          # X @ w once, Xs.T @ Xs once
    assert sum(ln.count("_sigmoid(") for ln in code) == 1   # sigmoid(X @ w) computed once
    # s*(1 - s) >= 0: the Gram form B.T @ B with B = sqrt(s*(1 - s)) * X, which BLAS runs as syrk
    assert "X_scaled = np.sqrt(Xw_sigmoid * (1.0 - Xw_sigmoid)) * X" in code[-3]
    assert "H = X_scaled.T @ X_scaled" in code[-2]


def test_source_header_and_determinism():
    src = logistic_source()
    assert src == logistic_source()
    assert "# Generated by matcalc" in src and "sum(log(1 + exp(X@w)))" in src
    assert "Kind: hessian" in src and "H is n x n" in src and "import numpy as np" in src
    jsrc = codegen.numpy_source(mc.jacobian(mc.parse("tanh(A@x)", {"A": ("m", "n"),
                                                                   "x": ("n",)}), "x"))
    assert "J is p x n" in jsrc and "df = J @ dx" in jsrc
    assert jsrc.count("np.tanh(") == 1


def test_no_identity_formed_for_a_diagonal_term():
    d = mc.jacobian(mc.parse("(x - a)/norm(x - a)", {"x": ("n",), "a": ("n",)}), "x")
    src = codegen.numpy_source(d)
    assert "np.eye(" not in src and "np.diag_indices(" in src
    ridge = mc.hessian(mc.parse("sum((X@w - y)**2) + lam*w.T@w",
                                {"X": ("N", "d"), "w": ("d",), "y": ("N",), "lam": None}), "w")
    src = codegen.numpy_source(ridge)
    assert "np.eye(" not in src and "np.diag_indices(d)" in src
    rng = np.random.default_rng(3)
    X, w, y = (rng.standard_normal(s).astype(np.float32) for s in [(6, 3), 3, 6])
    H = codegen.compile(ridge)(X=X, w=w, y=y, lam=0.5)      # a Python float keeps float32
    assert H.dtype == np.float32
    assert np.allclose(H, 2 * X.T.astype(float) @ X + np.eye(3), rtol=1e-5, atol=1e-5)


def test_relu_derivative_is_a_mask():
    d = mc.jacobian(mc.parse("W@relu(V@x)", {"W": ("p", "m"), "V": ("m", "n"), "x": ("n",)}), "x")
    src = codegen.numpy_source(d)
    assert "(V @ x > 0) * V" in src and "np.where(" not in src


def test_outer_product_chain_is_associated_cheaply():
    d = mc.hessian(mc.parse("sqrt(x.T@A@x)", {"x": ("n",), "A": ("n", "n")}), "x")
    src = codegen.numpy_source(d)
    assert "A @ x @ x.T @ A" not in src


# ---- the boundary -------------------------------------------------------------------------------
def logistic_fn():
    return codegen.compile(mc.hessian(mc.parse(*LOGISTIC), "w"))


def test_vectors_as_columns_and_float32():
    fn = logistic_fn()
    rng = np.random.default_rng(2)
    X, w, y = rng.standard_normal((7, 3)), rng.standard_normal(3), rng.random(7)
    H = fn(X=X, w=w, y=y)
    assert H.shape == (3, 3) and H.dtype == np.float64
    close(fn(X=X, w=w[:, None], y=y[:, None]), H, "(n, 1) vectors")
    H32 = fn(X=X.astype(np.float32), w=w.astype(np.float32), y=y.astype(np.float32))
    assert H32.dtype == np.float32
    assert np.allclose(H32, H, rtol=1e-4, atol=1e-5)
    assert fn.hessian(X, w, y).shape == (3, 3)


def test_hvp_float32_and_shape():
    d = mc.hvp(mc.parse("logdet(X)", {"X": ("n", "n")}), "X")
    fn = codegen.compile(d)
    X = np.eye(3, dtype=np.float32) * 2
    out = fn(X=X, V=np.ones((3, 3), np.float32))
    assert out.dtype == np.float32 and out.shape == (3, 3)


@pytest.mark.parametrize("bad, match", [
    ({"w": np.zeros(4)}, r"w must have shape \(d, 1\) = \(3, 1\) \(d = 3 from X\), got shape \(4,\)"),
    ({"X": np.zeros(7)}, r"X must have shape \(N, d\) = \(\?, \?\) \(ndim 2\), got shape \(7,\)"),
    ({"y": np.zeros((6, 1))}, r"y must have shape \(N, 1\) = \(7, 1\) \(N = 7 from X\)"),
    ({"w": np.zeros((3, 2))}, r"w must have shape \(d, 1\) = \(3, 1\)"),
])
def test_bad_shapes_raise_value_error(bad, match):
    fn = logistic_fn()
    args = {"X": np.zeros((7, 3)), "w": np.zeros(3), "y": np.zeros(7)}
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        fn(**args)


def test_numpy_source_rejects_other_kinds():
    d = mc.hessian(mc.parse(*LOGISTIC), "w")
    d.kind = "laplacian"
    with pytest.raises(ValueError, match="jacobian, hessian or hvp"):
        codegen.numpy_source(d)
