"""Max pooling at ties (issue 11): where k entries of a pooling window tie for the largest, each
gets 1/k of the derivative, as `max`'s record and autograd take it (blockargmax in
core/windows.py); in the derived formula (evaluate) and in generated code, float64 and float32,
on integer images whose relu outputs and windows tie. Also the generated module's pooling
(max and average pooling read from the images in place, with and without a remainder), im2col
and col2im helpers against the evaluator's own im2col/col2im and against autograd."""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import codegen
import matcalc as mc
from matcalc import nn
from matcalc.core import windows


def blockmax_reference(P, g):
    return anp.max(anp.reshape(P, (P.shape[0], g, P.shape[1] // g)), axis=1)


TIED = np.array([[1.0, 1, 0, 0, 1, 0, 1, 0],      # channel 0: three ones tie; channel 1: one 1
                 [2, 3, 2, 3, 2, 3, 2, 3],        # every block position ties four ways
                 [0, 0, 0, 0, 0, 0, 0, 0],
                 [5, -1, 4, -2, 3, -3, 2, -4]])   # no tie


def test_blockmax_gradient_at_ties_shares_as_autograd():
    f = mc.parse("sum(blockmax(P, 4) * B)", {"P": (4, 8), "B": (4, 2)})
    B = np.arange(8.0).reshape(4, 2) + 1
    bp = mc.grad(f, "P")
    assert "blockargmax(P, 4)" in mc.to_text(bp.result)
    got = mc.evaluate(bp.result, {"P": TIED, "B": B})
    want = autograd.grad(lambda P: anp.sum(blockmax_reference(P, 4) * B))(TIED)
    np.testing.assert_allclose(got, want, rtol=1e-15)
    assert got[0, 0] == pytest.approx(1 / 3) and got[1, 1] == pytest.approx(B[1, 1] / 4)
    np.testing.assert_allclose(got.reshape(4, 4, 2).sum(axis=1), B)   # a subgradient: sums to 1


def test_blockmax_gradient_matches_finite_differences_along_directions_that_keep_the_ties():
    """At a tie the function has a kink; along a direction that moves the tied entries of a
    block together (and anything else freely) it is differentiable, and <G, V> is its slope."""
    rng = np.random.default_rng(0)
    f = mc.parse("sum(blockmax(P, 4) * B)", {"P": (4, 8), "B": (4, 2)})
    B = rng.standard_normal((4, 2))
    G = mc.evaluate(mc.grad(f, "P").result, {"P": TIED, "B": B})
    blocks = TIED.reshape(4, 4, 2)
    tied = blocks == blocks.max(axis=1, keepdims=True)
    V = rng.standard_normal((4, 4, 2))
    shift = rng.standard_normal((4, 1, 2))
    V = np.where(tied, shift, V * 0.1).reshape(4, 8)      # tied entries move as one
    h = 1e-6
    value = lambda P: float(mc.evaluate(f, {"P": P, "B": B}))
    slope = (value(TIED + h * V) - value(TIED - h * V)) / (2 * h)
    assert np.sum(G * V) == pytest.approx(slope, rel=1e-8)


# ---- a CNN with ties: integer images and kernels, relu zeros, in N x C x H x W --------------
def conv2d_nchw(x, w, b, padding):
    N, C, H, W = x.shape
    F, _, k, _ = w.shape
    x = anp.concatenate([anp.zeros((N, C, padding, W)), x, anp.zeros((N, C, padding, W))], axis=2)
    x = anp.concatenate([anp.zeros((N, C, H + 2 * padding, padding)), x,
                         anp.zeros((N, C, H + 2 * padding, padding))], axis=3)
    OH, OW = H + 2 * padding - k + 1, W + 2 * padding - k + 1
    out = 0.0
    for i in range(k):
        for j in range(k):
            out = out + anp.einsum("nchw,fc->nfhw", x[:, :, i:i + OH, j:j + OW], w[:, :, i, j])
    return out + b[None, :, None, None]


def maxpool_nchw(x, p):
    N, C, H, W = x.shape
    x = x[:, :, :H // p * p, :W // p * p]
    return anp.max(anp.reshape(x, (N, C, H // p, p, W // p, p)), axis=(3, 5))


def tied_cnn(size):
    """conv2d(1,3,3,padding=1) relu maxpool(2) flatten dense on size x size images: 8 x 8
    pools with windows that tile the image, 9 x 9 drops the last row and column."""
    out = size // 2
    spec = f"conv2d(1,3,3,padding=1) relu maxpool(2) flatten dense({out * out * 3},4)"
    net = nn.from_spec(spec, input=(1, size, size), loss="softmax_ce")
    rng = np.random.default_rng(size)
    x = rng.integers(0, 3, (5, 1, size, size)).astype(float)
    w = rng.integers(-1, 2, (3, 1, 3, 3)).astype(float)
    b = np.array([0.0, 1.0, -1.0])
    W3 = rng.integers(-2, 3, (out * out * 3, 4)).astype(float) / 4
    b3 = np.zeros(4)
    y = np.eye(4)[rng.integers(0, 4, 5)]

    def loss(params):
        w, b, W3, b3 = params
        z = conv2d_nchw(x, w, b, 1)
        h = maxpool_nchw(z * (z > 0), 2)          # relu'(0) = 0, matcalc's kink convention
        z = anp.reshape(anp.transpose(h, (0, 2, 3, 1)), (5, -1)) @ W3 + b3
        m = anp.max(z, axis=1, keepdims=True)
        lse = m + anp.log(anp.sum(anp.exp(z - m), axis=1, keepdims=True))
        return anp.sum(lse[:, 0] - anp.sum(y * z, axis=1)) / 5
    grads = autograd.grad(loss)([w, b, W3, b3])
    want = {"K1": grads[0].transpose(2, 3, 1, 0).reshape(-1, 3), "b1": grads[1], "W2": grads[2],
            "b2": grads[3]}
    values = {"X": nn.images_as_rows(x), "Y": y, "K1": w.transpose(2, 3, 1, 0).reshape(-1, 3),
              "b1": b, "W2": W3, "b2": b3}
    # the ties are there: windows whose largest entry repeats, positive and zero
    a = np.maximum(np.asarray(conv2d_nchw(x, w, b, 1)), 0.0)[:, :, :out * 2, :out * 2]
    a = a.reshape(5, 3, out, 2, out, 2)
    hits = (a == a.max(axis=(3, 5), keepdims=True)).sum(axis=(3, 5))
    largest = a.max(axis=(3, 5))
    assert np.any((hits > 1) & (largest > 0)), "the sample has no tie among positive maxima"
    return net, values, want


@pytest.mark.parametrize("size", [8, 9], ids=["windows tile", "windows do not tile"])
def test_cnn_with_tied_windows_derives_autograds_gradients(size):
    net, values, want = tied_cnn(size)
    got = net.backprop().evaluate(values)
    for name in want:
        np.testing.assert_allclose(np.ravel(got[name]), np.ravel(want[name]), rtol=1e-12,
                                   atol=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("size", [8, 9], ids=["windows tile", "windows do not tile"])
def test_generated_cnn_with_tied_windows_equals_autograd(size, dtype, rtol):
    net, values, want = tied_cnn(size)
    source = codegen.numpy_source(net, name="tied")
    body = source.split("\ndef _")[0]
    # pooling read from the images in place: no window matrix, no mask of it
    assert f"_maxpool(A1, 3, {size}, {size}, 2, 2)" in body and "_maxpool_adjoint(" in body
    assert "_im2col(A1" not in body and "_blockargmax(" not in body
    assert "np.multiply(grad_A1, (A1 > 0), out=grad_A1)" in body   # relu's mask in place
    module = {}
    exec(compile(source, "tied.py", "exec"), module)
    _, grads = module["value_and_grad"](**{k: np.asarray(v, dtype=dtype) for k, v in values.items()})
    for name in want:
        assert grads[name].dtype == dtype
        np.testing.assert_allclose(np.ravel(grads[name]), np.ravel(want[name]), rtol=rtol,
                                   atol=rtol * np.abs(want[name]).max())


# ---- the generated helpers against the evaluator's own im2col / col2im / blockmax ------------
HELPERS = {"np": np}
exec(windows.IM2COL_HELPER + windows.COL2IM_HELPER + windows.POOLING_HELPER, HELPERS)


@pytest.mark.parametrize("C, H, W, K, S, P", [(2, 7, 5, 3, 2, 1), (8, 14, 14, 3, 1, 1),
                                              (3, 4, 5, 4, 1, 2), (1, 6, 9, 2, 3, 0)])
def test_col2im_of_a_product_equals_col2im_of_the_product(C, H, W, K, S, P):
    rng = np.random.default_rng(C * H)
    w = windows.Window(C, H, W, K, K, S, S, P, P)
    A = rng.standard_normal((3 * w.OH * w.OW, 5)).astype(np.float32)
    B = rng.standard_normal((K * K * C, 5)).astype(np.float32).T
    got = HELPERS["_col2im_product"](A, B, *w.numbers(), C)
    want = windows.col2im_array(np, (A @ B).astype(np.float64), w, C)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("C, H, W, K", [(3, 8, 6, 2), (2, 9, 6, 3), (1, 4, 4, 4), (2, 9, 7, 2),
                                        (3, 5, 8, 3)])
def test_maxpool_helpers_equal_blockmax_of_im2col_and_its_adjoint(C, H, W, K):
    rng = np.random.default_rng(H)
    w = windows.Window(C, H, W, K, K, K, K, 0, 0)
    A = rng.integers(0, 3, (2 * H * W, C)).astype(np.float32)        # many ties
    windows_of_A = windows.im2col_array(np, A, w)
    g = K * K
    M = HELPERS["_maxpool"](A, C, H, W, K, K)
    np.testing.assert_array_equal(M, windows.blockmax_array(np, windows_of_A, g))
    np.testing.assert_array_equal(HELPERS["_blockmax"](windows_of_A, g), M)
    G = rng.standard_normal(M.shape).astype(np.float32)
    weights = windows.blockargmax_array(np, windows_of_A, g)
    want = windows.col2im_array(np, np.tile(G, (1, g)) * weights, w, C)
    got = HELPERS["_maxpool_adjoint"](G, A, M, C, H, W, K, K, C)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(HELPERS["_blockargmax"](windows_of_A, g), weights, rtol=1e-6)


def test_a_patch_convolution_forms_its_window_matrix_once():
    """Windows that tile the image but feed a product (stride = kernel) are formed once and
    saved for the kernel's gradient; only max pooling reads the images in place."""
    net = nn.from_spec("conv2d(1,4,2,stride=2) relu maxpool(2) flatten dense(196,3)",
                       input=(1, 28, 28), loss="softmax_ce")
    # forward and backward (value_and_grad runs the same lines as one program, issue 15)
    body = codegen.numpy_source(net, name="patches").split("\ndef value_and_grad")[0]
    assert body.count("_im2col(X, 1, 28, 28, 2, 2, 2, 2, 0, 0)") == 1
    assert "_maxpool(A1, 4, 14, 14, 2, 2)" in body and "_im2col(A1" not in body


@pytest.mark.parametrize("C, H, W, KH, KW, S, P", [(1, 7, 5, 3, 3, 2, 1), (1, 28, 28, 3, 3, 1, 1),
                                                   (1, 5, 8, 2, 3, 1, 2), (3, 6, 7, 3, 2, 2, 1)])
def test_im2col_helper_equals_the_evaluators_im2col(C, H, W, KH, KW, S, P):
    """One channel takes the copy per kernel offset, more channels one copy of the row view."""
    rng = np.random.default_rng(H * W)
    w = windows.Window(C, H, W, KH, KW, S, S, P, P)
    X = rng.standard_normal((2, H * W * C)).astype(np.float32)
    got = HELPERS["_im2col"](X, *w.numbers())
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, windows.im2col_array(np, X.astype(np.float64), w))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_generated_overlapping_max_pooling_with_ties_equals_the_derived_formula(dtype):
    """Windows that overlap (3 x 3, stride 2) take the general path: the window matrix and
    _blockargmax; ties share there too."""
    f = mc.parse("sum(blockmax(im2col(X, 2, 5, 5, 3, 3, 2, 2, 0, 0), 9) * B)",
                 {"X": (3, 50), "B": (12, 2)})
    rng = np.random.default_rng(5)
    X = rng.integers(0, 3, (3, 50)).astype(float)
    B = rng.standard_normal((12, 2))
    source = codegen.numpy_source(f, wrt=["X"], name="overlap")
    assert "_blockargmax(" in source.split("\ndef _")[0] and "_maxpool" not in source.split("\ndef _")[0]
    module = {}
    exec(compile(source, "overlap.py", "exec"), module)
    _, grads = module["value_and_grad"](X=X.astype(dtype), B=B.astype(dtype))
    want = mc.evaluate(mc.grad(f, "X").result, {"X": X, "B": B})

    def reference(X):
        images = anp.reshape(X, (3, 5, 5, 2))
        windows = [images[:, i:i + 3, j:j + 3, :] for i in (0, 2) for j in (0, 2)]
        largest = anp.stack([anp.max(w, axis=(1, 2)) for w in windows], axis=1)
        return anp.sum(anp.reshape(largest, (12, 2)) * B)
    np.testing.assert_allclose(want, autograd.grad(reference)(X), rtol=1e-12)
    assert grads["X"].dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(grads["X"], want, rtol=rtol, atol=rtol * np.abs(want).max())


# ---- average pooling, read from the images in place too ---------------------------------------
def avgpool_nchw(x, p):
    N, C, H, W = x.shape
    x = x[:, :, :H // p * p, :W // p * p]
    return anp.mean(anp.reshape(x, (N, C, H // p, p, W // p, p)), axis=(3, 5))


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("size", [8, 9], ids=["windows tile", "windows leave a remainder"])
def test_generated_average_pooling_reads_the_images_in_place_and_equals_autograd(size, dtype, rtol):
    out = size // 2
    net = nn.from_spec(f"conv2d(1,3,3,padding=1) tanh avgpool(2) flatten dense({out * out * 3},4)",
                       input=(1, size, size), loss="softmax_ce")
    rng = np.random.default_rng(size + 1)
    x = rng.standard_normal((5, 1, size, size))
    w, b = rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
    W3, b3 = rng.standard_normal((out * out * 3, 4)), rng.standard_normal(4)
    y = np.eye(4)[rng.integers(0, 4, 5)]

    def loss(params):
        w, b, W3, b3 = params
        h = avgpool_nchw(anp.tanh(conv2d_nchw(x, w, b, 1)), 2)
        z = anp.reshape(anp.transpose(h, (0, 2, 3, 1)), (5, -1)) @ W3 + b3
        m = anp.max(z, axis=1, keepdims=True)
        lse = m + anp.log(anp.sum(anp.exp(z - m), axis=1, keepdims=True))
        return anp.sum(lse[:, 0] - anp.sum(y * z, axis=1)) / 5
    grads = autograd.grad(loss)([w, b, W3, b3])
    want = {"K1": grads[0].transpose(2, 3, 1, 0).reshape(-1, 3), "b1": grads[1], "W2": grads[2],
            "b2": grads[3]}
    source = codegen.numpy_source(net, name="avg")
    body = source.split("\ndef _")[0]
    assert f"_sumpool(A1, 3, {size}, {size}, 2, 2)" in body and "_unpool(" in body
    assert "_im2col(A1" not in body and "np.tile(" not in body
    module = {}
    exec(compile(source, "avg.py", "exec"), module)
    values = {"X": nn.images_as_rows(x), "Y": y, "K1": w.transpose(2, 3, 1, 0).reshape(-1, 3),
              "b1": b, "W2": W3, "b2": b3}
    _, got = module["value_and_grad"](**{k: np.asarray(v, dtype=dtype) for k, v in values.items()})
    for name in want:
        assert got[name].dtype == dtype
        np.testing.assert_allclose(np.ravel(got[name]), np.ravel(want[name]), rtol=rtol,
                                   atol=rtol * np.abs(want[name]).max())


@pytest.mark.parametrize("C, H, W, K", [(3, 8, 6, 2), (2, 9, 7, 2), (1, 9, 6, 3)])
def test_sum_pooling_helpers_equal_the_window_sums_and_their_adjoint(C, H, W, K):
    rng = np.random.default_rng(W)
    w = windows.Window(C, H, W, K, K, K, K, 0, 0)
    A = rng.standard_normal((2 * H * W, C)).astype(np.float32)
    g = K * K
    summed = windows.im2col_array(np, A, w).reshape(-1, g, C).sum(axis=1)
    got = HELPERS["_sumpool"](A, C, H, W, K, K)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, summed, rtol=1e-5, atol=1e-5)
    G = rng.standard_normal(summed.shape).astype(np.float32)
    back = HELPERS["_unpool"](G, C, H, W, K, K, C)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, windows.col2im_array(np, np.tile(G, (1, g)), w, C), rtol=1e-6)
