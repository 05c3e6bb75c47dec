"""Convolutional networks (issue 11): im2col/col2im/blockmax layers derive gradients equal to
HIPS autograd's on a CNN written here independently, in N x C x H x W arrays with PyTorch's
weight layout (F x C x kH x kW), loops over the kernel offsets and pooling by reshape; the
generated NumPy module (float64 and float32) agrees too."""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import codegen
import matcalc as mc
from matcalc import nn
from matcalc.core import windows
from matcalc.errors import ParseError, ShapeError

RTOL = 1e-7


# ---- the independent reference: a CNN in N x C x H x W, as PyTorch lays it out ----------------
def conv2d_nchw(x, w, b, stride, padding):
    """x: N x C x H x W, w: F x C x kH x kW, b: F -> N x F x OH x OW, by kernel offsets; stride
    and padding an int or (along H, along W)."""
    (sh, sw), (ph, pw) = [(v, v) if isinstance(v, int) else v for v in (stride, padding)]
    N, C, H, W = x.shape
    F, _, kH, kW = w.shape
    if ph:
        zeros_h = anp.zeros((N, C, ph, W))
        x = anp.concatenate([zeros_h, x, zeros_h], axis=2)
    if pw:
        zeros_w = anp.zeros((N, C, H + 2 * ph, pw))
        x = anp.concatenate([zeros_w, x, zeros_w], axis=3)
    OH = (H + 2 * ph - kH) // sh + 1
    OW = (W + 2 * pw - kW) // sw + 1
    out = 0.0
    for i in range(kH):
        for j in range(kW):
            patch = x[:, :, i:i + sh * OH:sh, j:j + sw * OW:sw]   # N C OH OW
            out = out + anp.einsum("nchw,fc->nfhw", patch, w[:, :, i, j])
    return out + b[None, :, None, None]


