"""A GRU (seed 003, chapter 6) trained with generated code only: the module from
nn.Recurrent(...).numpy_source() runs the forward loop and backprop through time; the loop below
only draws sequences and takes SGD steps. The task: read a sequence of T = 12 numbers and
predict the mean of its first three entries (the GRU must carry them through 9 more steps).

Run: python examples/nn_rnn.py
"""
import numpy as np

from matcalc import nn

T, N, H = 12, 32, 16
model = nn.Recurrent(nn.GRU(1, H), n_out=1, loss=nn.MeanSquaredError())
namespace = {}
exec(compile(model.numpy_source(name="gru"), "gru.py", "exec"), namespace)
value_and_grad = namespace["value_and_grad_sequence"]


def sequences(rng, n):
    X = rng.standard_normal((T, n, 1))
    return X, X[:3, :, 0].mean(axis=0)[:, None]


rng = np.random.default_rng(0)
shapes = {**model.cell.parameter_shapes(), "Wy": (H, 1), "by": (1,)}
params = {name: rng.normal(0, 1 / np.sqrt(shape[0]), shape) if len(shape) == 2 else np.zeros(shape)
          for name, shape in shapes.items()}                      # Glorot-like initialisation
learning_rate = 0.2                                               # decayed as 0.2/(1 + step/300)
recent = []
for step in range(1, 1001):
    X, Y = sequences(rng, N)
    loss, grads = value_and_grad(X, Y, **params)
    rate = learning_rate / (1 + step / 300)
    params = {p: params[p] - rate * np.reshape(grads[p], np.shape(params[p])) for p in params}
    recent.append(loss)
    if step % 200 == 0:
        print(f"steps {step - 199:4}-{step:4}: mean loss = {np.mean(recent):.4f}")
        recent = []
X, Y = sequences(np.random.default_rng(1), 500)
print(f"held-out loss: {value_and_grad(X, Y, **params)[0]:.4f} (predicting 0 gives {np.mean(Y ** 2):.4f})")
