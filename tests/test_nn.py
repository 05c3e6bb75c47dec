"""matcalc.nn: the seed networks derive to gradients that match the seeds' own code, the general
engine (mc.grad on the whole loss), central finite differences and HIPS autograd."""
import sys

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import matcalc as mc
from checks import directional_derivative, draw
from matcalc import nn
from matcalc.errors import MatcalcError, ParseError, ShapeError, UnknownNameError
from seed000_numpy import forward_backward as seed000_numpy

RTOL = 1e-6


# ---- seed 000: the PyTorch warm-up network, its hand-written backward pass verbatim -------------


def seed000_net():
    return nn.Sequential([nn.Dense(1000, 100, bias=False), nn.ReLU(), nn.Dense(100, 10, bias=False)],
                         loss=nn.SumSquaredError(), batch="N")


def test_seed000_gradients_equal_the_seeds_code():
    N, D_in, H, D_out = 64, 1000, 100, 10
    np.random.seed(0)
    x = np.random.randn(N, D_in)
    y = np.random.randn(N, D_out)
    w1 = np.random.randn(D_in, H)
    w2 = np.random.randn(H, D_out)
    loss, grad_w1, grad_w2 = seed000_numpy(x, y, w1, w2)
    bp = seed000_net().backprop()
    values = {"X": x, "Y": y, "W1": w1, "W2": w2}
    got = bp.evaluate(values)
    np.testing.assert_allclose(got["W1"], grad_w1, rtol=1e-10)
    np.testing.assert_allclose(got["W2"], grad_w2, rtol=1e-10)
    np.testing.assert_allclose(bp.values(values)["loss"], loss, rtol=1e-10)


def test_seed000_derivation_shows_the_seeds_formulas():
    bp = seed000_net().backprop()
    assert [n for n, _ in bp.forward] == ["h", "h_relu", "y_pred", "loss"]
    assert [n for n, _, _ in bp.backward] == ["grad_y_pred", "grad_W2", "grad_h_relu", "grad_h",
                                              "grad_W1"]
    lines = {n: mc.to_text(e) for n, e, _ in bp.backward}
    assert lines == {"grad_y_pred": "2*(y_pred - Y)", "grad_W2": "h_relu.T@grad_y_pred",
                     "grad_h_relu": "grad_y_pred@W2.T", "grad_h": "grad_h_relu*step(h)",
                     "grad_W1": "X.T@grad_h"}
    text = bp.text()
    for formula in lines.items():
        assert "%s = %s" % formula in text
    assert "transposed Jacobian" in text
    comments = {n: c for n, _, c in bp.backward}
    assert comments["grad_W2"] == "dy_pred = dh_relu@W2 + h_relu@dW2"
    assert comments["grad_h"] == "dh_relu = step(h)*dh"
    assert "relu'(X) = step(X)" in text          # the rule that ran, cited from its record
    latex = bp.latex()
    assert latex.startswith("\\begin{aligned}") and latex.endswith("\\end{aligned}")
    assert latex.count("\\begin{aligned}") == 1
    assert "\\operatorname{step}" in latex and "\\odot" in latex
    assert mc.to_text(bp.expanded("W1")) == "2*(X.T@(((relu(X@W1)@W2 - Y)@W2.T)*step(X@W1)))"


# ---- every network: four ways to the same numbers ------------------------------------------------
def deep_net(depth, width, activations, bias=True, loss=None):
    layers = []
    for i in range(depth):
        layers += [nn.Dense(width, width, bias=bias), activations[i % len(activations)]()]
    return nn.Sequential(layers, loss=loss or nn.MeanSquaredError())


NETS = {
    "seed000-small": (lambda: nn.Sequential([nn.Dense(7, 5, bias=False), nn.ReLU(),
                                             nn.Dense(5, 3, bias=False)]), 6),
    "seed001-xor": (lambda: nn.from_spec("dense(2,3) relu dense(3,1)", loss="mse"), 4),
    "seed004-keras-mnist": (lambda: nn.from_spec("dense(784,512) relu dense(512,10)",
                                                 loss="softmax_ce"), 3),
    "deep12-tanh-sigmoid": (lambda: deep_net(12, 4, [nn.Tanh, nn.Sigmoid]), 5),
    "mixed-bce": (lambda: nn.from_spec("dense(4,5) tanh dense(5,5) sigmoid leaky_relu(0.1) "
                                       "dense(5,3) softplus identity dense(3,2)", loss="bce"), 5),
    "named-dims-leaky": (lambda: nn.Sequential([nn.Dense("d_in", "H"), nn.LeakyReLU(0.2),
                                                nn.Dense("H", "d_out")],
                                               loss=nn.SumSquaredError()), 4),
}
SIZES = {"d_in": 3, "H": 4, "d_out": 2}


