"""The losses of a network, each one class: how it builds the scalar loss from the output and Y."""
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


LOSSES = {"sse": SumSquaredError, "mse": MeanSquaredError, "softmax_ce": SoftmaxCrossEntropy,
          "bce": BinaryCrossEntropy}
