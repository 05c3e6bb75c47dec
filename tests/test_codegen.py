"""codegen: generated NumPy gradients against three independent references.

For every expression below, the generated value_and_grad must agree with (1) the derived formula
evaluated by mc.evaluate, (2) central finite differences along a random direction, and (3) HIPS
autograd differentiating mc.evaluate(f, xp=autograd.numpy); float64, rtol 1e-6, random sizes.
Then: networks of matcalc.nn, seed 000 against its own hand-written code, seed 001 (XOR)
training, shape and dtype checks, and determinism of the source.
"""
import re
import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import codegen
import matcalc as mc
from checks import random_values as draw_values
from seed000_numpy import forward_backward as seed000_hand_written
from matcalc import nn
from matcalc.evaluate import Evaluator, bind

RTOL = 1e-6

# (id, text, shapes, wrt, domain): domain "spd" makes square matrices symmetric positive
# definite, "pos" makes every input positive.
CASES = [
    ("trace-XA", "tr(X @ A)", {"X": ("n", "m"), "A": ("m", "n")}, ["X", "A"], None),
    ("trace-XAXT-cookbook-111", "tr(X @ A @ X.T)", {"X": ("n", "m"), "A": ("m", "m")}, ["X"], None),
    ("quadratic-form-cookbook-81", "x.T @ A @ x", {"x": ("n",), "A": ("n", "n")}, ["x", "A"], None),
    ("bilinear", "a.T @ X @ b", {"a": ("n",), "X": ("n", "m"), "b": ("m",)}, ["X", "a", "b"], None),
    ("logdet-cookbook-57", "logdet(X)", {"X": ("n", "n")}, ["X"], "spd"),
    ("inverse-trace-cookbook-63", "tr(A @ inv(X) @ B)", {"A": ("n", "n"), "X": ("n", "n"),
                                                         "B": ("n", "n")}, ["X"], "spd"),
    ("det", "det(X)", {"X": ("n", "n")}, ["X"], "spd"),
    ("logistic-regression", "sum(log(1 + exp(X @ w))) - y.T @ X @ w",
     {"X": ("N", "d"), "w": ("d",), "y": ("N",)}, ["w"], None),
    ("softmax-ce-logsumexp", "sum(logsumexp(X @ W + b.T)) - sum(Y * (X @ W + b.T))",
     {"X": ("N", "d"), "W": ("d", "C"), "b": ("C",), "Y": ("N", "C")}, ["W", "b"], None),
    ("vector-logsumexp", "logsumexp(A @ x)", {"A": ("m", "n"), "x": ("n",)}, ["x"], None),
    ("softmax-vector", "y.T @ softmax(A @ x)", {"A": ("m", "n"), "x": ("n",), "y": ("m",)},
     ["x"], None),
    ("softmax-rows", "sum(Y * log(softmax(X @ W)))", {"X": ("N", "d"), "W": ("d", "C"),
                                                      "Y": ("N", "C")}, ["W"], None),
    ("norm-residual", "norm(A @ x - b)", {"A": ("m", "n"), "x": ("n",), "b": ("m",)}, ["x"], None),
    ("frobenius-squared", "norm(X - A) ** 2", {"X": ("n", "m"), "A": ("n", "m")}, ["X"], None),
    ("elementwise-sin-tanh", "sum(sin(X) * tanh(X @ A))", {"X": ("n", "m"), "A": ("m", "m")},
     ["X", "A"], None),
    ("elementwise-sqrt-log", "sum(sqrt(X) + log(X) * X)", {"X": ("n", "m")}, ["X"], "pos"),
    ("hadamard", "sum((A * X) @ B * X)", {"A": ("n", "m"), "X": ("n", "m"), "B": ("m", "m")},
     ["X"], None),
    ("row-broadcast-sigmoid", "sum(sigmoid(X @ W + b.T) ** 2)",
     {"X": ("N", "d"), "W": ("d", "k"), "b": ("k",)}, ["W", "b"], None),
    ("mlp-softplus-relu", "sum((relu(softplus(X @ W1) @ W2) - Y) ** 2)",
     {"X": ("N", "d"), "W1": ("d", "h"), "W2": ("h", "k"), "Y": ("N", "k")}, ["W1", "W2"], None),
    ("scalar-symbol", "lam * sum(X * X) + tr(X) / lam", {"lam": (), "X": ("n", "n")},
     ["lam", "X"], "pos"),
    ("diag", "sum(diag(X) * v) + sum(diag(v) @ X)", {"X": ("n", "n"), "v": ("n",)},
     ["X", "v"], None),
    ("sum-of-entries", "sum(X)", {"X": ("n", "m")}, ["X"], None),
]


