"""Seed 001, the XOR network (Dense(2,3), ReLU, Dense(3,1), biases, MSE): derive the backward
pass from the layer spec and train it with plain gradient descent on the four XOR points.

Run: python examples/nn_xor.py
"""
import numpy as np

import matcalc as mc
from matcalc import nn

net = nn.from_spec("dense(2,3) relu dense(3,1)", loss="mse")
bp = net.backprop()
print("loss =", mc.to_text(net.loss_expr))
for name, expr, comment in bp.backward:
    print(f"    {name:12} = {mc.to_text(expr):28} # {comment}")

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)       # the seed's train_X
Y = np.array([[0], [1], [1], [0]], float)                   # the seed's train_y, as a column
rng = np.random.default_rng(0)
params = {"W1": rng.normal(0, 1.0, (2, 3)), "b1": rng.normal(0, 0.1, 3),
          "W2": rng.normal(0, 1.0, (3, 1)), "b2": rng.normal(0, 0.1, 1)}
learning_rate = 0.1
for t in range(5001):
    values = {"X": X, "Y": Y, **params}
    grads = bp.evaluate(values)
    params = {p: params[p] - learning_rate * grads[p] for p in params}
    if t % 1000 == 0:
        print(f"step {t:5}: loss = {mc.evaluate(net.loss_expr, values):.6f}")
out = bp.values({"X": X, "Y": Y, **params})["y_pred"]
print("predictions:", np.round(out[:, 0], 3), "-> classes", (out[:, 0] > 0.5).astype(int))
