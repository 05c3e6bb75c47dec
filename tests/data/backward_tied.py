"""A correct hand-written gradient of f = sum((W @ tanh(W @ x) - y)**2) with respect to W, a
weight used twice: its gradient is the sum of the shares through both uses."""
import numpy as np


def gradient(W, x, y):
    a = W @ x
    h = np.tanh(a)
    out = W @ h
    r = out - y
    grad_out = 2.0 * r
    grad_W = grad_out @ h.T
    grad_h = W.T @ grad_out
    grad_a = grad_h * (1 - h ** 2)
    grad_W = grad_W + grad_a @ x.T
    return grad_W
