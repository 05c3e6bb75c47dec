"""Layered networks as SymPy expressions, with backprop derived layer by layer by identification.

    from matcalc import nn
    net = nn.Sequential([nn.Dense(1000, 100, bias=False), nn.ReLU(), nn.Dense(100, 10, bias=False)],
                        loss=nn.SumSquaredError(), batch="N")
    net.loss_expr          # sum((relu(X@W1)@W2 - Y)**2), one expression in X, Y, W1, W2
    bp = net.backprop()    # the backward pass, named like the first seed's hand-written one
    bp.gradients["W1"]     # X.T@grad_h
    print(bp.text())       # the derivation; bp.latex() is the same as one `aligned` block

Where it sits: on top of the core (ops builds, grad identifies, evaluate computes, latex
prints). Each layer builds its output through `ops`; `Sequential` composes them into
`loss_expr`, which the general engine `mc.grad` can differentiate as a whole.

`backprop()` instead names every intermediate with a MatrixSymbol and derives one layer at a
time, from the output back to the input. Each step is an identification: with the adjoint
G of the layer's output Z treated as a constant symbol, `mc.grad(tr(G.T @ Z), [inputs])` reads
off the adjoints of the layer's input and parameters from dL = tr(G.T @ dZ). Every step sees
one layer only, so the cost of deriving grows linearly with depth.

Naming scheme (forward names, then `grad_<name>` for adjoints):
* a network shaped like the first seed (Dense, one activation, Dense) uses the seed's names:
  `h`, `h_<activation>` (`h_relu`), `y_pred`;
* otherwise dense layer k outputs `Z<k>` and the activation after it `A<k>`;
* the output of the last layer is always `y_pred`; the input is `X`, the target `Y`,
  the parameters `W1, b1, W2, b2, ...` in layer order; `Identity` layers add no name.
Adjoints are `grad_y_pred`, `grad_W2`, `grad_h_relu`, `grad_h`, `grad_W1`, ...

Convention (as in the first seed): the gradient is the transposed Jacobian; grad_V has the shape
of V, and dL = tr(grad_V.T @ dV).

This module does not differentiate anything itself, and it never evaluates text: `from_spec`
reads the layer-spec format with a small tokenizer.
"""
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Trace, Transpose

from . import ops
from .derivation import Step
from .errors import MatcalcError, ParseError, ShapeError, UnknownNameError
from .evaluate import evaluate as evaluate_expr
from .grad import grad
from .latex import latex as latex_of, name_latex, text_latex
from .nodes import AsScalar, Differential, ScalarDifferential
from .shapes import dimension
from .text import to_text



# ---- layers -------------------------------------------------------------------------------------
class Dense:
    """Z = A @ W + ones(N) @ b.T (the notation writes A@W + b.T); W is n_in x n_out, b is n_out."""

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
        params = {f"W{k}": MatrixSymbol(f"W{k}", self.rows, self.cols)}
        if self.bias:
            params[f"b{k}"] = MatrixSymbol(f"b{k}", self.cols, 1)
        return params

    def build(self, A, params):
        W, b = self.weights(params)
        if A.shape[1] != W.shape[0]:
            raise ShapeError(f"shape mismatch in dense layer: input is {A.shape[0]} x {A.shape[1]}, "
                             f"{W.name} is {W.shape[0]} x {W.shape[1]}")
        Z = ops.matmul(A, W)
        if b is not None:
            Z = ops.add(Z, ops.matmul(ops.ones(A.shape[0], 1), ops.transpose(b)))
        return Z

    def weights(self, params):
        W = next(p for n, p in params.items() if n.startswith("W"))
        b = next((p for n, p in params.items() if n.startswith("b")), None)
        return W, b

    def differential(self, A, params, input_varies):
        """dZ = dA @ W + A @ dW + ones(N) @ db.T, with dA left out when A is the data X."""
        W, b = self.weights(params)
        terms = [ops.matmul(Differential(A), W)] if input_varies else []
        terms.append(ops.matmul(A, Differential(W)))
        if b is not None:
            terms.append(ops.matmul(ops.ones(A.shape[0], 1), ops.transpose(Differential(b))))
        return terms

    def differential_text(self, Z, A, params, input_varies):
        W, b = self.weights(params)
        terms = [f"d({A.name}) @ {W.name}"] if input_varies else []
        terms.append(f"{A.name} @ d({W.name})")
        if b is not None:
            terms.append(f"ones({A.shape[0]}) @ d({b.name}).T")
        return f"d({Z}) = " + " + ".join(terms)

    def spec(self):
        return f"dense({self.n_in},{self.n_out}{'' if self.bias else ',bias=false'})"


