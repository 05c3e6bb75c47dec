"""Seed 001, the XOR network, trained by generated code.

    python examples/codegen_xor.py

The seed's network: Dense(2, 3), ReLU, Dense(3, 1) with biases and a mean-squared-error loss, on
the four XOR points. matcalc generates value_and_grad from the spec; plain SGD at the seed's
learning rate 0.01 runs until the loss drops below 1e-3, as in the seed. Prints the generated
backward pass, the loss as it falls, and the final predictions.
"""


import numpy as np  # noqa: E402

import codegen  # noqa: E402
from matcalc import nn  # noqa: E402


def main():
    net = nn.from_spec("dense(2,3) relu dense(3,1)", loss="mse")
    fn = codegen.compile(net, name="xor")
    source = fn.source
    print(source[source.index("def backward"):source.index("def value_and_grad")].rstrip())

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)   # the seed's train_X
    Y = np.array([[0], [1], [1], [0]], dtype=float)               # its train_y, as a column
    rng = np.random.default_rng(1)
    params = {"W1": rng.normal(0, 1.0, (2, 3)), "b1": rng.normal(0, 0.1, 3),
              "W2": rng.normal(0, 1.0, (3, 1)), "b2": rng.normal(0, 0.1, 1)}
    learning_rate = 0.01
    print("\nstep     loss")
    for step in range(100_000):
        loss, grads = fn(X=X, Y=Y, **params)
        if step % 1000 == 0:
            print(f"{step:6d}   {loss:.6f}")
        if loss < 1e-3:
            break
        for p in params:
            params[p] = params[p] - learning_rate * grads[p]
    print(f"training done at step {step}: loss {loss:.6f} < 1e-3")

    h_relu = np.maximum(X @ params["W1"] + params["b1"], 0.0)
    y_pred = (h_relu @ params["W2"] + params["b2"])[:, 0]
    print("\n x1 x2   target   prediction   class")
    for (a, b), t, p in zip(X.astype(int), Y[:, 0].astype(int), y_pred):
        print(f"  {a}  {b}      {t}      {p:8.4f}       {int(p > 0.5)}")


if __name__ == "__main__":
    main()
