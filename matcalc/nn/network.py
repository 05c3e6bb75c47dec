"""Sequential: layers applied in order to X (N x D_in), then the loss against Y (N x D_out).

`loss_expr` is one expression in X, Y and the parameters, which the general engine (mc.grad)
can differentiate as a whole; `backprop()` derives it layer by layer (backprop.py).

Naming scheme (forward names, then `grad_<name>` for adjoints):
* a network shaped like the first seed (Dense, one activation, Dense) uses the seed's names:
  `h`, `h_<activation>` (`h_relu`), `y_pred`;
* otherwise dense layer k outputs `Z<k>` and the activation after it `A<k>`;
* the output of the last layer is always `y_pred`; the input is `X`, the target `Y`,
  the parameters `W1, b1, W2, b2, ...` in layer order; `Identity` layers add no name.
"""

import numpy as np
import sympy as sp

from ..core import functions, ops
from ..core.nodes import Named
from ..core.shapes import dimension
from ..errors import MatcalcError, ShapeError
from ..printing import display
from .backprop import Backprop
from .layers import Activation, Conv2D, Dense, Identity, Layer
from .losses import SumSquaredError
from ..core.gc_pause import without_cyclic_gc


class Sequential:
    """Layers applied in order to X (N x D_in, or N x H*W*C images), then the loss against Y.

    input: the shape of one example, when the first layer does not say it: an int D, (C, L)
    for signals (Conv1D) or (C, H, W) for images; images are passed as N x H*W*C rows,
    `images_as_rows(x)` of an N x C x H x W array. weight_decay: lambda, adding
    lambda/2 * sum(W**2) over the weight matrices and kernels (not the biases or the
    normalisation parameters) to the loss, so that each grad_W gains lambda*W.
    """

    def __init__(self, layers, loss=None, batch="N", input=None, weight_decay=0):
        self.layers = list(layers)
        if not self.layers:
            raise MatcalcError("a network needs at least one layer")
        for layer in self.layers:
            if not callable(getattr(layer, "build", None)) or not hasattr(layer, "output_shape"):
                raise MatcalcError(f"not a layer: {layer!r}; use Dense, Conv2D, an activation, ...")
        self.loss = loss if loss is not None else SumSquaredError()
        if isinstance(self.loss, type):
            self.loss = self.loss()
        self.batch = batch
        self.N = dimension(batch, "batch")
        self.input = _example_shape(input, self.layers)
        self.example_shapes = [self.input]       # the shape of one example before each layer
        for layer in self.layers:
            try:
                self.example_shapes.append(layer.output_shape(self.example_shapes[-1]))
            except ShapeError as e:
                raise ShapeError(f"{e} (layer {len(self.example_shapes)})") from None
        D_in, D_out = _entries(self.input), self.example_shapes[-1]
        if isinstance(D_out, tuple):
            raise ShapeError(f"the network ends with images {D_out} (C, H, W); add flatten and a "
                             f"dense layer before the loss")
        self.X = ops.matrix_symbol("X", self.N, dimension(D_in, "input"))
        self.Y = ops.matrix_symbol("Y", self.N, dimension(D_out, "output"))
        self.shapes = {"X": (batch, D_in), "Y": (batch, D_out)}
        self.parameters = {}
        self.layer_parameters = []   # per layer: name -> symbol ({} for activations)
        k = 0
        for layer in self.layers:
            params = {}
            if hasattr(layer, "parameter_shapes"):
                k += 1
                params = layer.parameters(k)
                self.shapes.update(layer.parameter_shapes(k))
                self.parameters.update(params)
            self.layer_parameters.append(params)
        self.inputs = {}             # inputs of the forward pass besides X: dropout masks M<k>
        self.outputs = self._outputs(training=True)   # per layer: its output, a named
        self.output_expr = self.outputs[-1]           # intermediate (h := X@W1)
        self.weight_decay = weight_decay
        self.loss_expr = self.loss.build(self.output_expr, self.Y)
        if weight_decay:
            weights = [self.parameters[n] for n in self.weight_names()]
            penalty = ops.add(*[functions.apply("sum", ops.hpow(W, 2)) for W in weights])
            self.loss_expr = ops.add(self.loss_expr, ops.scale(sp.nsimplify(weight_decay) / 2, penalty))

    def _outputs(self, training):
        """Each layer's output, built from X in order. training=False is prediction: a dropout
        layer is the identity there (inverted dropout scaled by 1/(1 - p) while training), so
        it takes no mask; its output is then the previous layer's, with no name of its own."""
        outputs, out = [], self.X
        layers = zip(self.layers, self.layer_parameters, self.names(), self.example_shapes)
        for k, (layer, params, name, shape) in enumerate(layers, 1):
            if hasattr(layer, "inputs"):
                if not training:
                    outputs.append(out)
                    continue
                masks = layer.inputs(k, out, shape)
                for m, symbol in masks.items():
                    self.shapes[m] = (self.batch, _entries(shape)) if symbol.shape[0] == self.N \
                        else tuple(symbol.shape)
                self.inputs.update(masks)
                params = {**params, **masks}
            out = layer.build(out, params, shape)
            if name is not None:
                out = Named(out, name)
            outputs.append(out)
        return outputs

    def parameter_shapes(self):
        """name -> shape of every parameter, in layer order: (n_in, n_out) for a weight, (n,)
        for a bias or a normalisation parameter."""
        return {name: self.shapes[name] for name in self.parameters}

    def weight_names(self):
        """The weight matrices and kernels (W<k>, K<k>): what weight decay applies to, not the
        biases or the normalisation parameters."""
        return [n for n in self.parameters if n[0] in "WK"]

    def prediction_expr(self):
        """The network's output y_pred from X and the parameters alone, as at prediction time:
        no loss, no Y, no dropout masks (dropout is the identity; batchnorm still normalises
        with the statistics of the batch it is given, the training mode it is derived in)."""
        return self._outputs(training=False)[-1]

    def names(self):
        """The forward name of each layer's output (None for Identity and for Flatten of
        features): the seed's h, h_relu, y_pred for Dense-activation-Dense; else Z<k> for a dense
        or convolution layer k, A<k> for an activation, P<k> pooling, F<k> flatten, D<k>
        dropout, B<k> normalisation, and y_pred for the last."""
        kept = [l for l in self.layers if not isinstance(l, Identity)]
        if (len(kept) == 3 and isinstance(kept[0], Dense) and isinstance(kept[1], Activation)
                and isinstance(kept[2], Dense)):
            seed = iter(["h", f"h_{kept[1].name}", "y_pred"])
            return [None if isinstance(l, Identity) else next(seed) for l in self.layers]
        names, k, used = [], 0, set()
        for layer, shape in zip(self.layers, self.example_shapes):
            letter = _LETTERS.get(type(layer).__name__)
            if isinstance(layer, Identity) or (letter == "F" and not isinstance(shape, tuple)):
                names.append(None)
                continue
            if isinstance(layer, (Dense, Conv2D, Layer)):
                k += 1
                name = f"Z{k}"
            else:
                name = f"{letter or 'A'}{k}"
            base, i = name, 2
            while name in used:
                name, i = f"{base}_{i}", i + 1
            used.add(name)
            names.append(name)
        last = max(i for i, n in enumerate(names) if n is not None)
        names[last] = "y_pred"
        return names

    def output_names(self):
        """layer output (a Named node) -> its name, in layer order."""
        return {out: out.name for out in self.outputs if isinstance(out, Named)}

    @without_cyclic_gc
    def backprop(self):
        return Backprop(self)

    def spec(self):
        return " ".join(l.spec() for l in self.layers)

    def __repr__(self):
        return display.network_repr(self)

    def _repr_html_(self):
        return display.network_html(self)

    def _repr_markdown_(self):
        return display.network_markdown(self)


