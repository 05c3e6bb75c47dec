"""The layers of a network: each class holds everything about its layer (one record a layer).

A layer builds its output expression from its input through `ops` and the function registry,
names its parameters, and says how it is written in a layer spec. It does not differentiate
anything: the backward pass of every layer comes from the one reverse walk (backprop.py).

* `Dense(n_in, n_out, bias=True)`: Z = A @ W + ones(N) @ b.T (the notation writes A@W + b.T),
  W is n_in x n_out, b is n_out x 1.
* `Activation(name)`: A = f(Z) for any elementwise function of the registry (relu, tanh, gelu,
  ...); `ReLU`, `Sigmoid`, `Tanh`, `Softplus` are the common ones by class name, `Identity`
  adds nothing, `LeakyReLU(alpha)` is relu(Z) - alpha*relu(-Z).
* `Conv2D(c_in, c_out, kernel, stride=1, padding=0)`: Z = im2col(A) @ K + ones @ b.T, the
  convolution as a matrix product (core/windows.py); K is kernel*kernel*c_in x c_out, rows in
  (i, j, c) order. `Conv1D` is the same over 1 x L images. `MaxPool2D(p)`, `AvgPool2D(p)` pool
  p x p windows; `Flatten()` turns each image into one row (h, w, c order).
* `Dropout(p)`: Z = A * M/(1 - p) with the 0/1 mask M an input of the forward pass (named
  M<k>), so backward reuses it; `LayerNorm(D)`, `BatchNorm(D)` (training mode, batch
  statistics) with gain gamma<k> and shift beta<k>; `Softmax()`, row by row (for
  CategoricalCrossEntropy on probabilities); `Layer(forward, parameters)`, a layer given by its
  forward expression in A, whose backward is derived like every other. Dropout and the two
  normalisations also take images (C, H, W): the full mask, N x H*W*C; layernorm(C) over the
  C*H*W entries of each image and batchnorm(C) per channel over N, H, W (BatchNorm2d), both with
  a gain and a shift per channel; the layout is changed by im2col with a 1 x 1 window or the
  whole image as the window, a reshape the derivation writes as such.

Shapes flow through `output_shape(shape)`: the shape of one example, an int D for features
(the data N x D) or (C, H, W) for images (the data N x H*W*C with entries in (n, h, w, c)
order; after a convolution N*H*W x C, one row a pixel). A layer whose sizes do not fit its
input raises a ShapeError naming both.
"""
import sympy as sp

from ..core import functions, ops
from ..core.rebuild import Substitution
from ..core.shapes import declared_shape, dimension
from ..core.vec import kron
from ..core.windows import blockmax, im2col
from ..errors import MatcalcError, ShapeError
from ..notation.parse import parse


def _positive_int(value, what, layer):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise MatcalcError(f"{layer}: {what} must be a positive integer, got {value!r}")
    return value


def _features(shape, layer):
    """D, when one example is D features; a ShapeError naming the layer for images."""
    if isinstance(shape, tuple):
        raise ShapeError(f"{layer} needs features (N x D), got images {_shape_words(shape)}; "
                         f"add flatten before it")
    return shape


def _image(shape, layer):
    """(C, H, W), when one example is an image; a ShapeError naming the layer otherwise."""
    if not isinstance(shape, tuple):
        raise ShapeError(f"{layer} needs images (give --input C,H,W or input=(C, H, W)), "
                         f"got {shape} features")
    return shape


def _shape_words(shape):
    if isinstance(shape, tuple):
        C, H, W = shape
        return f"{C} x {H} x {W} (C x H x W)"
    return f"{shape} features"


def _pixel_rows(A, shape):
    """A batch of images (C, H, W) as N*H*W x C pixel rows (one row a pixel, one column a
    channel): A itself when it has that layout, else im2col with a 1 x 1 window, which reads
    the same entries in the same (n, h, w, c) order (a reshape)."""
    C, H, W = shape
    return A if A.shape[1] == C else im2col(A, C, H, W, 1, 1, 1, 1, 0, 0)


def _example_rows(A, shape):
    """A batch of images (C, H, W) as N x H*W*C example rows (one row an image): A itself when
    it has that layout, else im2col with the whole image as the window (a reshape)."""
    C, H, W = shape
    return A if A.shape[1] == C * H * W else im2col(A, C, H, W, H, W, 1, 1, 0, 0)