class Activation:
    """A = f(Z), elementwise; dA = f'(Z) * dZ."""
    name = None       # the elementwise function in ops.apply, and the suffix of h_<name>

    def build(self, Z):
        return ops.apply(self.name, Z)

    def spec(self):
        return self.name


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

    def build(self, Z):
        return ops.sub(ops.apply("relu", Z), ops.scale(self.alpha, ops.apply("relu", ops.neg(Z))))

    def spec(self):
        return f"leaky_relu({self.alpha})"


class Identity(Activation):
    """A = Z: adds no name and no step to the backward pass."""
    name = "identity"

    def build(self, Z):
        return Z


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus,
               "leaky_relu": LeakyReLU, "identity": Identity}


# ---- losses -------------------------------------------------------------------------------------
class SumSquaredError:
    """L = sum((Yhat - Y)**2), the first seed's loss; grad_Yhat = 2*(Yhat - Y)."""
    name = "sse"

    def build(self, Yhat, Y):
        return ops.entry_sum(ops.hpow(ops.sub(Yhat, Y), 2))


class MeanSquaredError:
    """L = sum((Yhat - Y)**2) / (N*D): the mean over all N x D entries (np.mean, torch's MSELoss).

    For the XOR net of seed 001 (D = 1) this is the mean over the batch, the seed's MSELoss.
    grad_Yhat = 2*(Yhat - Y)/(N*D). (Seed 001's hand-written backward starts from Yhat - Y,
    i.e. it drops the constant factor 2/N, which only rescales its learning rate.)
    """
    name = "mse"

    def build(self, Yhat, Y):
        N, D = Yhat.shape
        return ops.divide(ops.entry_sum(ops.hpow(ops.sub(Yhat, Y), 2)), N * D)


class SoftmaxCrossEntropy:
    """L = (sum(logsumexp(Z)) - sum(Y * Z)) / N: softmax cross-entropy of the N x C logits Z,
    row by row, averaged over the batch, for one-hot (or any row-stochastic) Y.
    It equals -sum(Y * log(softmax(Z)))/N; grad_Z = (softmax(Z) - Y)/N."""
    name = "softmax_ce"

    def build(self, Z, Y):
        N, C = Z.shape
        if C == 1:
            raise ShapeError("softmax cross-entropy needs at least two classes (N x C logits, C > 1); "
                             "use bce for one output")
        return ops.divide(ops.sub(ops.entry_sum(ops.logsumexp(Z)), ops.entry_sum(ops.hadamard(Y, Z))), N)


class BinaryCrossEntropy:
    """L = sum(softplus(Z) - Y * Z) / (N*D): binary cross-entropy *from logits* Z (the network
    output before any sigmoid), averaged over all N x D entries, Y in {0, 1}. It equals
    -mean(Y*log(sigmoid(Z)) + (1-Y)*log(1-sigmoid(Z))); grad_Z = (sigmoid(Z) - Y)/(N*D)."""
    name = "bce"

    def build(self, Z, Y):
        N, D = Z.shape
        return ops.divide(ops.entry_sum(ops.sub(ops.apply("softplus", Z), ops.hadamard(Y, Z))), N * D)


LOSSES = {"sse": SumSquaredError, "mse": MeanSquaredError, "softmax_ce": SoftmaxCrossEntropy,
          "bce": BinaryCrossEntropy}


