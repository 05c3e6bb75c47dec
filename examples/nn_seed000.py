"""Seed 000, the PyTorch warm-up network: derive its backward pass by differential
identification and check it against the seed's hand-written NumPy code on the same data.

Run: python examples/nn_seed000.py
"""
import numpy as np

import matcalc as mc
from seed000_numpy import forward_backward, random_data
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

# The seed's code, verbatim (examples/seed000_numpy.py), on the seed's random data.
x, y, w1, w2 = random_data(0)
loss, grad_w1, grad_w2 = forward_backward(x, y, w1, w2)

derived = bp.evaluate({"X": x, "Y": y, "W1": w1, "W2": w2})
general = mc.grad(net.loss_expr, ["W1", "W2"]).results
print()
for name, seed in (("W1", grad_w1), ("W2", grad_w2)):
    engine = mc.evaluate(general[name], {"X": x, "Y": y, "W1": w1, "W2": w2})
    print(f"grad_{name}: max |derived - seed| / max |seed| = "
          f"{np.abs(derived[name] - seed).max() / np.abs(seed).max():.1e}; "
          f"general engine: {np.abs(engine - seed).max() / np.abs(seed).max():.1e}")