def _broadcast_row(A, v):
    """ones(rows) @ v.T: the column v added to every row of A."""
    return ops.matmul(ops.ones(A.shape[0], 1), ops.transpose(v))


class Dense:
    """Z = A @ W + ones(N) @ b.T; W is n_in x n_out, b is n_out."""
    title = "Dense layer"

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

    def output_shape(self, shape):
        if shape is not None and _features(shape, self.spec()) != self.n_in:
            raise ShapeError(f"{self.spec()} expects {self.n_in} inputs, got {_shape_words(shape)}")
        return self.n_out

    def build(self, A, params, shape=None):
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
    title = "Activation"

    def __init__(self, name=None):
        name = name or self.name
        record = functions.FUNCTIONS.get(name)
        if record is None or record.kind != "elementwise":
            known = ", ".join(r.name for r in functions.ELEMENTWISE)
            raise MatcalcError(f"unknown activation {name!r}; elementwise functions: {known}")
        self.name = name

    def parameters(self, k):
        return {}

    def output_shape(self, shape):
        return shape

    def build(self, Z, params=None, shape=None):
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

    def build(self, Z, params=None, shape=None):
        return ops.sub(functions.apply("relu", Z), ops.scale(self.alpha, functions.apply("relu", ops.neg(Z))))

    def spec(self):
        return f"leaky_relu({self.alpha})"


class Identity(Activation):
    """A = Z: adds no name and no step to the backward pass."""
    name = "identity"

    def __init__(self):
        pass

    def build(self, Z, params=None, shape=None):
        return Z


