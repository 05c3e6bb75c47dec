"""Dropout, LayerNorm, BatchNorm, Softmax with categorical cross-entropy, MAE and Huber losses,
weight decay and a layer given by its forward expression (issue 11): each network's gradients
equal HIPS autograd's on the same model written here in plain autograd.numpy."""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import codegen
import matcalc as mc
from matcalc import nn
from matcalc.errors import MatcalcError, ParseError, ShapeError

RTOL = 1e-7
N, D_IN, H, D_OUT = 7, 4, 6, 3


def draw(seed, y="real"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D_IN))
    Y = np.eye(D_OUT)[rng.integers(0, D_OUT, N)] if y == "onehot" else rng.standard_normal((N, D_OUT))
    W1, b1 = rng.standard_normal((D_IN, H)), rng.standard_normal(H)
    W2, b2 = rng.standard_normal((H, D_OUT)), rng.standard_normal(D_OUT)
    return rng, x, Y, [W1, b1, W2, b2]


def normalised(A, axis, eps):
    mu = anp.mean(A, axis=axis, keepdims=True)
    var = anp.mean((A - mu) ** 2, axis=axis, keepdims=True)
    return (A - mu) / anp.sqrt(var + eps)


def check(net, loss, params, values, extra_params=()):
    """net's gradients against autograd.grad(loss)(params) (in the order of net.parameters)."""
    want = autograd.grad(loss)(params)
    got = net.backprop().evaluate(values)
    assert list(got) == list(net.parameters)
    for (name, g), w in zip(got.items(), want):
        np.testing.assert_allclose(np.ravel(g), np.ravel(w), rtol=RTOL, atol=1e-12, err_msg=name)


def test_dropout_uses_the_mask_given_to_the_forward_pass():
    rng, x, Y, params = draw(0)
    M = (rng.random((N, H)) > 0.3).astype(float)

    def loss(p):
        W1, b1, W2, b2 = p
        A = anp.tanh(x @ W1 + b1) * M / 0.7
        return anp.sum((A @ W2 + b2 - Y) ** 2)

    net = nn.from_spec("dense(4,6) tanh dropout(0.3) dense(6,3)")
    assert set(net.inputs) == {"M3"} and net.shapes["M3"] == ("N", 6)
    values = {"X": x, "Y": Y, "M3": M, "W1": params[0], "b1": params[1], "W2": params[2], "b2": params[3]}
    check(net, loss, params, values)
    lines = {n: mc.to_text(e) for n, e, _ in net.backprop().backward}
    assert lines["grad_A1"] == "10*grad_D1*M3/7"


@pytest.mark.parametrize("layer, axis", [("layernorm", 1), ("batchnorm", 0)])
def test_normalisation_layers_equal_autograd(layer, axis):
    rng, x, Y, params = draw(1)
    gamma, beta = rng.standard_normal(H), rng.standard_normal(H)
    params = params[:2] + [gamma, beta] + params[2:]

    def loss(p):
        W1, b1, g, bt, W2, b2 = p
        A = normalised(x @ W1 + b1, axis, 1e-5) * g + bt
        return anp.sum((anp.maximum(A, 0.0) @ W2 + b2 - Y) ** 2)

    net = nn.from_spec(f"dense(4,6) {layer}(6) relu dense(6,3)")
    values = {"X": x, "Y": Y, "W1": params[0], "b1": params[1], "gamma2": gamma, "beta2": beta,
              "W3": params[4], "b3": params[5]}
    check(net, loss, params, values)


def test_softmax_layer_with_categorical_cross_entropy_on_probabilities():
    rng, x, Y, params = draw(2, y="onehot")

    def loss(p):
        W1, b1, W2, b2 = p
        Z = anp.tanh(x @ W1 + b1) @ W2 + b2
        P = anp.exp(Z) / anp.sum(anp.exp(Z), axis=1, keepdims=True)
        return -anp.sum(Y * anp.log(P)) / N

    net = nn.from_spec("dense(4,6) tanh dense(6,3) softmax", loss="ce")
    values = {"X": x, "Y": Y, "W1": params[0], "b1": params[1], "W2": params[2], "b2": params[3]}
    check(net, loss, params, values)
    assert "Softmax y_pred = softmax(Z2):" in net.backprop().text()