# ---- the network --------------------------------------------------------------------------------
@dataclass
class Stage:
    """One named layer application: output = layer(input; params)."""
    layer: object
    output: str
    input: object            # MatrixSymbol of the input
    params: dict             # name -> MatrixSymbol
    expr: object             # the output over the input symbol and params


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
        self.X = MatrixSymbol("X", self.N, dense[0].rows)
        self.Y = MatrixSymbol("Y", self.N, dense[-1].cols)
        self.shapes = {"X": (batch, dense[0].n_in), "Y": (batch, dense[-1].n_out)}
        self.parameters = {}
        self.layer_parameters = []   # per layer: name -> symbol ({} for activations)
        k = 0
        for layer in self.layers:
            if isinstance(layer, Dense):
                k += 1
                params = layer.parameters(k)
                self.shapes.update(layer.parameter_shapes(k))
                self.parameters.update(params)
            else:
                params = {}
            self.layer_parameters.append(params)
        out = self.X
        for layer, params in zip(self.layers, self.layer_parameters):
            out = layer.build(out, params) if isinstance(layer, Dense) else layer.build(out)
        self.output_expr = out
        self.loss_expr = self.loss.build(out, self.Y)

    def names(self):
        """The forward name of each layer's output (None for Identity layers)."""
        kept = [l for l in self.layers if not isinstance(l, Identity)]
        names = []
        if (len(kept) == 3 and isinstance(kept[0], Dense) and isinstance(kept[1], Activation)
                and isinstance(kept[2], Dense)):
            seed = iter(["h", f"h_{kept[1].name}", "y_pred"])
            return [None if isinstance(l, Identity) else next(seed) for l in self.layers]
        k, used = 0, set()
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

    def backprop(self):
        return Backprop(self)

    def spec(self):
        return " ".join(l.spec() for l in self.layers)


# ---- the backward pass --------------------------------------------------------------------------
def _collapse_ones(e):
    """Rebuild through ops, with ones(n, k) @ ones(k, m) -> k * ones(n, m) and a scalar common
    to every term of a sum pulled out: (ones(N)@ones(1, C))*S/N - Y/N -> (S - Y)/N."""
    memo = {}

    def walk(x):
        if x in memo:
            return memo[x]
        if not ops.is_matrix(x) or not x.args:
            return x
        if isinstance(x, MatMul):
            coeff, mats = ops.split_coeff(x)
            mats = [walk(m) for m in mats]
            if all(isinstance(m, OneMatrix) for m in mats) and len(mats) > 1:
                for m in mats[:-1]:
                    coeff = coeff * m.shape[1]
                out = ops.scale(coeff, OneMatrix(mats[0].shape[0], mats[-1].shape[1]))
            else:
                out = ops.matmul(coeff, *mats)
        elif isinstance(x, MatAdd):
            terms = [walk(t) for t in x.args]
            coeffs = [ops.split_coeff(t)[0] for t in terms]
            common = coeffs[0]
            if common != 1 and all(c == common for c in coeffs):
                out = ops.scale(common, ops.add(*[ops.scale(1 / common, t) for t in terms]))
            else:
                out = ops.add(*terms)
        elif isinstance(x, HadamardProduct):
            out = ops.hadamard(*[walk(a) for a in x.args])
        else:
            out = x
        memo[x] = out
        return out

    return walk(e)


def _read_off(G, V):
    """tr(G.T @ dV), with G kept whole so the gradient can be read off the printed form."""
    GT = ops.transpose(G) if isinstance(G, MatrixSymbol) else Transpose(G)
    product = MatMul(GT, Differential(V))
    return AsScalar(product) if V.shape[1] == 1 else Trace(product)


def _shape_text(e):
    if not ops.is_matrix(e):
        return "scalar"
    return f"{e.shape[0]} x {e.shape[1]}"


def _shape_latex(e):
    if not ops.is_matrix(e):
        return r"\text{scalar}"
    return rf"{latex_of(e.shape[0])} \times {latex_of(e.shape[1])}"


@dataclass
class Row:
    """One line of the derivation: lhs = rhs, with a note; or a heading when lhs is None."""
    lhs: object
    rhs: object
    note: str = ""
    heading: str = ""
    continued: bool = False      # "= rhs" continuing the previous line
    shape: bool = False          # the note is the shape of lhs (forward pass)