def random_values(shapes, rng, domain):
    """Values for every symbol: positive ("pos"), or normal with SPD squares ("spd")."""
    assume = {}
    for name, shape in shapes.items():
        square = len(shape) == 2 and shape[0] == shape[1]
        assume[name] = "positive" if domain == "pos" or not shape else \
            "spd" if domain == "spd" and square else None
    return draw_values(shapes, rng, assume)[0]


def evaluate_in(f, G, values):
    """mc.evaluate's evaluator for G, with the dimensions bound by f's symbols (G = ones(n, m)
    has no symbol of its own to tell n and m)."""
    arrays, dims = bind(f, values)
    return Evaluator(arrays, dims).value(G)


def scalar(v):
    return float(np.reshape(v, ()))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_generated_gradient_matches_three_references(case):
    _, text, shapes, wrt, domain = case
    f = mc.parse(text, shapes)
    fn = codegen.compile(f, wrt=wrt)
    derived = mc.grad(f, wrt)
    rng = np.random.default_rng(len(text) * 7919)
    values = random_values(shapes, rng, domain)
    value, grads = fn(**values)
    assert np.isclose(value, scalar(mc.evaluate(f, values)), rtol=RTOL)
    for name in wrt:
        G = grads[name]
        assert np.shape(G) == np.shape(values[name])
        # (1) the derived formula, evaluated independently
        reference = evaluate_in(f, derived.results[name], values)
        np.testing.assert_allclose(G, np.reshape(reference, np.shape(G)), rtol=RTOL, atol=1e-9)

        # (2) central finite differences along a random direction
        def at(v):
            return scalar(mc.evaluate(f, {**values, name: v}))
        V = rng.standard_normal(np.shape(values[name]))
        x = np.asarray(values[name], dtype=float)
        h = 1e-5 * max(1.0, float(np.max(np.abs(x))))
        fd = (at(x + h * V) - at(x - h * V)) / (2 * h)
        assert np.isclose(np.sum(G * V), fd, rtol=1e-5, atol=1e-7)

        # (3) HIPS autograd of the same function
        ag = autograd.grad(lambda v: mc.evaluate(f, {**values, name: v}, xp=anp))(x)
        np.testing.assert_allclose(G, np.reshape(ag, np.shape(G)), rtol=RTOL, atol=1e-9)


NETWORKS = [
    ("seed000-relu-sse", lambda: nn.Sequential([nn.Dense(7, 5, bias=False), nn.ReLU(),
                                                nn.Dense(5, 3, bias=False)],
                                               loss=nn.SumSquaredError())),
    ("tanh-softplus-softmax-ce", lambda: nn.Sequential([nn.Dense(4, 6), nn.Tanh(), nn.Dense(6, 5),
                                                        nn.Softplus(), nn.Dense(5, 3)],
                                                       loss=nn.SoftmaxCrossEntropy())),
    ("sigmoid-bce", lambda: nn.Sequential([nn.Dense(3, 4), nn.Sigmoid(), nn.Dense(4, 2)],
                                          loss=nn.BinaryCrossEntropy())),
    ("relu-mse", lambda: nn.Sequential([nn.Dense(2, 3), nn.ReLU(), nn.Dense(3, 1)],
                                       loss=nn.MeanSquaredError())),
]


def network_values(net, rng, N=6):
    values = {}
    for name, shape in net.shapes.items():
        dims = [N if isinstance(d, str) else d for d in shape]
        values[name] = rng.standard_normal(dims)
    return values


@pytest.mark.parametrize("make", [n[1] for n in NETWORKS], ids=[n[0] for n in NETWORKS])
def test_network_gradients(make):
    net = make()
    fn = codegen.compile(net)
    rng = np.random.default_rng(3)
    values = network_values(net, rng)
    loss, grads = fn(**values)
    assert np.isclose(loss, scalar(mc.evaluate(net.loss_expr, values)), rtol=RTOL)
    derived = mc.grad(net.loss_expr, list(net.parameters))
    for p in net.parameters:
        reference = np.reshape(mc.evaluate(derived.results[p], values), np.shape(values[p]))
        np.testing.assert_allclose(grads[p], reference, rtol=RTOL, atol=1e-9)
        ag = autograd.grad(lambda v: mc.evaluate(net.loss_expr, {**values, p: v}, xp=anp))(
            np.asarray(values[p], dtype=float))
        np.testing.assert_allclose(grads[p], ag, rtol=RTOL, atol=1e-9)




def seed000_function():
    return mc.parse("sum((relu(x @ w1) @ w2 - y) ** 2)",
                    {"x": ("N", "D_in"), "w1": ("D_in", "H"), "w2": ("H", "D_out"),
                     "y": ("N", "D_out")})


