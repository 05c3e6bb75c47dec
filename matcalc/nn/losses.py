"""The losses of a network, each one class: how it builds the scalar loss from the output and Y."""
import sympy as sp

from ..core import functions, ops
from ..errors import ShapeError


class SumSquaredError:
    """L = sum((Yhat - Y)**2), the first seed's loss; grad_Yhat = 2*(Yhat - Y)."""
    name = "sse"

    def build(self, Yhat, Y):
        return functions.apply("sum", ops.hpow(ops.sub(Yhat, Y), 2))


class MeanSquaredError:
    """L = sum((Yhat - Y)**2) / (N*D): the mean over all N x D entries (np.mean, torch's MSELoss).

    For the XOR net of seed 001 (D = 1) this is the mean over the batch, the seed's MSELoss.
    grad_Yhat = 2*(Yhat - Y)/(N*D). (Seed 001's hand-written backward starts from Yhat - Y,
    i.e. it drops the constant factor 2/N, which only rescales its learning rate.)
    """
    name = "mse"

    def build(self, Yhat, Y):
        N, D = Yhat.shape
        return ops.divide(functions.apply("sum", ops.hpow(ops.sub(Yhat, Y), 2)), N * D)


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
        lse = functions.apply("sum", functions.apply("logsumexp", Z))
        return ops.divide(ops.sub(lse, functions.apply("sum", ops.hadamard(Y, Z))), N)


class BinaryCrossEntropy:
    """L = sum(softplus(Z) - Y * Z) / (N*D): binary cross-entropy *from logits* Z (the network
    output before any sigmoid), averaged over all N x D entries, Y in {0, 1}. It equals
    -mean(Y*log(sigmoid(Z)) + (1-Y)*log(1-sigmoid(Z))); grad_Z = (sigmoid(Z) - Y)/(N*D)."""
    name = "bce"

    def build(self, Z, Y):
        N, D = Z.shape
        body = ops.sub(functions.apply("softplus", Z), ops.hadamard(Y, Z))
        return ops.divide(functions.apply("sum", body), N * D)


class CategoricalCrossEntropy:
    """L = -sum(Y * log(P)) / N: cross-entropy of the N x C class probabilities P (the output of
    a Softmax layer, as Keras' categorical_crossentropy takes them), mean over the batch, for
    one-hot (or row-stochastic) Y. grad_P = -(Y/P)/N; through the softmax this becomes
    (P - Y)/N row by row for one-hot Y. (Keras also clips P to [eps, 1 - eps]; not here.)"""
    name = "ce"

    def build(self, P, Y):
        N, C = P.shape
        if C == 1:
            raise ShapeError("categorical cross-entropy needs at least two classes (N x C, C > 1)")
        return ops.neg(ops.divide(functions.apply("sum", ops.hadamard(Y, functions.apply("log", P))), N))


class MeanAbsoluteError:
    """L = sum(abs(Yhat - Y)) / (N*D); grad_Yhat = sign(Yhat - Y)/(N*D) (0 at a tie)."""
    name = "mae"

    def build(self, Yhat, Y):
        N, D = Yhat.shape
        return ops.divide(functions.apply("sum", functions.apply("abs", ops.sub(Yhat, Y))), N * D)


class Huber:
    """L = sum(m * (abs(R) - m/2)) / (N*D), R = Yhat - Y and m = minimum(abs(R), delta): R**2/2
    where |R| <= delta, delta*(|R| - delta/2) beyond, averaged over all entries (torch's
    HuberLoss, mean reduction)."""
    name = "huber"

    def __init__(self, delta=1.0):
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta <= 0:
            raise ShapeError(f"huber: delta must be a positive number, got {delta!r}")
        self.delta = delta

    def build(self, Yhat, Y):
        N, D = Yhat.shape
        size = functions.apply("abs", ops.sub(Yhat, Y))
        m = functions.DEFINITIONS["minimum"].build(size, sp.nsimplify(self.delta))
        body = ops.hadamard(m, ops.sub(size, ops.divide(m, 2)))
        return ops.divide(functions.apply("sum", body), N * D)


LOSSES = {"sse": SumSquaredError, "mse": MeanSquaredError, "softmax_ce": SoftmaxCrossEntropy,
          "bce": BinaryCrossEntropy, "ce": CategoricalCrossEntropy, "mae": MeanAbsoluteError,
          "huber": Huber}
