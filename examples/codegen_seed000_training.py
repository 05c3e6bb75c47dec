"""Seed 000, the PyTorch warm-up network, trained by generated code.

    python examples/codegen_seed000_training.py

The seed trains a 1000-100-10 ReLU network without biases on random data with a sum-of-squares
loss, writing the backward pass by hand. Here matcalc generates the forward and backward pass
from the layer spec; the training loop is the seed's (500 steps of plain gradient descent at
learning rate 1e-6, the same random start). Before training, the generated gradients are
compared with the seed's own hand-written ones; then the loss is printed every 100 steps.
"""
import numpy as np

import codegen
from matcalc import nn
from seed000_numpy import forward_backward as seed_gradients

SPEC = "dense(1000,100,bias=false) relu dense(100,10,bias=false)"




def main():
    net = nn.from_spec(SPEC, loss="sse")
    fn = codegen.compile(net, name="warmup")
    source = fn.source
    print(source[source.index("def backward"):source.index("def value_and_grad")].rstrip())

    # N is batch size; D_in is input dimension; H is hidden dimension; D_out is output dimension.
    N, D_in, H, D_out = 64, 1000, 100, 10
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D_in))
    y = rng.standard_normal((N, D_out))
    w1 = rng.standard_normal((D_in, H))
    w2 = rng.standard_normal((H, D_out))

    loss, g1, g2 = seed_gradients(x, y, w1, w2)
    value, grads = fn(X=x, W1=w1, W2=w2, Y=y)
    print("\nat the start, generated vs the seed's hand-written code:")
    print(f"  loss          {value:.6e} vs {loss:.6e}")
    for name, ours, theirs in (("grad_w1", grads["W1"], g1), ("grad_w2", grads["W2"], g2)):
        diff = np.max(np.abs(ours - theirs))
        print(f"  {name}: max |difference| = {diff:.3e}  "
              f"(relative {diff / np.max(np.abs(theirs)):.1e})")

    learning_rate = 1e-6
    print("\nstep   loss")
    for t in range(500):
        loss, grads = fn(X=x, W1=w1, W2=w2, Y=y)
        if t % 100 == 0 or t == 499:
            print(f"{t:4d}   {loss:.6e}")
        w1 -= learning_rate * grads["W1"]
        w2 -= learning_rate * grads["W2"]


if __name__ == "__main__":
    main()