CONVENTION = ("Convention: the gradient is the transposed Jacobian; grad_V has the shape of V "
              "and dL = tr(grad_V.T @ dV).")


class Backprop:
    """The backward pass of a Sequential network, derived layer by layer (see the module doc).

    forward:   [(name, expr)] in evaluation order, the last ("loss", scalar expr)
    backward:  [(name, expr, comment)] in evaluation order; the lines of one layer share the
               comment, the differential that justifies them
    gradients: parameter name -> expression over the named symbols
    symbols:   name -> SymPy symbol, for X, Y, the parameters and every forward/backward name
    steps:     [Step] of every differential and identification, in order
    """

    def __init__(self, net):
        self.net = net
        self.forward, self.backward, self.steps, self.rows = [], [], [], []
        self.symbols = {"X": net.X, "Y": net.Y, **net.parameters}
        self.gradients = {}
        stages = self._forward_stages()
        self._derive_loss(stages)
        self._derive_layers(stages)
        self.gradients = {p: self.gradients[p] for p in net.parameters}

    # -- forward --
    def _forward_stages(self):
        net, stages = self.net, []
        self.rows.append(Row(None, None, heading="Forward pass (shapes on the right):"))
        current = net.X
        for layer, params, name in zip(net.layers, net.layer_parameters, net.names()):
            if name is None:
                continue
            expr = layer.build(current, params) if isinstance(layer, Dense) else layer.build(current)
            sym = MatrixSymbol(name, *expr.shape)
            self.forward.append((name, expr))
            self.symbols[name] = sym
            self.rows.append(Row(sym, expr, note=_shape_text(sym), shape=True))
            stages.append(Stage(layer, name, current, params, expr))
            current = sym
        self.output = current
        loss = net.loss.build(current, net.Y)
        self.loss_symbol = sp.Symbol("L")
        self.symbols["loss"] = sp.Symbol("loss")
        self.forward.append(("loss", loss))
        self.rows.append(Row(self.loss_symbol, loss, note="scalar", shape=True))
        return stages

    # -- the loss --
    def _derive_loss(self, stages):
        out = self.output
        loss = self.forward[-1][1]
        G = _collapse_ones(grad(loss, out.name).result)
        name = f"grad_{out.name}"
        G_sym = MatrixSymbol(name, *out.shape)
        dL = ScalarDifferential(self.loss_symbol)
        read = ops.inner(G, Differential(out))
        comment = f"dL = tr(({to_text(G)}).T @ d({out.name}))"
        self.rows.append(Row(None, None, heading=f"Loss ({type(self.net.loss).__name__}):"))
        self.rows.append(Row(dL, read, note="differential of the loss, brought to tr(G.T dX) form"))
        self.rows.append(Row(G_sym, G, note=f"read off: the gradient w.r.t. {out.name}"))
        self.steps.append(Step(dL, read, "loss differential", "dL = tr(G.T @ dY_pred) defines G"))
        self.steps.append(Step(read, G, "identification", f"{name} = G"))
        self.backward.append((name, G, comment))
        self.symbols[name] = G_sym
        self.adjoint = G_sym

    # -- the layers, from the output back --
    def _derive_layers(self, stages):
        X = self.net.X
        for stage in reversed(stages):
            G = self.adjoint
            A, Z = stage.input, self.symbols[stage.output]
            input_varies = A != X
            wrt = list(stage.params) + ([A.name] if input_varies else [])
            if not wrt:
                break
            local = ops.inner(G, stage.expr)
            found = grad(local, wrt).results
            if isinstance(stage.layer, Dense):
                self._dense_step(stage, G, A, Z, found, input_varies)
            else:
                self._activation_step(stage, G, A, Z, found)
            if not input_varies:
                break

    def _emit(self, name, expr, comment):
        self.backward.append((name, expr, comment))
        sym = MatrixSymbol(name, *expr.shape) if ops.is_matrix(expr) else sp.Symbol(name)
        self.symbols[name] = sym
        return sym

    def _dense_step(self, stage, G, A, Z, found, input_varies):
        layer = stage.layer
        terms = layer.differential(A, stage.params, input_varies)
        comment = layer.differential_text(Z.name, A, stage.params, input_varies)
        dZ = ops.add(*terms)
        W, b = layer.weights(stage.params)
        self.rows.append(Row(None, None, heading=f"Dense layer {stage.output} = "
                                                  f"{to_text(stage.expr)}:"))
        self.rows.append(Row(Differential(Z), dZ, note="product rule"))
        self.steps.append(Step(Differential(Z), dZ, "product rule",
                               "d(A @ W + ones(N) @ b.T) = dA @ W + A @ dW + ones(N) @ db.T"))
        traced = ops.add(*[ops.inner(G, t) for t in terms])
        self.rows.append(Row(ScalarDifferential(self.loss_symbol), traced,
                             note=f"dL = tr({G.name}.T @ d{Z.name})"))
        variables = [W] + ([b] if b is not None else []) + ([A] if input_varies else [])
        read = sp.Add(*[_read_off(found[v.name], v) for v in variables], evaluate=False)
        self.rows.append(Row(None, read, note="cyclic trace: tr(G.T A dW) = tr((A.T G).T dW)",
                             continued=True))
        identities = {W.name: "tr(G.T @ A @ dW) = tr((A.T @ G).T @ dW)",
                      A.name: "tr(G.T @ dA @ W) = tr((G @ W.T).T @ dA)"}
        if b is not None:
            identities[b.name] = "tr(G.T @ ones(N) @ db.T) = tr((G.T @ ones(N)).T @ db)"
        for v in variables:
            expr = found[v.name]
            name = f"grad_{v.name}"
            sym = self._emit(name, expr, comment)
            self.rows.append(Row(sym, expr, note=f"read off: the gradient w.r.t. {v.name}"))
            self.steps.append(Step(ops.inner(G, terms[0] if v is A else
                                             next(t for t in terms if t.has(Differential(v)))),
                                   expr, "identification", identities[v.name]))
            if v.name in self.net.parameters:
                self.gradients[v.name] = expr
            else:
                self.adjoint = sym

    def _activation_step(self, stage, G, A, Z, found):
        layer = stage.layer
        slope = grad(ops.entry_sum(stage.expr), A.name).result
        dZ = ops.hadamard(slope, Differential(A))
        f = layer.name
        comment = f"d({Z.name}) = {f}'({A.name}) * d({A.name})"
        self.rows.append(Row(None, None, heading=f"Activation {stage.output} = "
                                                  f"{to_text(stage.expr)}:"))
        self.rows.append(Row(Differential(Z), dZ, note=f"elementwise: d(f(Z)) = f'(Z) * dZ, "
                                                       f"{f}'({A.name}) = {to_text(slope)}"))
        self.steps.append(Step(Differential(Z), dZ, "elementwise function",
                               "d(f(Z)) = f'(Z) * dZ"))
        traced = ops.inner(G, dZ)
        self.rows.append(Row(ScalarDifferential(self.loss_symbol), traced,
                             note=f"dL = tr({G.name}.T @ d{Z.name})"))
        expr = found[A.name]
        read = _read_off(expr, A)
        self.rows.append(Row(None, read, note="tr(G.T (M * dZ)) = tr((G * M).T dZ)", continued=True))
        name = f"grad_{A.name}"
        sym = self._emit(name, expr, comment)
        self.rows.append(Row(sym, expr, note=f"read off: the gradient w.r.t. {A.name}"))
        self.steps.append(Step(traced, expr, "identification",
                               "tr(G.T @ (M * dZ)) = tr((G * M).T @ dZ)"))
        self.adjoint = sym

    # -- use --
    def values(self, values):
        """name -> NumPy value of every forward and backward name, from X, Y and the parameters."""
        env = dict(values)
        lines = [(n, e) for n, e in self.forward] + [(n, e) for n, e, _ in self.backward]
        for name, expr in lines:
            value = evaluate_expr(expr, env)
            if ops.is_matrix(self.symbols[name]) and np.ndim(value) == 0:
                value = np.reshape(value, (1, 1))      # evaluate() returns 1 x 1 as a scalar
            env[name] = value
        return env

    def evaluate(self, values):
        """parameter name -> NumPy gradient, shaped like the value given for the parameter."""
        env = self.values(values)
        return {p: np.reshape(env[f"grad_{p}"], np.shape(values[p])) for p in self.gradients}

    def expanded(self, name):
        """The gradient of parameter `name` (or any forward/backward name) with every
        intermediate substituted: a plain expression in X, Y and the parameters."""
        full = {}
        for n, expr in self.forward[:-1]:
            full[self.symbols[n]] = expr.xreplace(full)
        for n, expr, _ in self.backward:
            full[self.symbols[n]] = expr.xreplace(full)
        if name in self.gradients:
            return self.gradients[name].xreplace(full)
        if name == "loss":
            return self.forward[-1][1].xreplace(full)
        if name not in self.symbols:
            raise UnknownNameError(f"no quantity named {name!r}; names: {', '.join(self.symbols)}")
        return full.get(self.symbols[name], self.symbols[name])

    # -- rendering --
    def text(self):
        """The derivation in plain text, in the notation."""
        lines = [CONVENTION]
        for row in self.rows:
            if row.heading:
                lines.append("")
                lines.append(row.heading)
                continue
            lhs = "" if row.continued else _text_symbol(row.lhs)
            body = f"  {lhs:>12} = {to_text(row.rhs)}"
            lines.append(f"{body:<56}  # {row.note}" if row.note else body)
        return "\n".join(lines)

    def latex(self):
        """The derivation as one amsmath `aligned` block (KaTeX/MathJax safe)."""
        lines = [rf"&{text_latex(CONVENTION)}"]
        for row in self.rows:
            if row.heading:
                lines.append(rf"&{text_latex(row.heading)}")
                continue
            lhs = "" if row.continued else _latex_symbol(row.lhs)
            if row.shape:
                note = rf"[{_shape_latex(row.lhs)}]" if ops.is_matrix(row.lhs) else r"\text{scalar}"
            else:
                note = text_latex(row.note) if row.note else ""
            line = f"{lhs} &= {latex_of(row.rhs)}"
            if note:
                line += rf" && {note}"
            lines.append(line)
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def _text_symbol(s):
    if isinstance(s, ScalarDifferential):
        return f"d{s.arg}"
    return to_text(s)


