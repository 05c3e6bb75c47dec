"""A softmax classifier trained by generated code: dense, ReLU, dense, softmax cross-entropy.

    python examples/codegen_softmax_classifier.py

Synthetic data: three Gaussian blobs in the plane (300 points), labels one-hot. matcalc
generates the network's value_and_grad from the spec (the cross-entropy is written with a
row-wise log-sum-exp, so its gradient is softmax(Z) - Y); plain gradient descent trains it.
Prints the generated backward pass, the loss and train accuracy as training runs.
"""


import numpy as np  # noqa: E402

import codegen  # noqa: E402
from matcalc import nn  # noqa: E402

SPEC = "dense(2,16) relu dense(16,3)"


def blobs(rng, per_class=100):
    centres = np.array([[0.0, 2.0], [-1.8, -1.0], [1.8, -1.0]])
    X = np.concatenate([c + 0.8 * rng.standard_normal((per_class, 2)) for c in centres])
    labels = np.repeat(np.arange(3), per_class)
    return X, labels


def main():
    net = nn.from_spec(SPEC, loss="softmax_ce")
    fn = codegen.compile(net, name="classifier")
    source = fn.source
    print(source[source.index("def backward"):source.index("def value_and_grad")].rstrip())

    rng = np.random.default_rng(0)
    X, labels = blobs(rng)
    Y = np.eye(3)[labels]                       # one-hot, N x 3
    params = {"W1": rng.normal(0, 0.5, (2, 16)), "b1": np.zeros(16),
              "W2": rng.normal(0, 0.5, (16, 3)), "b2": np.zeros(3)}

    def accuracy():
        h_relu = np.maximum(X @ params["W1"] + params["b1"], 0.0)
        scores = h_relu @ params["W2"] + params["b2"]
        return np.mean(np.argmax(scores, axis=1) == labels)

    learning_rate = 0.5
    print(f"\n{len(X)} points, 3 classes; plain gradient descent at lr {learning_rate}")
    print("step   loss     train accuracy")
    for step in range(301):
        loss, grads = fn(X=X, Y=Y, **params)
        if step % 50 == 0:
            print(f"{step:4d}   {loss:.4f}   {accuracy():.3f}")
        for p in params:
            params[p] = params[p] - learning_rate * grads[p]
    print(f"\nfinal train accuracy: {accuracy():.3f}")


if __name__ == "__main__":
    main()
