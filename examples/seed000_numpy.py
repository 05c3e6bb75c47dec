"""Seed 000's hand-written NumPy network (the PyTorch warm-up example), verbatim.

The reference that derived and generated backward passes must equal: tests, examples and
benchmarks import it from here, so there is one copy of the seed's code.
    h = x w1, h_relu = max(h, 0), y_pred = h_relu w2, loss = sum((y_pred - y)^2)
"""
import numpy as np

N, D_in, H, D_out = 64, 1000, 100, 10    # batch size; input, hidden and output dimensions


def random_data(seed=0, sizes=(N, D_in, H, D_out)):
    """x, y, w1, w2 drawn as the seed draws them."""
    n, d_in, h, d_out = sizes
    np.random.seed(seed)
    x = np.random.randn(n, d_in)
    y = np.random.randn(n, d_out)
    w1 = np.random.randn(d_in, h)
    w2 = np.random.randn(h, d_out)
    return x, y, w1, w2


def forward_backward(x, y, w1, w2):
    """The seed's forward and backward pass, line for line: (loss, grad_w1, grad_w2)."""
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)
    loss = np.square(y_pred - y).sum()
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.T.dot(grad_y_pred)
    grad_h_relu = grad_y_pred.dot(w2.T)
    grad_h = grad_h_relu.copy()
    grad_h[h < 0] = 0
    grad_w1 = x.T.dot(grad_h)
    return loss, grad_w1, grad_w2