def random_values(net, n, rng, scale=1.0):
    """Values for X, Y and every parameter (batch n); one-hot or 0/1 targets for the
    classification losses."""
    values = {}
    for name, shape in net.shapes.items():
        dims = tuple(n if d == net.batch else SIZES.get(d, d) for d in shape)
        values[name] = draw(dims, None, rng) * (1.0 if name in "XY" else scale)
    if isinstance(net.loss, nn.SoftmaxCrossEntropy):
        values["Y"] = np.eye(values["Y"].shape[1])[rng.integers(0, values["Y"].shape[1], n)]
    if isinstance(net.loss, nn.BinaryCrossEntropy):
        values["Y"] = (rng.random(values["Y"].shape) < 0.5).astype(float)
    return values


def loss_function(net, values, name, xp=np):
    def f(theta):
        return mc.evaluate(net.loss_expr, {**values, name: theta}, xp=xp)
    return f


def directional_fd(f, theta, V):
    """(f(theta + hV) - f(theta - hV)) / 2h (checks.directional_derivative), with a step small
    enough not to straddle a relu kink of the wide networks."""
    return directional_derivative(f, theta, V, h=1e-6 * max(1.0, np.abs(theta).max()),
                                  extrapolate=False)


def check_net(net, values, names, rng, general=True):
    bp = net.backprop()
    derived = bp.evaluate(values)
    for name in names:
        G = derived[name]
        assert G.shape == np.shape(values[name])
        f = loss_function(net, values, name)
        if general:
            engine = np.reshape(mc.evaluate(mc.grad(net.loss_expr, name).result, values), G.shape)
            np.testing.assert_allclose(G, engine, rtol=RTOL, atol=1e-12)
        expanded = np.reshape(mc.evaluate(bp.expanded(name), values), G.shape)
        np.testing.assert_allclose(G, expanded, rtol=RTOL, atol=1e-12)
        reference = autograd.grad(loss_function(net, values, name, xp=anp))(values[name])
        np.testing.assert_allclose(G, reference, rtol=RTOL, atol=1e-12)
        V = rng.standard_normal(G.shape)
        np.testing.assert_allclose(np.sum(G * V), directional_fd(f, values[name], V),
                                   rtol=RTOL, atol=1e-9)


@pytest.mark.parametrize("key", sorted(NETS))
def test_backprop_agrees_with_engine_fd_and_autograd(key):
    make, n = NETS[key]
    net = make()
    rng = np.random.default_rng(sum(map(ord, key)))
    scale = 0.05 if "mnist" in key else 1.0
    values = random_values(net, n, rng, scale)
    check_net(net, values, list(net.parameters), rng)


def test_full_finite_differences_on_the_xor_net():
    net = nn.from_spec("dense(2,3) relu dense(3,1)", loss="mse")
    rng = np.random.default_rng(1)
    values = random_values(net, 4, rng)
    values["X"] = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)   # seed 001's train_X
    values["Y"] = np.array([[0], [1], [1], [0]], float)
    derived = net.backprop().evaluate(values)
    for name, G in derived.items():
        f = loss_function(net, values, name)
        fd = np.zeros_like(G)
        for i in np.ndindex(G.shape):
            E = np.zeros_like(G)
            E[i] = 1.0
            fd[i] = directional_fd(f, values[name], E)
        np.testing.assert_allclose(G, fd, rtol=RTOL, atol=1e-9)


def test_seed001_mse_is_the_mean_over_the_batch():
    net = nn.from_spec("dense(2,3) relu dense(3,1)", loss="mse")
    rng = np.random.default_rng(2)
    values = random_values(net, 4, rng)
    out = net.backprop().values(values)
    assert np.isclose(out["loss"], np.mean((out["y_pred"] - values["Y"]) ** 2))
    np.testing.assert_allclose(out["grad_y_pred"], 2 * (out["y_pred"] - values["Y"]) / 4)


def test_softmax_cross_entropy_adjoint_is_the_textbook_one():
    net = nn.from_spec("dense(6,4) relu dense(4,3)", loss="softmax_ce")
    bp = net.backprop()
    assert mc.to_text(bp.backward[0][1]) == "(softmax(y_pred) - Y)/sum(ones(N))"  # N as a number, in the notation


def test_100_layer_network_derives_and_is_correct():
    net = deep_net(100, 3, [nn.Tanh])
    bp = net.backprop()
    assert len(bp.backward) == 1 + 100 * 3 + 99      # grad_y_pred; Z, W, b per layer; A between
    rng = np.random.default_rng(100)
    values = random_values(net, 2, rng)
    values["X"] *= 0.1
    for k in range(1, 101):              # near-identity weights keep the gradient away from 0
        values[f"W{k}"] = np.eye(3) + 0.05 * rng.standard_normal((3, 3))
        values[f"b{k}"] = 0.01 * rng.standard_normal(3)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))   # mc.evaluate recurses through the whole loss
    try:
        check_net(net, values, ["W1", "b50", "W100"], rng, general=False)
        engine = mc.grad(net.loss_expr, "W1").result
        np.testing.assert_allclose(bp.evaluate(values)["W1"], mc.evaluate(engine, values), rtol=RTOL)
        assert np.abs(bp.evaluate(values)["W1"]).max() > 1e-3
    finally:
        sys.setrecursionlimit(limit)


