"""Dropout, LayerNorm and BatchNorm on images (issue 11): after a convolution (pixel rows,
N*H*W x C) and on the input images (example rows, N x H*W*C), derived by the one reverse walk;
the gradients equal HIPS autograd's on the same networks written here independently in
N x C x H x W arrays (BatchNorm2d: per-channel statistics over N, H, W; layernorm: statistics
over C, H, W of each image with a per-channel gain and shift, PyTorch's GroupNorm(1, C);
dropout: a full N x C x H x W mask), central finite differences of the loss as typed, the
generated NumPy module in float64 and float32, and PyTorch where it is installed."""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import codegen
from matcalc import nn
from matcalc.errors import ShapeError
from test_nn_conv import conv2d_nchw, flatten_nhwc, kernel_matrix, maxpool_nchw

EPS = 1e-5
N = 4


def batchnorm2d(h, g, b):
    mu = anp.mean(h, axis=(0, 2, 3), keepdims=True)
    var = anp.mean((h - mu) ** 2, axis=(0, 2, 3), keepdims=True)
    return (h - mu) / anp.sqrt(var + EPS) * g[None, :, None, None] + b[None, :, None, None]


def groupnorm1(h, g, b):
    mu = anp.mean(h, axis=(1, 2, 3), keepdims=True)
    var = anp.mean((h - mu) ** 2, axis=(1, 2, 3), keepdims=True)
    return (h - mu) / anp.sqrt(var + EPS) * g[None, :, None, None] + b[None, :, None, None]


# Network A: the layers after a convolution (its output in pixel rows)
SPEC_A = "conv2d(2,3,3,padding=1,bias=false) batchnorm(3) relu dropout(0.4) layernorm(3) flatten dense(75,4)"


def reference_a(p, x, y, m):
    w, g1, b1, g2, b2, W, b = p
    h = batchnorm2d(conv2d_nchw(x, w, anp.zeros(3), 1, 1), g1, b1)
    h = groupnorm1(anp.maximum(h, 0.0) * m / 0.6, g2, b2)
    return anp.sum((flatten_nhwc(h) @ W + b - y) ** 2)


def draw_a(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((N, 2, 5, 5)), rng.standard_normal((N, 4))
    m = (rng.random((N, 3, 5, 5)) > 0.4).astype(float)
    p = [rng.standard_normal((3, 2, 3, 3))] + [rng.standard_normal(3) for _ in range(4)] + \
        [rng.standard_normal((75, 4)), rng.standard_normal(4)]
    values = {"X": nn.images_as_rows(x), "Y": y, "M4": nn.images_as_rows(m),
              "K1": kernel_matrix(p[0]), "gamma2": p[1], "beta2": p[2], "gamma3": p[3],
              "beta3": p[4], "W4": p[5], "b4": p[6]}
    return x, y, m, p, values


# Network B: the layers on the input images (example rows), then after a strided convolution
SPEC_B = ("batchnorm(2) dropout(0.25) conv2d(2,3,3,stride=2,padding=1) layernorm(3) tanh "
          "maxpool(2) flatten dense(12,4)")


def reference_b(p, x, y, m):
    g1, b1, w, bw, g2, b2, W, b = p
    h = batchnorm2d(x, g1, b1) * m / 0.75
    h = groupnorm1(conv2d_nchw(h, w, bw, 2, 1), g2, b2)
    return anp.sum((flatten_nhwc(maxpool_nchw(anp.tanh(h), 2)) @ W + b - y) ** 2)


def draw_b(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((N, 2, 7, 7)), rng.standard_normal((N, 4))
    m = (rng.random((N, 2, 7, 7)) > 0.25).astype(float)
    p = [rng.standard_normal(2), rng.standard_normal(2), rng.standard_normal((3, 2, 3, 3)),
         rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3),
         rng.standard_normal((12, 4)), rng.standard_normal(4)]
    values = {"X": nn.images_as_rows(x), "Y": y, "M2": nn.images_as_rows(m), "gamma1": p[0],
              "beta1": p[1], "K2": kernel_matrix(p[2]), "b2": p[3], "gamma3": p[4],
              "beta3": p[5], "W4": p[6], "b4": p[7]}
    return x, y, m, p, values


NETS = {"after_conv": (SPEC_A, (2, 5, 5), reference_a, draw_a),
        "on_input": (SPEC_B, (2, 7, 7), reference_b, draw_b)}


def autograd_gradients(reference, p, x, y, m, names):
    grads = autograd.grad(reference)(p, x, y, m)
    return {n: kernel_matrix(g) if n.startswith("K") else g for n, g in zip(names, grads)}


def compare(got, want, rtol):
    for name, w in want.items():
        scale = np.abs(w).max()
        np.testing.assert_allclose(np.ravel(got[name]), np.ravel(w), rtol=rtol, atol=rtol * scale,
                                   err_msg=name)


@pytest.mark.parametrize("which", NETS)
def test_evaluated_formulas_equal_autograd(which):
    spec, shape, reference, draw = NETS[which]
    net = nn.from_spec(spec, input=shape)
    x, y, m, p, values = draw(0)
    bp = net.backprop()
    want = autograd_gradients(reference, p, x, y, m, list(net.parameters))
    compare(bp.evaluate(values), want, 1e-9)
    np.testing.assert_allclose(bp.values(values)["loss"], reference(p, x, y, m), rtol=1e-12)


@pytest.mark.parametrize("which", NETS)
def test_finite_differences_of_the_loss_as_typed(which):
    spec, shape, _, _ = NETS[which]
    report = nn.from_spec(spec, input=shape).backprop().check()
    assert report.ok, str(report)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 1e-3)])
