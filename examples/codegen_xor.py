"""Seed 001, the XOR network, trained by generated code only.

    python examples/codegen_xor.py

The seed's network: Dense(2, 3), ReLU, Dense(3, 1) with biases and a mean-squared-error loss, on
the four XOR points. matcalc generates the module from the spec with optimizer="sgd" at the
seed's learning rate 0.01: value_and_grad, update (the SGD step) and predict (the output without
loss or labels). The loop below only calls them, until the loss drops below 1e-3 as in the seed.
Prints the generated update, the loss as it falls, and the final predictions.
"""
import numpy as np

import codegen
from matcalc import nn


def main():
    net = nn.from_spec("dense(2,3) relu dense(3,1)", loss="mse")
    fn = codegen.compile(net, name="xor", optimizer="sgd", lr=0.01)
    source = fn.source
    print(source[source.index("def update"):source.index("def _mc_bind")].rstrip())

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)   # the seed's train_X
    Y = np.array([[0], [1], [1], [0]], dtype=float)               # its train_y, as a column
    rng = np.random.default_rng(1)
    params = {"W1": rng.normal(0, 1.0, (2, 3)), "b1": rng.normal(0, 0.1, 3),
              "W2": rng.normal(0, 1.0, (3, 1)), "b2": rng.normal(0, 0.1, 1)}
    state = fn.init_state(params)
    print("\nstep     loss")
    for step in range(100_000):
        loss, grads = fn.value_and_grad(X=X, Y=Y, **params)
        if step % 1000 == 0:
            print(f"{step:6d}   {loss:.6f}")
        if loss < 1e-3:
            break
        params, state = fn.update(params, grads, state, step)
    print(f"training done at step {step}: loss {loss:.6f} < 1e-3")

    y_pred = fn.predict(X, **params)[:, 0]
    print("\n x1 x2   target   prediction   class")
    for (a, b), t, p in zip(X.astype(int), Y[:, 0].astype(int), y_pred):
        print(f"  {a}  {b}      {t}      {p:8.4f}       {int(p > 0.5)}")


if __name__ == "__main__":
    main()
