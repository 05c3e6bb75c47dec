"""Seed 000, the PyTorch warm-up network: derive its backward pass by differential
identification and check it against the seed's hand-written NumPy code on the same data.

Run: python examples/nn_seed000.py
"""
import numpy as np

import matcalc as mc
from matcalc import nn

net = nn.Sequential([nn.Dense(1000, 100, bias=False), nn.ReLU(), nn.Dense(100, 10, bias=False)],
                    loss=nn.SumSquaredError(), batch="N")
print("loss =", mc.to_text(net.loss_expr))
bp = net.backprop()
print()
print(bp.text())
print()
print("The backward pass, line by line:")
for name, expr, comment in bp.backward:
    print(f"    # {comment}")
    print(f"    {name} = {mc.to_text(expr)}")

# The seed's code, verbatim (N is batch size; D_in input, H hidden, D_out output dimension).
N, D_in, H, D_out = 64, 1000, 100, 10
np.random.seed(0)
x = np.random.randn(N, D_in)
y = np.random.randn(N, D_out)
w1 = np.random.randn(D_in, H)
w2 = np.random.randn(H, D_out)
h = x.dot(w1)
h_relu = np.maximum(h, 0)
y_pred = h_relu.dot(w2)
grad_y_pred = 2.0 * (y_pred - y)
grad_w2 = h_relu.T.dot(grad_y_pred)
grad_h_relu = grad_y_pred.dot(w2.T)
grad_h = grad_h_relu.copy()
grad_h[h < 0] = 0
grad_w1 = x.T.dot(grad_h)

derived = bp.evaluate({"X": x, "Y": y, "W1": w1, "W2": w2})
general = mc.grad(net.loss_expr, ["W1", "W2"]).results
print()
for name, seed in (("W1", grad_w1), ("W2", grad_w2)):
    engine = mc.evaluate(general[name], {"X": x, "Y": y, "W1": w1, "W2": w2})
    print(f"grad_{name}: max |derived - seed| / max |seed| = "
          f"{np.abs(derived[name] - seed).max() / np.abs(seed).max():.1e}; "
          f"general engine: {np.abs(engine - seed).max() / np.abs(seed).max():.1e}")
