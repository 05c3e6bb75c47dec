"""A small CNN (seed 003, chapter 5) trained with generated code only: conv(stride 2, padding 1),
relu, max pooling, flatten, dense, softmax cross-entropy, on 12 x 12 images of a horizontal or
vertical bar (plus noise). matcalc derives the backward pass through im2col and col2im and
writes the NumPy module; the loop below only draws batches and takes SGD steps.

Run: python examples/nn_cnn.py
"""
import numpy as np

import codegen
from matcalc import nn

SPEC = "conv2d(1,8,3,stride=2,padding=1) relu maxpool(2) flatten dense(72,2)"
net = nn.from_spec(SPEC, loss="softmax_ce", input=(1, 12, 12))
namespace = {}
exec(compile(codegen.numpy_source(net, name="cnn"), "cnn.py", "exec"), namespace)
value_and_grad = namespace["value_and_grad"]


def bars(rng, n):
    """n images 1 x 12 x 12 of a bar, horizontal (class 0) or vertical (class 1), and one-hot labels."""
    labels = rng.integers(0, 2, n)
    x = 0.3 * rng.standard_normal((n, 1, 12, 12))
    where = rng.integers(1, 11, n)
    for k in range(n):
        if labels[k]:
            x[k, 0, :, where[k]] += 1.0
        else:
            x[k, 0, where[k], :] += 1.0
    return nn.images_as_rows(x), np.eye(2)[labels]


rng = np.random.default_rng(0)
params = {"K1": rng.normal(0, np.sqrt(2 / 9), (9, 8)), "b1": np.zeros(8),       # He initialisation
          "W2": rng.normal(0, np.sqrt(2 / 72), (72, 2)), "b2": np.zeros(2)}
learning_rate = 0.5
for step in range(301):
    X, Y = bars(rng, 64)
    loss, grads = value_and_grad(X=X, Y=Y, **params)
    params = {p: params[p] - learning_rate * grads[p] for p in params}
    if step % 50 == 0:
        print(f"step {step:4}: loss = {loss:.4f}")

X, Y = bars(np.random.default_rng(1), 500)
namespace_forward = namespace["forward"]
_, saved = namespace_forward(X=X, Y=Y, **params)
accuracy = np.mean(np.argmax(saved["y_pred"], axis=1) == np.argmax(Y, axis=1))
print(f"held-out accuracy: {accuracy:.3f}")
