"""One forward + backward pass of a small CNN (issue 11): the module matcalc generates against
the same model written by hand in NumPy and against PyTorch eager on the CPU.

    conv2d(1,8,3,padding=1) relu maxpool(2) conv2d(8,16,3,padding=1) relu maxpool(2)
    flatten dense(784,10), softmax cross-entropy; 28 x 28 images, batch 64, float32

Run: python benchmarks/bench_cnn.py  (prints median wall times over repeats and the ratios)
"""
import numpy as np

import codegen
from matcalc import nn
from timing import median_times, print_against

SPEC = ("conv2d(1,8,3,padding=1) relu maxpool(2) conv2d(8,16,3,padding=1) relu maxpool(2) "
        "flatten dense(784,10)")
N, REPEATS = 64, 30
swv = np.lib.stride_tricks.sliding_window_view


# ---- the same network by hand, in NumPy (pixel rows N*H*W x C, as the seed's im2col) --------
# with the tricks the generated module uses (core/windows.py), so the race is fair: windows as a
# view of the (N, H, W*C) images (a window row is KW*C consecutive entries) copied once for the
# GEMM (one channel: a column per kernel offset); col2im of gZ @ K.T as one small GEMM per
# kernel offset added onto a strided slice; max pooling by image rows then pixels, its adjoint
# sharing the gradient among tied maxima (1/k each, the convention of matcalc and autograd)
# with the maxima repeated along the image rows; bias gradients as ones @ G.
def im2col(X4, k, pad):
    n, h, w, c = X4.shape
    padded = np.zeros((n, h + 2 * pad, w + 2 * pad, c), X4.dtype)
    padded[:, pad:pad + h, pad:pad + w] = X4
    if c == 1:                          # one channel: a column per kernel offset
        out = np.empty((n, h, w, k * k), X4.dtype)
        for i in range(k):
            for j in range(k):
                out[..., i * k + j] = padded[:, i:i + h, j:j + w, 0]
        return out.reshape(-1, k * k)
    rows = swv(padded.reshape(n, h + 2 * pad, -1), (k, k * c), axis=(1, 2))[:, :, ::c]
    return rows.reshape(-1, k * k * c)


def col2im_of_product(gZ, K, shape, k, pad):
    """col2im(gZ @ K.T) for stride 1."""
    n, h, w, c = shape
    out = np.zeros((n, h + 2 * pad, w + 2 * pad, c), gZ.dtype)
    for i in range(k):
        for j in range(k):
            o = (i * k + j) * c
            out[:, i:i + h, j:j + w] += (gZ @ K[o:o + c].T).reshape(n, h, w, c)
    return out[:, pad:pad + h, pad:pad + w]