# ---- convolution and pooling ----------------------------------------------------------------------
class Conv2D:
    """Z = im2col(A) @ K + ones @ b.T: c_out filters of kernel x kernel x c_in, stride, zero padding.

    K (kernel*kernel*c_in x c_out) holds filter f in column f, rows in (i, j, c) order: from a
    PyTorch weight w (c_out x c_in x kH x kW), K = w.transpose(2, 3, 1, 0).reshape(-1, c_out).
    """
    title = "Convolution layer"
    prefix = "K"

    def __init__(self, c_in, c_out, kernel, stride=1, padding=0, bias=True):
        name = "conv2d"
        self.c_in, self.c_out = _positive_int(c_in, "c_in", name), _positive_int(c_out, "c_out", name)
        self.kernel, self.stride = _positive_int(kernel, "kernel", name), _positive_int(stride, "stride", name)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise MatcalcError(f"{name}: padding must be an integer >= 0, got {padding!r}")
        self.padding, self.bias = padding, bool(bias)

    def window(self, shape):
        """(C, H, W, KH, KW, SH, SW, PH, PW) of im2col for this layer on `shape`."""
        C, H, W = _image(shape, self.spec())
        k, s, p = self.kernel, self.stride, self.padding
        return (C, H, W, k, k, s, s, p, p)

    def parameter_shapes(self, k):
        shapes = {f"K{k}": (self.kernel * self.kernel * self.c_in, self.c_out)}
        if self.bias:
            shapes[f"b{k}"] = (self.c_out,)
        return shapes

    def parameters(self, k):
        return {name: ops.matrix_symbol(name, dimension(shape[0]), dimension(shape[-1]) if len(shape) == 2
                                        else sp.Integer(1))
                for name, shape in self.parameter_shapes(k).items()}

    def output_shape(self, shape):
        C, H, W = _image(shape, self.spec())
        if C != self.c_in:
            raise ShapeError(f"{self.spec()} expects {self.c_in} input channels, got "
                             f"{_shape_words(shape)}")
        k, s, p = self.kernel, self.stride, self.padding
        if k > H + 2 * p or k > W + 2 * p:
            raise ShapeError(f"{self.spec()}: a {k} x {k} kernel does not fit {_shape_words(shape)}"
                             f" padded by {p}")
        return (self.c_out, (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1)

    def build(self, A, params, shape=None):
        K = next(p for n, p in params.items() if n.startswith("K"))
        b = next((p for n, p in params.items() if n.startswith("b")), None)
        Z = ops.matmul(im2col(A, *self.window(shape)), K)
        return ops.add(Z, _broadcast_row(Z, b)) if b is not None else Z

    def spec(self):
        extra = (f",stride={self.stride}" if self.stride != 1 else "") + \
                (f",padding={self.padding}" if self.padding else "") + ("" if self.bias else ",bias=false")
        return f"conv2d({self.c_in},{self.c_out},{self.kernel}{extra})"

    def __repr__(self):
        return f"Conv2D({self.c_in}, {self.c_out}, {self.kernel}, stride={self.stride}, padding={self.padding})"


class Conv1D(Conv2D):
    """Conv2D over 1 x L signals: input (C, L) is the image (C, 1, L); the kernel is 1 x kernel,
    stride and padding act along L only. K is kernel*c_in x c_out, rows in (j, c) order."""
    title = "1-D convolution layer"

    def window(self, shape):
        C, H, W = _image(shape, self.spec())
        if H != 1:
            raise ShapeError(f"{self.spec()} needs signals C x L (input (C, L)), got {_shape_words(shape)}")
        return (C, 1, W, 1, self.kernel, 1, self.stride, 0, self.padding)

    def parameter_shapes(self, k):
        shapes = {f"K{k}": (self.kernel * self.c_in, self.c_out)}
        if self.bias:
            shapes[f"b{k}"] = (self.c_out,)
        return shapes

    def output_shape(self, shape):
        C, H, W = _image(shape, self.spec())
        if C != self.c_in or H != 1:
            raise ShapeError(f"{self.spec()} expects {self.c_in} x L signals, got {_shape_words(shape)}")
        k, s, p = self.kernel, self.stride, self.padding
        if k > W + 2 * p:
            raise ShapeError(f"{self.spec()}: a kernel of {k} does not fit {W} steps padded by {p}")
        return (self.c_out, 1, (W + 2 * p - k) // s + 1)

    def spec(self):
        return "conv1d" + super().spec()[len("conv2d"):]


class MaxPool2D:
    """Z = blockmax(im2col(A, p x p windows, stride p), p*p): the largest entry of every p x p
    window of every channel (rows and columns beyond a multiple of p are dropped)."""
    title = "Max pooling"

    def __init__(self, size=2):
        self.size = _positive_int(size, "the pool size", "maxpool")

    def parameters(self, k):
        return {}

    def windows(self, shape):
        C, H, W = _image(shape, self.spec())
        p = self.size
        if p > H or p > W:
            raise ShapeError(f"{self.spec()}: {p} x {p} windows do not fit {_shape_words(shape)}")
        return (C, H, W, p, p, p, p, 0, 0)

    def output_shape(self, shape):
        C, H, W = self.windows(shape)[:3]
        return (C, H // self.size, W // self.size)

    def build(self, A, params=None, shape=None):
        return blockmax(im2col(A, *self.windows(shape)), self.size * self.size)

    def spec(self):
        return f"maxpool({self.size})"

    def __repr__(self):
        return f"MaxPool2D({self.size})"


class AvgPool2D(MaxPool2D):
    """Z = im2col(A, p x p windows, stride p) @ kron(ones(p*p), eye(C)) / (p*p): the mean of
    every p x p window of every channel."""
    title = "Average pooling"

    def build(self, A, params=None, shape=None):
        C = self.windows(shape)[0]
        p2 = self.size * self.size
        summed = ops.matmul(im2col(A, *self.windows(shape)), kron(ops.ones(p2, 1), ops.eye(C)))
        return ops.divide(summed, p2)

    def spec(self):
        return f"avgpool({self.size})"

    def __repr__(self):
        return f"AvgPool2D({self.size})"


class Flatten:
    """Z = im2col(A) with the whole image as the window: each image one row, (h, w, c) order.
    On features it adds nothing."""
    title = "Flatten"

    def parameters(self, k):
        return {}

    def output_shape(self, shape):
        if not isinstance(shape, tuple):
            return shape
        C, H, W = shape
        return C * H * W

    def build(self, A, params=None, shape=None):
        if not isinstance(shape, tuple):
            return A
        C, H, W = shape
        return im2col(A, C, H, W, H, W, 1, 1, 0, 0)

    def spec(self):
        return "flatten"

    def __repr__(self):
        return "Flatten()"


# ---- dropout, normalisation, softmax --------------------------------------------------------------
class Dropout:
    """Z = A * M/(1 - p): inverted dropout with the 0/1 mask M<k> (1 with probability 1 - p) an
    input of the forward pass, drawn by the caller and saved for backward (grad_A = grad_Z *
    M/(1 - p)). At prediction time the layer is the identity: the generated `predict` leaves it
    out (passing M = ones to forward would scale by 1/(1 - p)).

    On images (C, H, W) the mask has the full shape, one entry per pixel and channel: M<k> is
    N x H*W*C, `images_as_rows(m)` of an N x C x H x W 0/1 array m, and A is read as example
    rows (a reshape of a convolution's pixel rows, im2col with the whole image as the window)."""
    title = "Dropout"

    def __init__(self, p=0.5):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise MatcalcError(f"dropout: p must be a number in [0, 1), got {p!r}")
        self.p = p

    def parameters(self, k):
        return {}

    def inputs(self, k, A, shape=None):
        rows = _example_rows(A, shape) if isinstance(shape, tuple) else A
        return {f"M{k}": ops.matrix_symbol(f"M{k}", *rows.shape)}

    def output_shape(self, shape):
        return shape

    def build(self, A, params, shape=None):
        M = next(p for n, p in params.items() if n.startswith("M"))
        if isinstance(shape, tuple):
            A = _example_rows(A, shape)
        return ops.hadamard(A, ops.scale(sp.nsimplify(1 / (1 - self.p)), M))

    def spec(self):
        return f"dropout({self.p})"

    def __repr__(self):
        return f"Dropout({self.p})"


class LayerNorm:
    """Each row (example) normalised over its D features, then scaled and shifted:
    Z = (A - mu)/sqrt(var + eps) * gamma.T + beta.T, with mu, var the row's mean and (biased)
    variance: mu = A@ones(D)/D, var = (A - mu@ones(D).T)**2@ones(D)/D.

    On images (C, H, W), layernorm(C): each image normalised over all its C*H*W entries (read
    as example rows, N x H*W*C), then scaled and shifted per channel, gamma and beta of C
    entries (the output in pixel rows, N*H*W x C): PyTorch's GroupNorm(1, C), which is
    LayerNorm([C, H, W]) with a gain and shift shared over the pixels of a channel."""
    title = "Layer normalisation"
    prefix = "gamma"

    def __init__(self, D, eps=1e-5):
        self.D = D if isinstance(D, str) else _positive_int(D, "D", "layernorm")
        self.eps = eps

    def parameter_shapes(self, k):
        return {f"gamma{k}": (self.D,), f"beta{k}": (self.D,)}

    def parameters(self, k):
        D = dimension(self.D, self.spec())
        return {f"gamma{k}": ops.matrix_symbol(f"gamma{k}", D, 1),
                f"beta{k}": ops.matrix_symbol(f"beta{k}", D, 1)}

    def output_shape(self, shape):
        if isinstance(shape, tuple):
            if shape[0] != self.D:
                raise ShapeError(f"{self.spec()} expects {self.D} channels, got {_shape_words(shape)}")
            return shape
        if shape != self.D:
            raise ShapeError(f"{self.spec()} expects {self.D} features, got {_shape_words(shape)}")
        return shape

    def rows(self, A, shape):
        """What normalised() reads: each image as one row (statistics over C, H, W)."""
        return _example_rows(A, shape)

    def normalised(self, A):
        D = A.shape[1]
        across = ops.ones(D, 1)
        mu = ops.divide(ops.matmul(A, across), D)
        centred = ops.sub(A, ops.matmul(mu, ops.transpose(across)))
        var = ops.divide(ops.matmul(ops.hpow(centred, 2), across), D)
        scale = ops.hpow(ops.add(var, sp.Float(self.eps)), sp.Rational(-1, 2))
        return ops.hadamard(centred, ops.matmul(scale, ops.transpose(across)))

    def build(self, A, params, shape=None):
        gamma = next(p for n, p in params.items() if n.startswith("gamma"))
        beta = next(p for n, p in params.items() if n.startswith("beta"))
        if isinstance(shape, tuple):     # images: normalise, then a gain and shift per channel
            X = _pixel_rows(self.normalised(self.rows(A, shape)), shape)
        else:
            X = self.normalised(A)
        return ops.add(ops.hadamard(X, _broadcast_row(X, gamma)), _broadcast_row(X, beta))

    def spec(self):
        return f"layernorm({self.D})"

    def __repr__(self):
        return f"LayerNorm({self.D})"


class BatchNorm(LayerNorm):
    """Each column (feature) normalised over the batch, training mode (batch statistics):
    Z = (A - ones(N)@mu)/sqrt(var + eps) * gamma.T + beta.T, mu = ones(N).T@A/N and
    var = ones(N).T@(A - ones(N)@mu)**2/N (biased, as PyTorch normalises in training).

    On images (C, H, W), batchnorm(C) is PyTorch's BatchNorm2d(C): statistics per channel over
    N, H and W, the columns of the pixel rows (N*H*W x C), gamma and beta of C entries."""
    title = "Batch normalisation"

    def rows(self, A, shape):
        """What normalised() reads: one row a pixel (statistics per channel over N, H, W)."""
        return _pixel_rows(A, shape)

    def normalised(self, A):
        N = A.shape[0]
        down = ops.ones(N, 1)
        mu = ops.divide(ops.matmul(ops.transpose(down), A), N)
        centred = ops.sub(A, ops.matmul(down, mu))
        var = ops.divide(ops.matmul(ops.transpose(down), ops.hpow(centred, 2)), N)
        scale = ops.hpow(ops.add(var, sp.Float(self.eps)), sp.Rational(-1, 2))
        return ops.hadamard(centred, ops.matmul(down, scale))

    def spec(self):
        return f"batchnorm({self.D})"

    def __repr__(self):
        return f"BatchNorm({self.D})"


class Softmax:
    """P = softmax(Z) row by row: class probabilities, for CategoricalCrossEntropy."""
    title = "Softmax"

    def parameters(self, k):
        return {}

    def output_shape(self, shape):
        if _features(shape, self.spec()) == 1:
            raise ShapeError("softmax needs at least two classes (N x C, C > 1)")
        return shape

    def build(self, Z, params=None, shape=None):
        return functions.apply("softmax", Z)

    def spec(self):
        return "softmax"

    def __repr__(self):
        return "Softmax()"


class Layer:
    """A layer given by its forward expression in the notation, over its input A (N x n_in)
    and its parameters; its backward pass is derived like every other layer's:

        nn.Layer("tanh(A@W + b.T)", {"W": (4, 8), "b": (8,)}, n_in=4, n_out=8, name="tanh_dense")

    In a network the parameters get the layer's number (W3, b3); `A` is the layer's input."""
    title = "Layer"

    def __init__(self, forward, parameters, n_in, n_out, name="layer"):
        self.forward, self.shapes, self.name = forward, dict(parameters), name
        self.n_in, self.n_out = n_in, n_out
        if "A" in self.shapes:
            raise MatcalcError("Layer: A is the input; give the parameters other names")
        self.expression("N")

    def expression(self, batch):
        """The forward expression parsed with A: batch x n_in; a ShapeError unless N x n_out."""
        expr = parse(self.forward, {"A": (batch, self.n_in), **self.shapes})
        if not ops.is_matrix(expr) or expr.shape[1] != dimension(self.n_out):
            got = expr.shape if ops.is_matrix(expr) else "a scalar"
            raise ShapeError(f"layer {self.name}: the forward expression must be N x {self.n_out}, "
                             f"got {got}")
        return expr

    def parameter_shapes(self, k):
        return {f"{n}{k}": shape for n, shape in self.shapes.items()}

    def parameters(self, k):
        return {f"{n}{k}": ops.matrix_symbol(f"{n}{k}", *declared_shape(shape, n))
                for n, shape in self.shapes.items()}

    def output_shape(self, shape):
        if _features(shape, self.name) != self.n_in:
            raise ShapeError(f"layer {self.name} expects {self.n_in} inputs, got {_shape_words(shape)}")
        return self.n_out

    def build(self, A, params, shape=None):
        expr = self.expression(str(A.shape[0]))
        symbols = ops.free_variables(expr)
        values = {symbols["A"]: A}
        for name, p in params.items():
            own = name.rstrip("0123456789")
            if own in symbols:
                values[symbols[own]] = p
        return Substitution(lambda n: n in values)(expr, values)

    def spec(self):
        return self.name

    def __repr__(self):
        return f"Layer({self.forward!r}, {self.shapes!r}, n_in={self.n_in}, n_out={self.n_out})"


NAMED_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus,
                     "leaky_relu": LeakyReLU, "identity": Identity}


def activation(name):
    """The activation layer of a spec name: a named class, or any elementwise function."""
    if name in NAMED_ACTIVATIONS:
        return NAMED_ACTIVATIONS[name]()
    return Activation(name)


def activation_names():
    return sorted(set(NAMED_ACTIVATIONS) | {r.name for r in functions.ELEMENTWISE})
