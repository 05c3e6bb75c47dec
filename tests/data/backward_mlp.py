"""A correct hand-written backward pass of dense(4,3) relu dense(3,2) with bias and the mean
squared error, in the derivation's names; tests/test_check_backward.py plants the common
mistakes into copies of it, one line at a time."""
import numpy as np


def forward_backward(X, Y, W1, b1, W2, b2):
    h = X @ W1 + b1.T
    h_relu = np.maximum(h, 0)
    y_pred = h_relu @ W2 + b2.T
    loss = np.sum((y_pred - Y) ** 2) / Y.size
    grad_y_pred = 2.0 * (y_pred - Y) / Y.size
    grad_W2 = h_relu.T @ grad_y_pred
    grad_b2 = grad_y_pred.sum(axis=0)
    grad_h_relu = grad_y_pred @ W2.T
    grad_h = grad_h_relu * (h > 0)
    grad_W1 = X.T @ grad_h
    grad_b1 = grad_h.sum(axis=0)
    return loss, grad_W1, grad_b1, grad_W2, grad_b2
