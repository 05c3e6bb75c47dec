"""Logistic regression from a custom expression: generate NumPy code, then train with it.

    python examples/codegen_logreg.py

Prints the generated module's backward function, then the loss and accuracy as plain gradient
descent runs on synthetic, linearly separable-ish data.
"""


import numpy as np  # noqa: E402

import codegen  # noqa: E402
import matcalc as mc  # noqa: E402

TEXT = "sum(log(1 + exp(X @ w))) - y.T @ X @ w"      # the negative log-likelihood
SHAPES = {"X": ("N", "d"), "w": ("d",), "y": ("N",)}


def main():
    f = mc.parse(TEXT, SHAPES)
    source = codegen.numpy_source(f, wrt=["w"], name="logreg")
    start = source.index("def backward")
    print(source[start:source.index("def value_and_grad")].rstrip())
    fn = codegen.compile(f, wrt=["w"], name="logreg")

    rng = np.random.default_rng(0)
    N, d = 500, 5
    X = rng.standard_normal((N, d))
    w_true = rng.standard_normal(d)
    y = (rng.uniform(size=N) < 1 / (1 + np.exp(-X @ w_true))).astype(float)
    w = np.zeros(d)
    lr = 1.0 / N
    print("\nstep   loss      accuracy")
    for step in range(201):
        loss, grads = fn(X=X, w=w, y=y)
        if step % 40 == 0:
            accuracy = np.mean((X @ w > 0) == (y > 0.5))
            print(f"{step:4d}   {loss / N:.5f}   {accuracy:.3f}")
        w = w - lr * grads["w"]
    print(f"\nlearned w: {np.round(w, 2)}\ntrue w:    {np.round(w_true, 2)}")


if __name__ == "__main__":
    main()
