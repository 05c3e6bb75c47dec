"""Layered networks as SymPy expressions, with backprop derived layer by layer from one walk.

    from matcalc import nn
    net = nn.Sequential([nn.Dense(1000, 100, bias=False), nn.ReLU(), nn.Dense(100, 10, bias=False)],
                        loss=nn.SumSquaredError(), batch="N")
    net.loss_expr          # sum((relu(X@W1)@W2 - Y)**2), one expression in X, Y, W1, W2
    bp = net.backprop()    # the backward pass, named like the first seed's hand-written one
    bp.gradients["W1"]     # X.T@grad_h
    print(bp.text())       # the derivation; bp.latex() is the same as one `aligned` block

layers.py (one class a layer), losses.py, network.py (Sequential, names), backprop.py (the
backward pass read from the reverse walk), spec.py (the layer-spec text format), recurrent.py
(cells over T steps), init.py (Glorot and He initial weights).
"""
from .backprop import Backprop, Row
from .layers import (Activation, AvgPool2D, BatchNorm, Conv1D, Conv2D, Dense, Dropout, Flatten,
                     Identity, Layer, LayerNorm, LeakyReLU, MaxPool2D, ReLU, Sigmoid, Softmax,
                     Softplus, Tanh, activation, activation_names)
from .losses import (LOSSES, BinaryCrossEntropy, CategoricalCrossEntropy, Huber,
                     MeanAbsoluteError, MeanSquaredError, SoftmaxCrossEntropy, SumSquaredError)
from . import init
from .network import Sequential, images_as_rows
from .recurrent import GRU, LSTM, RNN, Recurrent
from .spec import SPEC_GRAMMAR, from_spec, input_shape

__all__ = ["Sequential", "Dense", "Activation", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softplus",
           "Identity", "SumSquaredError", "MeanSquaredError", "SoftmaxCrossEntropy",
           "BinaryCrossEntropy", "LOSSES", "Backprop", "Row", "from_spec", "SPEC_GRAMMAR",
           "activation", "activation_names", "Conv2D", "Conv1D", "MaxPool2D", "AvgPool2D",
           "Flatten", "Dropout", "LayerNorm", "BatchNorm", "Softmax", "Layer",
           "CategoricalCrossEntropy", "MeanAbsoluteError", "Huber", "images_as_rows", "input_shape",
           "RNN", "GRU", "LSTM", "Recurrent", "init"]
