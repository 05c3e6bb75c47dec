"""Seed 004, the Keras MNIST classifier (Dense(784,512) relu, Dense(512,10), softmax
cross-entropy), derived by identification and checked against the general engine and HIPS
autograd (on random "images" whose class a hidden linear map decides), then trained with
generated code only (value_and_grad, rmsprop's update, predict) on synthetic data: noisy
copies of ten random 28x28 patterns.

Run: python examples/nn_mnist_like.py
"""
import autograd
import autograd.numpy as anp
import numpy as np

import codegen
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

# Training with generated code only, as seed 004 compiles the model: rmsprop (Keras' default
# learning rate 0.001), Glorot initial weights, mini-batches of 128, 5 epochs; predict gives the
# logits. The data: each class a fixed random 28x28 pattern, each image 30% its class's pattern
# and 70% uniform noise.
train = codegen.compile(net, name="mnist_like", optimizer="rmsprop", lr=0.001)
rng = np.random.default_rng(5)
patterns = rng.random((10, 784))


def noisy_images(n):
    labels = rng.integers(0, 10, n)
    return 0.7 * rng.random((n, 784)) + 0.3 * patterns[labels], labels


images, labels = noisy_images(1024)
Y = np.eye(10)[labels]
params = nn.init.parameters(net, rng, "glorot")
state = train.init_state(params)
step = 0
for epoch in range(1, 6):
    losses = []
    for batch in np.split(rng.permutation(len(images)), len(images) // 128):
        loss, grads = train.value_and_grad(X=images[batch], Y=Y[batch], **params)
        params, state = train.update(params, grads, state, step)
        losses.append(loss)
        step += 1
    accuracy = np.mean(np.argmax(train.predict(images, **params), axis=1) == labels)
    print(f"epoch {epoch}: mean loss = {np.mean(losses):.4f}, training accuracy = {accuracy:.3f}")
held_out, held_out_labels = noisy_images(512)
accuracy = np.mean(np.argmax(train.predict(held_out, **params), axis=1) == held_out_labels)
print(f"held-out accuracy: {accuracy:.3f}")