def maxpool_nchw(x, p):
    N, C, H, W = x.shape
    x = x[:, :, :H // p * p, :W // p * p]
    return anp.max(anp.reshape(x, (N, C, H // p, p, W // p, p)), axis=(3, 5))


def avgpool_nchw(x, p):
    N, C, H, W = x.shape
    x = x[:, :, :H // p * p, :W // p * p]
    return anp.mean(anp.reshape(x, (N, C, H // p, p, W // p, p)), axis=(3, 5))


def flatten_nhwc(x):
    """N x C x H x W -> N x H*W*C in (h, w, c) order: the order Flatten (and Dense after it) use."""
    return anp.reshape(anp.transpose(x, (0, 2, 3, 1)), (x.shape[0], -1))


def softmax_ce(z, y):
    m = anp.max(z, axis=1, keepdims=True)
    lse = m + anp.log(anp.sum(anp.exp(z - m), axis=1, keepdims=True))
    return anp.sum(lse[:, 0] - anp.sum(y * z, axis=1)) / z.shape[0]


def kernel_matrix(w):
    """PyTorch's F x C x kH x kW weight as matcalc's kH*kW*C x F kernel matrix K."""
    return w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0])


def cnn_reference(pool):
    def loss(params, x, y):
        w1, b1, w2, b2, W3, b3 = params
        h = conv2d_nchw(x, w1, b1, stride=2, padding=1)
        h = pool(anp.maximum(h, 0.0), 2)
        h = conv2d_nchw(h, w2, b2, stride=1, padding=1)
        h = anp.tanh(h)
        return softmax_ce(flatten_nhwc(h) @ W3 + b3, y)
    return loss


def cnn(pool_layer):
    """conv(stride 2, padding 1) relu pool conv(padding 1) tanh flatten dense, on 2 x 9 x 9."""
    return nn.Sequential([nn.Conv2D(2, 3, 3, stride=2, padding=1), nn.ReLU(), pool_layer(2),
                          nn.Conv2D(3, 4, 3, padding=1), nn.Tanh(), nn.Flatten(),
                          nn.Dense(4 * 2 * 2, 5)],
                         loss=nn.SoftmaxCrossEntropy(), input=(2, 9, 9))


def cnn_values(seed=0, N=6):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, 2, 9, 9))
    y = np.eye(5)[rng.integers(0, 5, N)]
    params = [rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3),
              rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4),
              rng.standard_normal((16, 5)), rng.standard_normal(5)]
    values = {"X": nn.images_as_rows(x), "Y": y, "K1": kernel_matrix(params[0]),
              "b1": params[1], "K2": kernel_matrix(params[2]), "b2": params[3],
              "W3": params[4], "b3": params[5]}
    return x, y, params, values


def autograd_gradients(loss, params, x, y):
    grads = autograd.grad(loss)(params, x, y)
    return {"K1": kernel_matrix(grads[0]), "b1": grads[1], "K2": kernel_matrix(grads[2]),
            "b2": grads[3], "W3": grads[4], "b3": grads[5]}


@pytest.mark.parametrize("pool_layer, pool", [(nn.MaxPool2D, maxpool_nchw),
                                              (nn.AvgPool2D, avgpool_nchw)],
                         ids=["maxpool", "avgpool"])
def test_cnn_gradients_equal_autograd(pool_layer, pool):
    x, y, params, values = cnn_values()
    net = cnn(pool_layer)
    bp = net.backprop()
    want = autograd_gradients(cnn_reference(pool), params, x, y)
    got = bp.evaluate(values)
    for name in want:
        np.testing.assert_allclose(np.ravel(got[name]), np.ravel(want[name]), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(bp.values(values)["loss"], cnn_reference(pool)(params, x, y),
                               rtol=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 2e-4)])
def test_generated_cnn_code_equals_autograd(dtype, rtol):
    x, y, params, values = cnn_values(seed=1)
    source = codegen.numpy_source(cnn(nn.MaxPool2D), name="cnn")
    assert "sliding_window_view" in source and "for " not in source.split("\ndef _")[0]
    module = {}
    exec(compile(source, "cnn.py", "exec"), module)
    loss, grads = module["value_and_grad"](**{k: np.asarray(v, dtype=dtype) for k, v in values.items()})
    want = autograd_gradients(cnn_reference(maxpool_nchw), params, x, y)
    for name in want:
        assert grads[name].dtype == dtype
        np.testing.assert_allclose(np.ravel(grads[name]), np.ravel(want[name]), rtol=rtol,
                                   atol=rtol * np.abs(want[name]).max())


def test_conv1d_gradients_equal_autograd():
    rng = np.random.default_rng(2)
    N, C, L = 5, 3, 11
    x = rng.standard_normal((N, C, L))
    y = rng.standard_normal((N, 2))
    w = rng.standard_normal((4, C, 3))
    b, W2 = rng.standard_normal(4), rng.standard_normal((4 * 6, 2))

    def loss(params):
        w, b, W2 = params
        h = conv2d_nchw(x[:, :, None, :], w[:, :, None, :], b, stride=(1, 2), padding=(0, 1))
        return anp.sum((flatten_nhwc(anp.maximum(h, 0.0)) @ W2 - y) ** 2)

    net = nn.from_spec("conv1d(3,4,3,stride=2,padding=1,bias=true) relu flatten dense(24,2,bias=false)",
                       input=(C, L))
    want = autograd.grad(loss)([w, b, W2])
    got = net.backprop().evaluate({"X": nn.images_as_rows(x), "Y": y,
                                   "K1": w.transpose(2, 1, 0).reshape(-1, 4), "b1": b, "W2": W2})
    np.testing.assert_allclose(got["K1"], want[0].transpose(2, 1, 0).reshape(-1, 4), rtol=RTOL)
    np.testing.assert_allclose(np.ravel(got["b1"]), want[1], rtol=RTOL)
    np.testing.assert_allclose(got["W2"], want[2], rtol=RTOL)


def test_cnn_derivation_shows_im2col_and_its_adjoint_by_name():
    bp = nn.from_spec("conv2d(1,8,3,stride=2,padding=1) relu maxpool(2) flatten dense(392,10)",
                      input=(1, 28, 28), loss="softmax_ce").backprop()
    text = bp.text()
    lines = {n: mc.to_text(e) for n, e, _ in bp.backward}
    assert lines["grad_K1"] == "im2col(X, 1, 28, 28, 3, 3, 2, 2, 1, 1).T@grad_Z1"
    assert lines["grad_P1"].startswith("col2im(grad_F1, 8, 7, 7, 7, 7, 1, 1, 0, 0, 8)")
    assert "Convolution layer Z1 = im2col(X, 1, 28, 28, 3, 3, 2, 2, 1, 1)@K1 + b1.T:" in text
    assert "adjoint of im2col: tr(G.T@im2col(dX," in text
    assert r"\operatorname{col2im}" in bp.latex()


def test_im2col_col2im_are_adjoint_on_random_geometries():
    """tr(G.T @ im2col(X)) = tr(col2im(G).T @ X), by the evaluator and by the generated helpers."""
    rng = np.random.default_rng(3)
    helpers = {"np": np}
    exec(windows.IM2COL_HELPER + windows.COL2IM_HELPER, helpers)
    for C, H, W, K, S, P in [(2, 7, 5, 3, 2, 1), (1, 6, 6, 2, 2, 0), (3, 4, 5, 4, 1, 2), (2, 5, 5, 5, 1, 0)]:
        w = windows.Window(C, H, W, K, K, S, S, P, P)
        X = rng.standard_normal((3, H * W * C))
        cols = windows.im2col_array(np, X, w)
        G = rng.standard_normal(cols.shape)
        back = windows.col2im_array(np, G, w, X.shape[1])
        assert np.isclose(np.sum(G * cols), np.sum(back * X), rtol=1e-12)
        np.testing.assert_array_equal(helpers["_im2col"](X, *w.numbers()), cols)
        np.testing.assert_allclose(helpers["_col2im"](G, *w.numbers(), X.shape[1]), back, rtol=1e-12)


def test_layer_sizes_that_do_not_fit_name_both():
    with pytest.raises(ShapeError, match=r"conv2d\(3,8,3\) expects 3 input channels, got 1 x 28 x 28"):
        nn.from_spec("conv2d(3,8,3) relu flatten dense(6272,10)", input=(1, 28, 28))
    with pytest.raises(ShapeError, match=r"dense\(100,10\) expects 100 inputs, got 5408 features \(layer 3\)"):
        nn.from_spec("conv2d(1,8,3) flatten dense(100,10)", input=(1, 28, 28))
    with pytest.raises(ShapeError, match="add flatten"):
        nn.from_spec("conv2d(1,8,3) dense(100,10)", input=(1, 28, 28))
    with pytest.raises(ShapeError, match="needs images"):
        nn.from_spec("dense(4,8) maxpool(2)")
    with pytest.raises(ParseError, match="stride must be an integer >= 1"):
        nn.from_spec("conv2d(1,8,3,stride=0)", input=(1, 8, 8))
    with pytest.raises(ParseError, match="unknown option 'pad'"):
        nn.from_spec("conv2d(1,8,3,pad=1)", input=(1, 8, 8))


def test_cli_net_with_input_and_exit_code_2(capsys):
    from matcalc.cli import main
    assert main(["net", "conv2d(1,2,3,stride=2,padding=1) relu maxpool(2) flatten dense(8,3)",
                 "--input", "1,8,8", "--loss", "softmax_ce", "--check"]) == 0
    out = capsys.readouterr().out
    assert "K1: im2col(X, 1, 8, 8, 3, 3, 2, 2, 1, 1).T@grad_Z1" in out and ": ok" in out
    assert main(["net", "conv2d(2,2,3) flatten dense(8,3)", "--input", "1,8,8"]) == 2
    assert "expects 2 input channels, got 1 x 8 x 8" in capsys.readouterr().err


def test_the_cnn_example_trains_with_generated_code():
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parent.parent / "examples" / "nn_cnn.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    losses = [float(line.rsplit("=", 1)[1]) for line in out.splitlines() if line.startswith("step")]
    assert len(losses) == 7 and losses[-1] < 0.2 * losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:]))


def test_cnn_gradients_equal_pytorch():
    torch = pytest.importorskip("torch")
    x, y, params, values = cnn_values(seed=4)
    t = [torch.tensor(p, requires_grad=True) for p in params]
    tx, ty = torch.tensor(x), torch.tensor(y)
    h = torch.nn.functional.conv2d(tx, t[0], t[1], stride=2, padding=1)
    h = torch.nn.functional.max_pool2d(torch.relu(h), 2)
    h = torch.tanh(torch.nn.functional.conv2d(h, t[2], t[3], padding=1))
    z = h.permute(0, 2, 3, 1).reshape(x.shape[0], -1) @ t[4] + t[5]
    loss = torch.nn.functional.cross_entropy(z, ty.argmax(dim=1))
    loss.backward()
    got = cnn(nn.MaxPool2D).backprop().evaluate(values)
    for name, p in zip(["K1", "b1", "K2", "b2", "W3", "b3"], t):
        want = p.grad.numpy()
        want = kernel_matrix(want) if name.startswith("K") else want
        np.testing.assert_allclose(np.ravel(got[name]), np.ravel(want), rtol=1e-7, atol=1e-12)
