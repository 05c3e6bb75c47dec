"""The layers of a network: each class holds everything about its layer (one record a layer).

A layer builds its output expression from its input through `ops` and the function registry,
names its parameters, and says how it is written in a layer spec. It does not differentiate
anything: the backward pass of every layer comes from the one reverse walk (backprop.py).

* `Dense(n_in, n_out, bias=True)`: Z = A @ W + ones(N) @ b.T (the notation writes A@W + b.T),
  W is n_in x n_out, b is n_out x 1.
* `Activation(name)`: A = f(Z) for any elementwise function of the registry (relu, tanh, gelu,
  ...); `ReLU`, `Sigmoid`, `Tanh`, `Softplus` are the common ones by class name, `Identity`
  adds nothing, `LeakyReLU(alpha)` is relu(Z) - alpha*relu(-Z).
"""
import sympy as sp

from ..core import functions, ops
from ..core.shapes import dimension
from ..errors import MatcalcError, ShapeError


class Dense:
    """Z = A @ W + ones(N) @ b.T; W is n_in x n_out, b is n_out."""

    def __init__(self, n_in, n_out, bias=True):
        self.n_in, self.n_out, self.bias = n_in, n_out, bool(bias)
        self.rows, self.cols = dimension(n_in, "Dense"), dimension(n_out, "Dense")

    def parameter_shapes(self, k):
        """name -> declared shape (as given) for the parameters of the k-th dense layer."""
        shapes = {f"W{k}": (self.n_in, self.n_out)}
        if self.bias:
            shapes[f"b{k}"] = (self.n_out,)
        return shapes

    def parameters(self, k):
        params = {f"W{k}": ops.matrix_symbol(f"W{k}", self.rows, self.cols)}
        if self.bias:
            params[f"b{k}"] = ops.matrix_symbol(f"b{k}", self.cols, 1)
        return params

    def build(self, A, params):
        W = next(p for n, p in params.items() if n.startswith("W"))
        b = next((p for n, p in params.items() if n.startswith("b")), None)
        if A.shape[1] != W.shape[0]:
            raise ShapeError(f"shape mismatch in dense layer: input is {A.shape[0]} x {A.shape[1]}, "
                             f"{W.name} is {W.shape[0]} x {W.shape[1]}")
        Z = ops.matmul(A, W)
        if b is not None:
            Z = ops.add(Z, ops.matmul(ops.ones(A.shape[0], 1), ops.transpose(b)))
        return Z

    def spec(self):
        return f"dense({self.n_in},{self.n_out}{'' if self.bias else ',bias=false'})"

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out}{'' if self.bias else ', bias=False'})"


class Activation:
    """A = f(Z), elementwise, for a function of the registry; its name suffixes h_<name>."""

    def __init__(self, name=None):
        name = name or self.name
        record = functions.FUNCTIONS.get(name)
        if record is None or record.kind != "elementwise":
            known = ", ".join(r.name for r in functions.ELEMENTWISE)
            raise MatcalcError(f"unknown activation {name!r}; elementwise functions: {known}")
        self.name = name

    def parameters(self, k):
        return {}

    def build(self, Z, params=None):
        return functions.apply(self.name, Z)

    def spec(self):
        return self.name

    def __repr__(self):
        return f"Activation({self.name!r})"


class ReLU(Activation):
    """A = relu(Z) = max(Z, 0); relu'(Z) = step(Z) (0 at the kink)."""
    name = "relu"


class Sigmoid(Activation):
    """A = sigmoid(Z); sigmoid'(Z) = sigmoid(Z) * (1 - sigmoid(Z))."""
    name = "sigmoid"


class Tanh(Activation):
    """A = tanh(Z); tanh'(Z) = 1 - tanh(Z)**2."""
    name = "tanh"


class Softplus(Activation):
    """A = softplus(Z) = log(1 + exp(Z)); softplus'(Z) = sigmoid(Z)."""
    name = "softplus"


class LeakyReLU(Activation):
    """A = relu(Z) - alpha * relu(-Z) (= Z where Z > 0, alpha * Z elsewhere)."""
    name = "leaky_relu"

    def __init__(self, alpha=0.01):
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, sp.Number)):
            raise MatcalcError(f"LeakyReLU needs a numeric alpha, got {alpha!r}")
        self.alpha = alpha

    def build(self, Z, params=None):
        return ops.sub(functions.apply("relu", Z), ops.scale(self.alpha, functions.apply("relu", ops.neg(Z))))

    def spec(self):
        return f"leaky_relu({self.alpha})"


class Identity(Activation):
    """A = Z: adds no name and no step to the backward pass."""
    name = "identity"

    def __init__(self):
        pass

    def build(self, Z, params=None):
        return Z


NAMED_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus,
                     "leaky_relu": LeakyReLU, "identity": Identity}


def activation(name):
    """The activation layer of a spec name: a named class, or any elementwise function."""
    if name in NAMED_ACTIVATIONS:
        return NAMED_ACTIVATIONS[name]()
    return Activation(name)


def activation_names():
    return sorted(set(NAMED_ACTIVATIONS) | {r.name for r in functions.ELEMENTWISE})