@pytest.mark.parametrize("source", ["expression", "network"])
def test_seed000_equals_hand_written(source):
    rng = np.random.default_rng(0)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    w1, w2 = rng.standard_normal((D_in, H)), rng.standard_normal((H, D_out))
    loss, g1, g2 = seed000_hand_written(x, y, w1, w2)
    if source == "expression":
        value, grads = codegen.compile(seed000_function(), wrt=["w1", "w2"])(x=x, w1=w1, w2=w2, y=y)
        G1, G2 = grads["w1"], grads["w2"]
    else:
        net = nn.from_spec("dense(1000,100,bias=false) relu dense(100,10,bias=false)", loss="sse")
        value, grads = codegen.compile(net)(X=x, W1=w1, W2=w2, Y=y)
        G1, G2 = grads["W1"], grads["W2"]
    np.testing.assert_allclose(value, loss, rtol=1e-12)
    np.testing.assert_allclose(G1, g1, rtol=1e-12, atol=1e-12 * np.abs(g1).max())
    np.testing.assert_allclose(G2, g2, rtol=1e-12, atol=1e-12 * np.abs(g2).max())


def test_seed001_xor_trains_with_plain_sgd():
    """Seed 001: 2-3-1 ReLU net with biases, MSE, plain SGD at lr 0.01, to loss < 1e-3."""
    net = nn.Sequential([nn.Dense(2, 3), nn.ReLU(), nn.Dense(3, 1)], loss=nn.MeanSquaredError())
    fn = codegen.compile(net)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    rng = np.random.default_rng(1)
    params = {"W1": rng.normal(0, 1.0, (2, 3)), "b1": rng.normal(0, 0.1, 3),
              "W2": rng.normal(0, 1.0, (3, 1)), "b2": rng.normal(0, 0.1, 1)}
    lr = 0.01
    for step in range(100_000):
        loss, grads = fn(X=X, Y=Y, **params)
        if loss < 1e-3:
            break
        for p in params:
            params[p] = params[p] - lr * grads[p]
    assert loss < 1e-3, f"loss {loss} after {step} steps"
    assert params["b1"].shape == (3,)


# ---- the boundary: shapes and dtypes -----------------------------------------------------------
def logreg():
    return mc.parse("sum(log(1 + exp(X @ w))) - y.T @ X @ w",
                    {"X": ("N", "d"), "w": ("d",), "y": ("N",)})


def test_vectors_accept_both_shapes_and_answer_in_kind():
    fn = codegen.compile(logreg(), wrt=["w"])
    rng = np.random.default_rng(5)
    X, w, y = rng.standard_normal((8, 3)), rng.standard_normal(3), rng.standard_normal(8)
    v1, g1 = fn(X=X, w=w, y=y)
    v2, g2 = fn(X=X, w=w.reshape(3, 1), y=y.reshape(8, 1))
    assert g1["w"].shape == (3,) and g2["w"].shape == (3, 1)
    np.testing.assert_allclose(g1["w"], g2["w"][:, 0])
    assert v1 == v2


def test_wrong_shapes_raise_value_errors_naming_argument_and_shapes():
    fn = codegen.compile(logreg(), wrt=["w"])
    X = np.ones((8, 3))
    with pytest.raises(ValueError, match=r"w must have shape \(d, 1\) = \(3, 1\) .*got shape \(4,\)"):
        fn(X=X, w=np.ones(4), y=np.ones(8))
    with pytest.raises(ValueError, match=r"X must have shape \(N, d\).*ndim 2.*got shape \(8,\)"):
        fn(X=np.ones(8), w=np.ones(3), y=np.ones(8))
    with pytest.raises(ValueError, match=r"y must have shape \(N, 1\) = \(8, 1\).*N = 8 from X"):
        fn(X=X, w=np.ones(3), y=np.ones(7))


def test_float32_in_float32_out_and_float64_stays():
    fn = codegen.compile(logreg(), wrt=["w"])
    rng = np.random.default_rng(6)
    X, w, y = rng.standard_normal((8, 3)), rng.standard_normal(3), rng.standard_normal(8)
    v, g = fn(X=X.astype(np.float32), w=w.astype(np.float32), y=y.astype(np.float32))
    assert g["w"].dtype == np.float32 and np.asarray(v).dtype == np.float32
    v, g = fn(X=X, w=w, y=y)
    assert g["w"].dtype == np.float64


def test_network_float32():
    net = nn.Sequential([nn.Dense(4, 6), nn.Tanh(), nn.Dense(6, 3)], loss=nn.SoftmaxCrossEntropy())
    values = {k: v.astype(np.float32) for k, v in network_values(net, np.random.default_rng(2)).items()}
    loss, grads = codegen.compile(net)(**values)
    assert np.asarray(loss).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


