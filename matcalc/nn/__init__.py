"""Layered networks as SymPy expressions, with backprop derived layer by layer from one walk.

    from matcalc import nn
    net = nn.Sequential([nn.Dense(1000, 100, bias=False), nn.ReLU(), nn.Dense(100, 10, bias=False)],
                        loss=nn.SumSquaredError(), batch="N")
    net.loss_expr          # sum((relu(X@W1)@W2 - Y)**2), one expression in X, Y, W1, W2
    bp = net.backprop()    # the backward pass, named like the first seed's hand-written one
    bp.gradients["W1"]     # X.T@grad_h
    print(bp.text())       # the derivation; bp.latex() is the same as one `aligned` block

layers.py (one class a layer), losses.py, network.py (Sequential, names), backprop.py (the
backward pass read from the reverse walk), spec.py (the layer-spec text format).
"""
from .backprop import Backprop, Row
from .layers import (Activation, Dense, Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh,
                     activation, activation_names)
from .losses import (LOSSES, BinaryCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy,
                     SumSquaredError)
from .network import Sequential
from .spec import SPEC_GRAMMAR, from_spec

__all__ = ["Sequential", "Dense", "Activation", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softplus",
           "Identity", "SumSquaredError", "MeanSquaredError", "SoftmaxCrossEntropy",
           "BinaryCrossEntropy", "LOSSES", "Backprop", "Row", "from_spec", "SPEC_GRAMMAR",
           "activation", "activation_names"]