@pytest.mark.parametrize("which", NETS)
def test_generated_code_equals_autograd(which, dtype, rtol):
    spec, shape, reference, draw = NETS[which]
    net = nn.from_spec(spec, input=shape)
    x, y, m, p, values = draw(1)
    loss, grads = codegen.compile(net)(**{k: np.asarray(v, dtype=dtype) for k, v in values.items()})
    want = autograd_gradients(reference, p, x, y, m, list(net.parameters))
    for name in want:
        assert grads[name].dtype == dtype, name
    compare(grads, want, rtol)
    np.testing.assert_allclose(loss, reference(p, x, y, m), rtol=rtol)


def test_the_shapes_and_names_of_the_image_layers():
    net = nn.from_spec(SPEC_A, input=(2, 5, 5))
    assert net.shapes["M4"] == ("N", 75)                    # the full mask, as example rows
    assert net.parameter_shapes()["gamma2"] == (3,) and net.parameter_shapes()["beta3"] == (3,)
    assert net.example_shapes[1:6] == [(3, 5, 5)] * 5
    with pytest.raises(ShapeError, match=r"batchnorm\(4\) expects 4 channels, got 3 x 5 x 5 "
                                         r"\(C x H x W\) \(layer 2\)"):
        nn.from_spec("conv2d(2,3,3,padding=1) batchnorm(4) flatten dense(75,4)", input=(2, 5, 5))
    with pytest.raises(ShapeError, match=r"layernorm\(50\) expects 50 channels, got 2 x 5 x 5"):
        nn.from_spec("layernorm(50) flatten dense(50,4)", input=(2, 5, 5))


def test_equal_pytorch():
    torch = pytest.importorskip("torch")
    net = nn.from_spec(SPEC_A, input=(2, 5, 5))
    x, y, m, p, values = draw_a(2)
    t = [torch.tensor(v, requires_grad=True) for v in p]
    bn, gn = torch.nn.BatchNorm2d(3, eps=EPS).double(), torch.nn.GroupNorm(1, 3, eps=EPS).double()
    with torch.no_grad():
        bn.weight.copy_(t[1]), bn.bias.copy_(t[2]), gn.weight.copy_(t[3]), gn.bias.copy_(t[4])
    h = bn(torch.nn.functional.conv2d(torch.tensor(x), t[0], padding=1))
    h = gn(torch.relu(h) * torch.tensor(m) / 0.6)
    loss = torch.sum((h.permute(0, 2, 3, 1).reshape(N, -1) @ t[5] + t[6] - torch.tensor(y)) ** 2)
    loss.backward()
    want = {"K1": kernel_matrix(t[0].grad.numpy()), "gamma2": bn.weight.grad.numpy(),
            "beta2": bn.bias.grad.numpy(), "gamma3": gn.weight.grad.numpy(),
            "beta3": gn.bias.grad.numpy(), "W4": t[5].grad.numpy(), "b4": t[6].grad.numpy()}
    compare(net.backprop().evaluate(values), want, 1e-9)


@pytest.mark.parametrize("which", NETS)
def test_generated_predict_leaves_dropout_out(which):
    """predict(X, params) is the reference with the mask at 1 - p (dropout the identity)."""
    spec, shape, reference, draw = NETS[which]
    net = nn.from_spec(spec, input=shape)
    x, y, m, p, values = draw(3)
    keep = 1 - next(l.p for l in net.layers if isinstance(l, nn.Dropout))
    fn = codegen.compile(net)
    y_pred = fn.predict(values["X"], **{n: values[n] for n in net.parameters})
    residual = y_pred - y                 # the loss is sum((y_pred - y)**2)
    np.testing.assert_allclose(np.sum(residual ** 2), reference(p, x, y, np.full(m.shape, keep)),
                               rtol=1e-10)