def maxpool(A, n, h, w, c):
    """2 x 2 max pooling of pixel rows A (n*h*w x c) -> (n, h/2, w/2, c): the maximum of the
    two image rows of each window (runs of w*c entries), then of its two pixels."""
    rows = A.reshape(n, h // 2, 2, w * c)
    top = np.maximum(rows[:, :, 0], rows[:, :, 1]).reshape(n, h // 2, w // 2, 2, c)
    return np.maximum(top[:, :, :, 0], top[:, :, :, 1])


def maxpool_adjoint(G, A, M, n, h, w, c):
    """G shared among the tied maxima M of each window, with the maxima repeated along the
    image rows so that comparison and product run over whole rows."""
    along_rows = np.repeat(M, 2, axis=2).reshape(n, h // 2, 1, w * c)
    hits = A.reshape(n, h // 2, 2, w * c) == along_rows
    ties = np.add(hits[:, :, 0], hits[:, :, 1], dtype=G.dtype).reshape(n, h // 2, w // 2, 2, c)
    count = np.add(ties[:, :, :, 0], ties[:, :, :, 1])
    share = np.divide(G.reshape(count.shape), count, out=count)
    share = np.repeat(share, 2, axis=2).reshape(n, h // 2, 1, w * c)
    return np.multiply(hits, share, dtype=G.dtype).reshape(-1, c)


def hand(x, y, K1, b1, K2, b2, W3, b3):
    n = x.shape[0]
    C1 = im2col(x.reshape(n, 28, 28, 1), 3, 1)
    Z1 = C1 @ K1
    Z1 += b1
    A1 = np.maximum(Z1, 0, out=Z1)
    P1 = maxpool(A1, n, 28, 28, 8)
    C2 = im2col(P1, 3, 1)
    Z2 = C2 @ K2
    Z2 += b2
    A2 = np.maximum(Z2, 0, out=Z2)
    P2 = maxpool(A2, n, 14, 14, 16)
    F = P2.reshape(n, -1)
    z = F @ W3 + b3
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.sum(y * np.log(p)) / n
    gz = (p - y) / n
    gW3, gb3 = F.T @ gz, np.ones(n, gz.dtype) @ gz
    gZ2 = maxpool_adjoint(gz @ W3.T, A2, P2, n, 14, 14, 16)
    gZ2 *= A2 > 0
    gK2, gb2 = C2.T @ gZ2, np.ones(len(gZ2), gZ2.dtype) @ gZ2
    gP1 = col2im_of_product(gZ2, K2, (n, 14, 14, 8), 3, 1)
    gZ1 = maxpool_adjoint(gP1, A1, P1, n, 28, 28, 8)
    gZ1 *= A1 > 0
    gK1, gb1 = C1.T @ gZ1, np.ones(len(gZ1), gZ1.dtype) @ gZ1
    return loss, (gK1, gb1, gK2, gb2, gW3, gb3)


def main():
    try:                                   # one BLAS thread, as PyTorch gets below: a fair CPU race
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.standard_normal((N, 784)).astype(f32)
    y = np.eye(10, dtype=f32)[rng.integers(0, 10, N)]
    params = {"K1": rng.standard_normal((9, 8)).astype(f32) * 0.3, "b1": np.zeros(8, f32),
              "K2": rng.standard_normal((72, 16)).astype(f32) * 0.1, "b2": np.zeros(16, f32),
              "W3": rng.standard_normal((784, 10)).astype(f32) * 0.05, "b3": np.zeros(10, f32)}
    net = nn.from_spec(SPEC, loss="softmax_ce", input=(1, 28, 28))
    namespace = {}
    exec(compile(codegen.numpy_source(net, name="cnn"), "cnn.py", "exec"), namespace)
    generated = namespace["value_and_grad"]
    loss_g, grads_g = generated(X=x, Y=y, **params)
    loss_h, grads_h = hand(x, y, *params.values())
    for g, h in zip(grads_g.values(), grads_h):
        np.testing.assert_allclose(np.ravel(g), np.ravel(h), rtol=2e-3, atol=1e-5)
    cases = {"generated (matcalc)": lambda: generated(X=x, Y=y, **params),
             "hand-written NumPy": lambda: hand(x, y, *params.values())}
    try:
        import torch
        torch.set_num_threads(1)
        tx, ty = torch.tensor(x.reshape(N, 28, 28, 1)).permute(0, 3, 1, 2), torch.tensor(y).argmax(1)
        tp = [torch.tensor(params["K1"].reshape(3, 3, 1, 8).transpose(3, 2, 0, 1).copy(), requires_grad=True),
              torch.tensor(params["b1"], requires_grad=True),
              torch.tensor(params["K2"].reshape(3, 3, 8, 16).transpose(3, 2, 0, 1).copy(), requires_grad=True),
              torch.tensor(params["b2"], requires_grad=True),
              torch.tensor(params["W3"], requires_grad=True), torch.tensor(params["b3"], requires_grad=True)]
        F = torch.nn.functional

        def eager():
            h = F.max_pool2d(torch.relu(F.conv2d(tx, tp[0], tp[1], padding=1)), 2)
            h = F.max_pool2d(torch.relu(F.conv2d(h, tp[2], tp[3], padding=1)), 2)
            z = h.permute(0, 2, 3, 1).reshape(N, -1) @ tp[4] + tp[5]
            return torch.autograd.grad(F.cross_entropy(z, ty), tp)
        cases["PyTorch eager (1 thread)"] = eager
    except ImportError:
        pass
    times = median_times(cases, REPEATS)
    print_against(f"CNN fwd+bwd, batch {N}, 28 x 28, float32, CPU time, median of interleaved {REPEATS}:", times, "generated (matcalc)")


if __name__ == "__main__":
    main()
