"""Seed 004, the Keras MNIST classifier (Dense(784,512) relu, Dense(512,10), softmax
cross-entropy), derived by identification and trained for a few steps on synthetic data
(random 28x28 "images" whose class is decided by a hidden linear map), checked against the
general engine and HIPS autograd.

Run: python examples/nn_mnist_like.py
"""
import autograd
import autograd.numpy as anp
import numpy as np

import matcalc as mc
from matcalc import nn

net = nn.from_spec("dense(784,512) relu dense(512,10)", loss="softmax_ce", batch="N")
bp = net.backprop()
print("loss =", mc.to_text(net.loss_expr))
for name, expr, comment in bp.backward:
    print(f"    {name:12} = {mc.to_text(expr):28} # {comment}")

rng = np.random.default_rng(4)
N = 128
images = rng.random((N, 784))
labels = np.argmax(images @ rng.standard_normal((784, 10)), axis=1)
Y = np.eye(10)[labels]
params = {"W1": rng.normal(0, 0.05, (784, 512)), "b1": np.zeros(512),
          "W2": rng.normal(0, 0.05, (512, 10)), "b2": np.zeros(10)}
values = {"X": images, "Y": Y, **params}

derived = bp.evaluate(values)
engine = mc.evaluate(mc.grad(net.loss_expr, "W2").result, values)
reference = autograd.grad(lambda W2: mc.evaluate(net.loss_expr, {**values, "W2": W2},
                                                 xp=anp))(params["W2"])
print(f"grad_W2 vs general engine: {np.abs(derived['W2'] - engine).max():.1e}, "
      f"vs autograd: {np.abs(derived['W2'] - reference).max():.1e}")

learning_rate = 0.2
for t in range(61):
    values = {"X": images, "Y": Y, **params}
    named = bp.values(values)
    grads = {p: np.reshape(named[f"grad_{p}"], np.shape(params[p])) for p in params}
    if t % 20 == 0:
        accuracy = np.mean(np.argmax(named["y_pred"], axis=1) == labels)
        print(f"step {t:3}: loss = {named['loss']:.4f}, training accuracy = {accuracy:.2f}")
    params = {p: params[p] - learning_rate * grads[p] for p in params}
