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

from ..core import ops
from ..core.nodes import Named
from ..core.shapes import dimension
from ..errors import MatcalcError, ShapeError
from ..printing import display
from .backprop import Backprop
from .layers import Activation, Dense, Identity
from .losses import SumSquaredError
from ..core.gc_pause import without_cyclic_gc


class Sequential:
    """Layers applied in order to X (N x D_in), then the loss against Y (N x D_out)."""

    def __init__(self, layers, loss=None, batch="N"):
        self.layers = list(layers)
        if not self.layers:
            raise MatcalcError("a network needs at least one layer")
        for layer in self.layers:
            if not isinstance(layer, (Dense, Activation)):
                raise MatcalcError(f"not a layer: {layer!r}; use Dense or an activation")
        dense = [l for l in self.layers if isinstance(l, Dense)]
        if not dense:
            raise MatcalcError("a network needs at least one Dense layer")
        self.loss = loss if loss is not None else SumSquaredError()
        if isinstance(self.loss, type):
            self.loss = self.loss()
        self.batch = batch
        self.N = dimension(batch, "batch")
        for a, b in zip(dense, dense[1:]):
            if a.cols != b.rows:
                raise ShapeError(f"dense layers do not chain: {a.spec()} outputs {a.n_out}, "
                                 f"{b.spec()} expects {b.n_in}")
        self.X = ops.matrix_symbol("X", self.N, dense[0].rows)
        self.Y = ops.matrix_symbol("Y", self.N, dense[-1].cols)
        self.shapes = {"X": (batch, dense[0].n_in), "Y": (batch, dense[-1].n_out)}
        self.parameters = {}
        self.layer_parameters = []   # per layer: name -> symbol ({} for activations)
        k = 0
        for layer in self.layers:
            params = {}
            if isinstance(layer, Dense):
                k += 1
                params = layer.parameters(k)
                self.shapes.update(layer.parameter_shapes(k))
                self.parameters.update(params)
            self.layer_parameters.append(params)
        self.outputs = []            # per layer: its output, a named intermediate (h := X@W1)
        out = self.X
        for layer, params, name in zip(self.layers, self.layer_parameters, self.names()):
            out = layer.build(out, params)
            if name is not None:
                out = Named(out, name)
            self.outputs.append(out)
        self.output_expr = out
        self.loss_expr = self.loss.build(out, self.Y)

    def names(self):
        """The forward name of each layer's output (None for Identity layers)."""
        kept = [l for l in self.layers if not isinstance(l, Identity)]
        if (len(kept) == 3 and isinstance(kept[0], Dense) and isinstance(kept[1], Activation)
                and isinstance(kept[2], Dense)):
            seed = iter(["h", f"h_{kept[1].name}", "y_pred"])
            return [None if isinstance(l, Identity) else next(seed) for l in self.layers]
        names, k, used = [], 0, set()
        for layer in self.layers:
            if isinstance(layer, Identity):
                names.append(None)
                continue
            if isinstance(layer, Dense):
                k += 1
                name = f"Z{k}"
            else:
                name = f"A{k}"
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