def _latex_symbol(s):
    if isinstance(s, sp.Symbol):
        return name_latex(s.name)
    return latex_of(s)


# ---- the layer-spec text format -----------------------------------------------------------------
SPEC_GRAMMAR = """
spec   := layer+                       (separated by spaces)
layer  := NAME [ "(" args ")" ]
args   := arg ("," arg)*
arg    := NUMBER | NAME | NAME "=" (NUMBER | NAME)
layers: dense(IN, OUT[, bias=true|false])   IN, OUT: positive integers or dimension names
        relu  sigmoid  tanh  softplus  identity  leaky_relu[(ALPHA)]   (ALPHA defaults to 0.01)
"""


def _tokens(text):
    """(kind, value, column) with kind in NAME, NUMBER, '(', ')', ',', '=' and END."""
    i, out = 0, []
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "(),=":
            out.append((c, c, i + 1))
            i += 1
        elif c.isalpha() or c == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(("NAME", text[i:j], i + 1))
            i = j
        elif c.isdigit() or c in "+-." and i + 1 < len(text) and (text[i + 1].isdigit() or text[i + 1] == "."):
            j = i + 1
            while j < len(text) and (text[j].isdigit() or text[j] in ".eE" or
                                     (text[j] in "+-" and text[j - 1] in "eE")):
                j += 1
            literal = text[i:j]
            try:
                value = int(literal) if literal.lstrip("+-").isdigit() else float(literal)
            except ValueError:
                raise ParseError(f"bad number {literal!r}", text, i + 1) from None
            out.append(("NUMBER", value, i + 1))
            i = j
        else:
            raise ParseError(f"unexpected character {c!r}", text, i + 1)
    out.append(("END", None, len(text) + 1))
    return out


