"""A correct hand-written gradient of f = sum((softmax(W @ x) - y)**2) with respect to W: the
Jacobian of softmax is diag(p) - p p^T, so grad_z = p * (grad_p - sum(p * grad_p))."""
import numpy as np


def gradient(W, x, y):
    z = W @ x
    e = np.exp(z - z.max())
    p = e / e.sum()
    grad_p = 2.0 * (p - y)
    grad_z = p * (grad_p - np.sum(p * grad_p))
    grad_W = grad_z @ x.T
    return grad_W