# ---- the source ----------------------------------------------------------------------------------
def test_source_is_deterministic_and_reads_like_numpy():
    first = codegen.numpy_source(seed000_function(), wrt=["w1", "w2"], name="warmup")
    again = codegen.numpy_source(seed000_function(), wrt=["w1", "w2"], name="warmup")
    assert first == again
    assert "import numpy as np" in first and first.count("import") == 1
    assert "+=" not in first and ".dot(" not in first
    # np.multiply only where a product is written into a dead buffer (out=, passes.in_place)
    assert all("out=" in ln for ln in first.splitlines() if "np.multiply" in ln), first
    assert "np.ones" not in first and "np.eye" not in first and "np.diag" not in first
    assert "(xw1_relu > 0)" in first              # relu's mask from the activation
    compile(first, "<generated>", "exec")


def test_no_ones_or_identity_materialised():
    cases = [
        ("sum(X @ W + b.T)", {"X": ("N", "d"), "W": ("d", "k"), "b": ("k",)}, ["W", "b"]),
        ("tr(X @ A)", {"X": ("n", "m"), "A": ("m", "n")}, ["X"]),
        ("sum(diag(v) @ X)", {"X": ("n", "n"), "v": ("n",)}, ["v"]),
    ]
    for text, shapes, wrt in cases:
        src = codegen.numpy_source(mc.parse(text, shapes), wrt=wrt)
        body = src.split("def _bind")[0]
        # the one ones array allowed is a row that a column sum is a product with,
        # np.ones((1, N), dtype=dtype) @ G: N numbers, never a ones matrix
        body = re.sub(r"np\.ones\(\(1, \w+\), dtype=dtype\) @ ", "", body)
        assert "np.ones" not in body and "np.eye" not in body and "np.diagflat" not in body, src


def test_network_source_uses_backprop_names_and_comments():
    net = nn.from_spec("dense(1000,100,bias=false) relu dense(100,10,bias=false)", loss="sse")
    src = codegen.numpy_source(net, name="warmup")
    # relu runs in h's buffer (nothing reads h after it) and its mask is read from h_relu
    for line in ["h = X @ W1", "h_relu = np.maximum(h, 0.0, out=h)", "grad_y_pred = 2.0 * y_pred_minus_Y",
                 "grad_W2 = h_relu.T @ grad_y_pred", "grad_h_relu = grad_y_pred @ W2.T",
                 # relu' as a mask, written into grad_h_relu's buffer, which nothing reads later
                 "grad_h = np.multiply(grad_h_relu, (h_relu > 0), out=grad_h_relu)",
                 "grad_W1 = X.T @ grad_h", "# dh_relu = step(h)*dh",
                 # a comment spells the code's own temporaries out: y_pred_minus_Y is y_pred - Y
                 "# d(y_pred - Y) = dy_pred"]:
        assert line in src, src


def test_a_gradient_with_two_contributions_cites_both_differentials():
    f = mc.parse("sum(log(1 + exp(X @ w))) - y.T @ X @ w",
                 {"X": ("N", "d"), "w": ("d",), "y": ("N",)})
    src = codegen.numpy_source(f, wrt=["w"])
    assert "# d(X@w) = X@dw; d(y.T@X@w) = y.T@X@dw" in src, src


def test_tanh_derivative_reuses_the_saved_activation():
    net = nn.Sequential([nn.Dense(4, 6), nn.Tanh(), nn.Dense(6, 3)], loss=nn.SumSquaredError())
    src = codegen.numpy_source(net)
    src = src[:src.index("def predict")]      # forward and backward; predict has its own tanh
    # 1 - h_tanh**2 in one private buffer (passes.private_buffers), then into grad_h_tanh's
    assert re.search(r"(t\d+) = h_tanh \* h_tanh\n +(t\d+) = np\.subtract\(1\.0, \1, out=\1\)\n"
                     r"(.*\n)* +grad_h = np\.multiply\(grad_h_tanh, \2, out=grad_h_tanh\)", src), src
    backward = src[src.index("def backward("):src.index("def value_and_grad(")]
    assert "np.tanh(" not in backward, backward     # tanh' from the saved activation


def test_an_alias_is_not_a_fresh_buffer():
    """grad_softmax = t1 is t1's buffer: writing into it in place would change t1, read later."""
    f = mc.parse("y.T @ (Y + b.T + softmax(b.T)) @ v",
                 {"Y": ("n", "m"), "b": ("m",), "v": ("m",), "y": ("n",)})
    src = codegen.numpy_source(f, wrt=["b"])
    assert "out=grad_softmax" not in src, src
    rng = np.random.default_rng(3)
    values = {"Y": rng.standard_normal((4, 3)), "b": rng.standard_normal(3),
              "v": rng.standard_normal(3), "y": rng.standard_normal(4)}
    _, grads = codegen.compile(f, wrt=["b"])(**values)
    want = mc.evaluate(mc.grad(f, "b").result, values)
    np.testing.assert_allclose(np.ravel(grads["b"]), np.ravel(want), rtol=1e-10)