# ---- the contract the code generator reads -------------------------------------------------------
def test_backprop_contract():
    net = nn.from_spec("dense(4,5) tanh dense(5,5) sigmoid dense(5,2)", loss="sse")
    bp = net.backprop()
    assert bp.forward[-1][0] == "loss"
    assert [n for n, _ in bp.forward[:-1]] == ["Z1", "A1", "Z2", "A2", "y_pred"]
    known = {"X", "Y", *net.parameters}
    for name, expr in bp.forward[:-1]:
        assert {s.name for s in expr.free_symbols if hasattr(s, "name")} - {"N"} <= known
        assert tuple(bp.symbols[name].shape) == tuple(expr.shape)
        known.add(name)
    for name, expr, comment in bp.backward:
        assert name.startswith("grad_") and comment.startswith("d")
        assert {s.name for s in expr.free_symbols if hasattr(s, "name")} - {"N"} <= known
        assert tuple(bp.symbols[name].shape) == tuple(expr.shape)
        known.add(name)
    assert list(bp.gradients) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for p, expr in bp.gradients.items():
        assert dict((n, e) for n, e, _ in bp.backward)[f"grad_{p}"] == expr
        assert tuple(expr.shape) == tuple(net.parameters[p].shape)
    assert all(isinstance(s, mc.Step) for s in bp.steps) and len(bp.steps) >= 10
    text = "sum((relu(X@W1)@W2 - Y)**2)"
    assert mc.to_text(seed000_net().loss_expr) == text
    assert mc.to_text(mc.parse(text, shapes=seed000_net().shapes)) == text


def test_shapes_and_parameters():
    net = nn.from_spec("dense(D_in,H) relu dense(H,10,bias=false)", loss="mse", batch="B")
    assert net.shapes == {"X": ("B", "D_in"), "Y": ("B", 10), "W1": ("D_in", "H"), "b1": ("H",),
                          "W2": ("H", 10)}
    assert list(net.parameters) == ["W1", "b1", "W2"]
    text = mc.to_text(net.loss_expr)     # the batch size as a number is sum(ones(B)) in the notation
    assert text == "sum((relu(X@W1 + b1.T)@W2 - Y)**2)/(10*sum(ones(B)))"
    assert mc.to_text(mc.parse(text, net.shapes)) == text


# ---- the layer-spec format -----------------------------------------------------------------------
def test_from_spec_reads_every_layer():
    net = nn.from_spec("dense(3,4) relu dense(4,4,bias=false) leaky_relu(0.2) sigmoid tanh "
                       "softplus identity leaky_relu dense(4,2, bias=true)", loss="bce")
    kinds = [type(l).__name__ for l in net.layers]
    assert kinds == ["Dense", "ReLU", "Dense", "LeakyReLU", "Sigmoid", "Tanh", "Softplus",
                     "Identity", "LeakyReLU", "Dense"]
    assert net.layers[3].alpha == 0.2 and net.layers[8].alpha == 0.01
    assert not net.layers[2].bias and net.layers[9].bias
    assert set(nn.LOSSES) == {"sse", "mse", "softmax_ce", "bce", "ce", "mae", "huber"}


@pytest.mark.parametrize("spec, column, words", [
    ("dense(2,3) relu $", 17, "unexpected character"),
    ("dense(2,3) rleu dense(3,1)", 12, "unknown layer"),
    ("dense(2,3 relu", 11, "expected ',' or ')'"),
    ("dense(2) relu", 1, "two sizes"),
    ("dense(2,3,bias=maybe)", 11, "bias must be"),
    ("dense(2,3,bais=false)", 11, "unknown option"),
    ("dense(2,0)", 9, "positive integer"),
    ("dense(2,3) relu(1)", 17, "takes no arguments"),
    ("dense(2,3) leaky_relu(x)", 23, "alpha must be a number"),
    ("   ", 1, "empty layer spec"),
    ("dense(2,3) (", 12, "expected a layer name"),
    ("dense(,3)", 7, "expected an argument"),
])
def test_from_spec_errors_point_at_the_column(spec, column, words):
    with pytest.raises(ParseError) as info:
        nn.from_spec(spec)
    assert info.value.column == column
    assert words in str(info.value)
    assert info.value.text == spec


def test_from_spec_other_errors():
    with pytest.raises(UnknownNameError):
        nn.from_spec("dense(2,3)", loss="hinge")
    with pytest.raises(ShapeError):
        nn.from_spec("dense(2,3) relu dense(4,1)")
    with pytest.raises(MatcalcError):
        nn.Sequential([nn.ReLU()])
    with pytest.raises(ShapeError):
        nn.from_spec("dense(2,1)", loss="softmax_ce")