_LETTERS = {"MaxPool2D": "P", "AvgPool2D": "P", "Flatten": "F", "Dropout": "D", "LayerNorm": "B",
            "BatchNorm": "B", "Softmax": "S"}


def _example_shape(given, layers):
    """The shape of one input example: given (an int, (C, L) or (C, H, W)), else what the first
    layer with sizes takes (dense: n_in)."""
    if given is None:
        first = next((l for l in layers if hasattr(l, "n_in") or hasattr(l, "c_in")
                      or hasattr(l, "D")), None)
        if first is None or not hasattr(first, "n_in"):
            raise MatcalcError("give the input shape: input=D, (C, L) or (C, H, W) "
                               "(--input on the command line)")
        return first.n_in
    if isinstance(given, (list, tuple)):
        sizes = tuple(given)
        if len(sizes) == 1:
            return _positive(sizes[0])
        if len(sizes) == 2:
            return (_positive(sizes[0]), 1, _positive(sizes[1]))
        if len(sizes) == 3:
            return tuple(_positive(d) for d in sizes)
        raise MatcalcError(f"the input shape is D, (C, L) or (C, H, W), got {given!r}")
    return given if isinstance(given, str) else _positive(given)


def _positive(d):
    if isinstance(d, bool) or not isinstance(d, int) or d <= 0:
        raise MatcalcError(f"input sizes are positive integers, got {d!r}")
    return d


def _entries(shape):
    """The number of entries of one example: D, or C*H*W."""
    if isinstance(shape, tuple):
        C, H, W = shape
        return C * H * W
    return shape


def images_as_rows(x):
    """An N x C x H x W (or N x C x L) array as the N x H*W*C rows a network takes: each image's
    entries in (h, w, c) order, as im2col reads them."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[:, :, None, :]
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(x.shape[0], -1)
