"""Initial parameters (seed 003, section 4.6): Glorot and He scaling of random weights.

    rng = np.random.default_rng(0)
    W = nn.init.glorot((784, 512), rng)        # normal, variance 2/(fan_in + fan_out)
    W = nn.init.he((784, 512), rng)            # normal, variance 2/fan_in (for relu layers)
    params = nn.init.parameters(net, rng)      # every parameter of a network, by its role

A weight is a fan_in x fan_out matrix, as matcalc writes layers (Z = A @ W + 1 b^T); a
convolution kernel K is KH*KW*C_in x C_out, so its fan_in is PyTorch's and its fan_out is C_out
(PyTorch counts C_out*KH*KW). Glorot keeps the variance of the activations and of the gradients
about equal from layer to layer for tanh and sigmoid (Glorot and Bengio 2010); He keeps it for
relu, which zeroes half of its inputs (He et al. 2015). This module draws numbers only; it
knows the networks just enough to tell weights from biases.
"""
import numpy as np

from ..errors import MatcalcError


def _fans(shape):
    if len(shape) != 2 or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0
                              for d in shape):
        raise MatcalcError(f"a weight's shape is (fan_in, fan_out), two positive integers; "
                           f"got {shape!r}")
    return int(shape[0]), int(shape[1])


def glorot(shape, rng):
    """Normal entries of variance 2/(fan_in + fan_out) (Glorot, or Xavier, initialisation)."""
    fan_in, fan_out = _fans(shape)
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out))


def he(shape, rng):
    """Normal entries of variance 2/fan_in (He, or Kaiming, initialisation for relu layers)."""
    fan_in, fan_out = _fans(shape)
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))


SCHEMES = {"glorot": glorot, "he": he}


def parameters(model, rng, scheme="glorot"):
    """name -> initial value for every parameter of an nn.Sequential or nn.Recurrent: weight
    matrices and kernels by `scheme` ("glorot" or "he"), normalisation scales (gamma) ones,
    biases and shifts (b, beta) zeros."""
    if scheme not in SCHEMES:
        raise MatcalcError(f"unknown initialisation {scheme!r}; choose from {', '.join(SCHEMES)}")
    shapes = model.parameter_shapes()
    values = {}
    for name, shape in shapes.items():
        if len(shape) == 2:
            values[name] = SCHEMES[scheme](shape, rng)
        elif name.startswith("gamma"):
            values[name] = np.ones(shape)
        else:
            values[name] = np.zeros(shape)
    return values