@pytest.mark.parametrize("name, elementwise", [
    ("mae", lambda r: anp.abs(r)),
    ("huber", lambda r: anp.where(anp.abs(r) <= 1.0, 0.5 * r ** 2, anp.abs(r) - 0.5)),
])
def test_mae_and_huber_losses_equal_autograd(name, elementwise):
    _, x, Y, params = draw(3)
    Y = 2.0 * Y

    def loss(p):
        W1, b1, W2, b2 = p
        return anp.mean(elementwise(anp.tanh(x @ W1 + b1) @ W2 + b2 - Y))

    net = nn.from_spec("dense(4,6) tanh dense(6,3)", loss=name)
    values = {"X": x, "Y": Y, "W1": params[0], "b1": params[1], "W2": params[2], "b2": params[3]}
    check(net, loss, params, values)


def test_weight_decay_adds_lambda_w_to_the_weights_only():
    _, x, Y, params = draw(4)

    def loss(p):
        W1, b1, W2, b2 = p
        fit = anp.sum((anp.tanh(x @ W1 + b1) @ W2 + b2 - Y) ** 2)
        return fit + 0.01 / 2 * (anp.sum(W1 ** 2) + anp.sum(W2 ** 2))

    net = nn.from_spec("dense(4,6) tanh dense(6,3)", weight_decay=0.01)
    values = {"X": x, "Y": Y, "W1": params[0], "b1": params[1], "W2": params[2], "b2": params[3]}
    check(net, loss, params, values)


def test_a_custom_layer_from_its_forward_expression():
    rng, x, Y, params = draw(5)
    V = rng.standard_normal((H, H))

    def loss(p):
        W1, b1, V, W2, b2 = p
        A = anp.tanh(x @ W1 + b1)
        A = A + anp.log(1 + anp.exp(A @ V))                  # the custom layer
        return anp.sum((A @ W2 + b2 - Y) ** 2)

    gated = nn.Layer("A + softplus(A@V)", {"V": (H, H)}, n_in=H, n_out=H, name="residual")
    net = nn.Sequential([nn.Dense(4, 6), nn.Tanh(), gated, nn.Dense(6, 3)])
    assert list(net.parameters) == ["W1", "b1", "V2", "W3", "b3"]
    values = {"X": x, "Y": Y, "W1": params[0], "b1": params[1], "V2": V, "W3": params[2], "b3": params[3]}
    check(net, loss, params[:2] + [V] + params[2:], values)
    with pytest.raises(ShapeError, match="must be N x 6"):
        nn.Layer("A@V", {"V": (H, 2)}, n_in=H, n_out=H)
    with pytest.raises(MatcalcError, match="A is the input"):
        nn.Layer("A", {"A": (H, H)}, n_in=H, n_out=H)


def test_generated_code_takes_the_dropout_mask():
    rng, x, Y, params = draw(6)
    M = (rng.random((N, H)) > 0.5).astype(float)
    net = nn.from_spec("dense(4,6) relu dropout(0.5) dense(6,3) softmax", loss="ce")
    fn = codegen.compile(net)
    values = {"X": x, "Y": np.eye(3)[rng.integers(0, 3, N)], "M3": M, "W1": params[0],
              "b1": params[1], "W2": params[2], "b2": params[3]}
    loss, grads = fn(**values)
    want = net.backprop().evaluate(values)
    for name in want:
        np.testing.assert_allclose(np.ravel(grads[name]), np.ravel(want[name]), rtol=1e-9)


def test_spec_errors_of_the_new_layers():
    with pytest.raises(ParseError, match=r"dropout takes one probability"):
        nn.from_spec("dense(4,6) dropout(1.5) dense(6,3)")
    with pytest.raises(ShapeError, match=r"layernorm\(5\) expects 5 features, got 6 features"):
        nn.from_spec("dense(4,6) layernorm(5) dense(6,3)")
    with pytest.raises(MatcalcError, match="--input takes D, C,L, C,H,W or T,features"):
        nn.input_shape("1,x,3")