def from_spec(spec, loss="sse", batch="N"):
    """A Sequential network from the layer-spec text, e.g.
    "dense(1000,100,bias=false) relu dense(100,10,bias=false)"; grammar in SPEC_GRAMMAR."""
    if not isinstance(spec, str):
        raise MatcalcError("the layer spec must be text")
    if loss not in LOSSES:
        raise UnknownNameError(f"unknown loss {loss!r}; losses: {', '.join(LOSSES)}")
    tokens = _tokens(spec)
    pos = 0
    layers = []

    def expect(kind, what):
        nonlocal pos
        tok = tokens[pos]
        if tok[0] != kind:
            found = "end of spec" if tok[0] == "END" else repr(tok[1])
            raise ParseError(f"expected {what}, found {found}", spec, tok[2])
        pos += 1
        return tok

    if tokens[0][0] == "END":
        raise ParseError("empty layer spec: name at least one layer, e.g. dense(2,3)", spec, 1)
    while tokens[pos][0] != "END":
        kind, name, column = expect("NAME", "a layer name")
        args = []
        if tokens[pos][0] == "(":
            pos += 1
            while True:
                tok = tokens[pos]
                if tok[0] == "NAME" and tokens[pos + 1][0] == "=":
                    pos += 2
                    val = tokens[pos]
                    if val[0] not in ("NAME", "NUMBER"):
                        raise ParseError("expected a value after '='", spec, val[2])
                    pos += 1
                    args.append((tok[1], val[1], tok[2]))
                elif tok[0] in ("NAME", "NUMBER"):
                    pos += 1
                    args.append((None, tok[1], tok[2]))
                else:
                    raise ParseError("expected an argument", spec, tok[2])
                if tokens[pos][0] == ",":
                    pos += 1
                    continue
                expect(")", "',' or ')'")
                break
        layers.append(_layer(name, args, spec, column))
    try:
        return Sequential(layers, loss=LOSSES[loss](), batch=batch)
    except ShapeError as e:
        raise ShapeError(f"{e} (in spec {spec!r})") from None


def _layer(name, args, spec, column):
    key = name.lower()
    if key == "dense":
        positional = [(v, c) for k, v, c in args if k is None]
        keywords = {k.lower(): (v, c) for k, v, c in args if k is not None}
        if len(positional) != 2:
            raise ParseError(f"dense needs two sizes, dense(IN, OUT), got {len(positional)}",
                             spec, column)
        for k, (v, c) in keywords.items():
            if k != "bias":
                raise ParseError(f"unknown option {k!r} of dense (only bias=true|false)", spec, c)
        bias = True
        if "bias" in keywords:
            v, c = keywords["bias"]
            if str(v).lower() not in ("true", "false", "1", "0"):
                raise ParseError(f"bias must be true or false, got {v!r}", spec, c)
            bias = str(v).lower() in ("true", "1")
        sizes = []
        for v, c in positional:
            if isinstance(v, float) or (isinstance(v, int) and v <= 0):
                raise ParseError(f"a size must be a positive integer or a name, got {v!r}", spec, c)
            sizes.append(v)
        return Dense(sizes[0], sizes[1], bias=bias)
    if key not in ACTIVATIONS:
        raise ParseError(f"unknown layer {name!r}; layers: dense, " + ", ".join(ACTIVATIONS),
                         spec, column)
    if key == "leaky_relu":
        if len(args) > 1 or any(k is not None and k != "alpha" for k, _, _ in args):
            raise ParseError("leaky_relu takes one number, leaky_relu(ALPHA)", spec, column)
        if args:
            _, v, c = args[0]
            if not isinstance(v, (int, float)):
                raise ParseError(f"alpha must be a number, got {v!r}", spec, c)
            return LeakyReLU(v)
        return LeakyReLU()
    if args:
        raise ParseError(f"{key} takes no arguments", spec, args[0][2])
    return ACTIVATIONS[key]()
