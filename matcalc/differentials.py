"""The differential rules: one small table entry per node type, d(node) in terms of d(children).

Each rule receives the node and `d`, where `d(child)` is the differential placeholder of a child
(`Differential(child)` / `ScalarDifferential(child)`, or zero when the child does not depend on
the variables). It returns an expression *linear* in those placeholders, built only from the
linear operations `identify.py` knows how to transpose (products with constant factors, sums,
transposes, Hadamard products with constant factors, trace, sum of entries, diag, scalar
scaling). A new nonlinear node therefore costs one rule here and nothing in identification.

The first line of each rule's docstring is the identity it implements, in the notation; the
derivation cites it, and a test checks that it matches what the rule builds.

Pipeline: nodes -> **differentials** -> identify -> reverse -> derivation.
This module does not walk expressions; `reverse.py` decides which nodes to expand and when.
"""
import sympy as sp
from sympy import (Determinant, HadamardPower, HadamardProduct, Inverse, MatAdd, MatMul,
                   OneMatrix, Trace, Transpose)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from . import ops
from .errors import NotDifferentiableError
from .rules import Rule, RuleTable  # noqa: F401  (Rule: the record a derivation cites)
from .nodes import (AsScalar, Elementwise, EntrySum, LogDet, LogSumExp, Norm, RowLogSumExp,
                    Softmax, relu, sigmoid, softplus, step)


RULES = RuleTable()


def differential(*node_types, name):
    """Register a differential rule for the given exact node types."""
    return RULES.rule(*node_types, name=name)


def rule_for(node):
    rule = RULES.get(type(node))
    if rule is None:
        known = ", ".join(sorted({t.__name__ for t in RULES}))
        raise NotDifferentiableError(
            f"no differential rule for {type(node).__name__} ({node}); supported: {known}")
    return rule


# ---- sums and products --------------------------------------------------------------------------
@differential(MatAdd, sp.Add, name="linearity")
def d_add(node, d):
    """d(A + B) = dA + dB"""
    return ops.add(*[d(a) for a in node.args])


@differential(MatMul, sp.Mul, name="product rule")
def d_product(node, d):
    """d(A @ B) = dA @ B + A @ dB"""
    args = list(node.args)
    build = ops.matmul if isinstance(node, MatMul) else sp.Mul
    terms = []
    for i, a in enumerate(args):
        da = d(a)
        if not ops.is_zero(da):
            terms.append(build(*(args[:i] + [da] + args[i + 1:])))
    return ops.add(*terms) if terms else _zero_like(node)


@differential(HadamardProduct, name="Hadamard product rule")
def d_hadamard(node, d):
    """d(A * B) = dA * B + A * dB"""
    args = list(node.args)
    terms = [ops.hadamard(*(args[:i] + [d(a)] + args[i + 1:]))
             for i, a in enumerate(args) if not ops.is_zero(d(a))]
    return ops.add(*terms)


@differential(Transpose, name="transpose")
def d_transpose(node, d):
    """d(A.T) = dA.T"""
    return ops.transpose(d(node.arg))


# ---- powers and inverses ------------------------------------------------------------------------
@differential(HadamardPower, name="elementwise power")
def d_hadamard_power(node, d):
    """d(A**p) = p*A**(p - 1)*dA"""
    A, p = node.args
    return ops.hadamard(ops.scale(p, ops.hpow(A, p - 1)), d(A))


@differential(sp.Pow, name="power rule")
def d_pow(node, d):
    """d(a**p) = p*a**(p - 1)*da"""
    a, p = node.args
    if not p.is_number:
        raise NotDifferentiableError(f"the exponent of {node} must be a numeric constant")
    return p * a ** (p - 1) * d(a)


@differential(Inverse, name="inverse")
def d_inverse(node, d):
    """d(inv(A)) = -inv(A)@dA@inv(A)

    Differentiate A @ inv(A) = I. Source: Zhang, matrix differentials; Matrix Cookbook (59).
    """
    return ops.neg(ops.matmul(node, d(node.arg), node))


# ---- scalar functions of matrices ---------------------------------------------------------------
@differential(Trace, name="trace")
def d_trace(node, d):
    """d(tr(A)) = tr(dA)"""
    return ops.trace(d(node.arg))


@differential(Determinant, name="determinant (Jacobi's formula)")
def d_det(node, d):
    """d(det(A)) = det(A)*tr(inv(A)@dA)

    Jacobi's formula. Source: Matrix Cookbook (46); Zhang, matrix differentials.
    """
    A = node.arg
    return node * ops.trace(ops.matmul(ops.inv(A), d(A)))


@differential(LogDet, name="log-determinant")
def d_logdet(node, d):
    """d(logdet(A)) = tr(inv(A)@dA)

    Source: Matrix Cookbook (49) for log|det A|.
    """
    A = node.arg
    return ops.trace(ops.matmul(ops.inv(A), d(A)))


@differential(EntrySum, name="sum of entries")
def d_sum(node, d):
    """d(sum(A)) = sum(dA)"""
    return ops.entry_sum(d(node.arg))


@differential(Norm, name="Frobenius norm")
def d_norm(node, d):
    """d(norm(A)) = tr(A.T@dA)/norm(A)

    From d(norm(A)**2) = 2*tr(A.T@dA). Source: Matrix Cookbook (2.6).
    """
    A = node.arg
    return ops.inner(A, d(A)) / node


@differential(AsScalar, name="1 x 1 matrix as a scalar")
def d_as_scalar(node, d):
    """d(a.T@b) = d(a.T@b)"""
    return ops.scalar(d(node.arg))


@differential(LogSumExp, name="log-sum-exp")
def d_logsumexp(node, d):
    """d(logsumexp(x)) = softmax(x).T@dx"""
    x = node.arg
    return ops.scalar(ops.matmul(ops.transpose(ops.softmax(x)), d(x)))


@differential(RowLogSumExp, name="row-wise log-sum-exp")
def d_row_logsumexp(node, d):
    """d(logsumexp(Z)) = (softmax(Z)*dZ)@ones(C)"""
    Z = node.arg
    return ops.matmul(ops.hadamard(ops.softmax(Z), d(Z)), OneMatrix(Z.shape[1], 1))


@differential(Softmax, name="softmax")
def d_softmax(node, d):
    """d(softmax(z)) = softmax(z)*dz - softmax(z)@softmax(z).T@dz

    For a vector: ds = (diag(s) - s s^T) dz. Row by row for an N x C matrix Z, with S = softmax(Z):
    dS = S*dZ - S*((S*dZ)@ones(C, C)).
    """
    Z = node.arg
    S = node
    dZ = d(Z)
    if node.rowwise:
        SdZ = ops.hadamard(S, dZ)
        C = Z.shape[1]
        return ops.sub(SdZ, ops.hadamard(S, ops.matmul(SdZ, OneMatrix(C, C))))
    return ops.sub(ops.hadamard(S, dZ), ops.matmul(S, ops.transpose(S), dZ))


@differential(DiagMatrix, DiagonalOf, name="diag")
def d_diag(node, d):
    """d(diag(A)) = diag(dA)"""
    return ops.diag(d(node.args[0]))


# ---- elementwise functions ----------------------------------------------------------------------
DERIVATIVES = {}


def derivative(name):
    """Register f'(X), given X and the node f(X), for an elementwise function name."""
    def register(function):
        DERIVATIVES[name] = function
        return function
    return register


@derivative("exp")
def exp_prime(X, fX):
    """exp'(X) = exp(X)"""
    return fX


@derivative("log")
def log_prime(X, fX):
    """log'(X) = 1/X"""
    return ops.hpow(X, -1)


@derivative("sin")
def sin_prime(X, fX):
    """sin'(X) = cos(X)"""
    return ops.apply("cos", X)


@derivative("cos")
def cos_prime(X, fX):
    """cos'(X) = -sin(X)"""
    return ops.neg(ops.apply("sin", X))


@derivative("tanh")
def tanh_prime(X, fX):
    """tanh'(X) = 1 - tanh(X)**2"""
    return ops.sub(1, ops.hpow(fX, 2))


@derivative("sigmoid")
def sigmoid_prime(X, fX):
    """sigmoid'(X) = sigmoid(X)*(1 - sigmoid(X))"""
    return ops.hadamard(fX, ops.sub(1, fX))


@derivative("relu")
def relu_prime(X, fX):
    """relu'(X) = step(X)"""
    return ops.apply("step", X)


@derivative("softplus")
def softplus_prime(X, fX):
    """softplus'(X) = sigmoid(X)"""
    return ops.apply("sigmoid", X)


@derivative("sqrt")
def sqrt_prime(X, fX):
    """sqrt'(X) = 0.5/sqrt(X)"""
    return ops.scale(sp.Rational(1, 2), ops.hpow(fX, -1))


@derivative("abs")
def abs_prime(X, fX):
    """abs'(X) = sign(X)"""
    return ops.apply("sign", X)


@derivative("step")
def step_prime(X, fX):
    """step'(X) = 0"""
    return ops.scale(0, X) if ops.is_matrix(X) else sp.Integer(0)


@derivative("sign")
def sign_prime(X, fX):
    """sign'(X) = 0"""
    return ops.scale(0, X) if ops.is_matrix(X) else sp.Integer(0)


SCALAR_FUNCTION_NAMES = {
    sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tanh: "tanh",
    sigmoid: "sigmoid", relu: "relu", softplus: "softplus", sp.Abs: "abs", step: "step",
    sp.sign: "sign",
}


@differential(Elementwise, name="elementwise function")
def d_elementwise(node, d):
    """d(f(X)) = f'(X)*dX"""
    return ops.hadamard(DERIVATIVES[node.name](node.arg, node), d(node.arg))


@differential(*SCALAR_FUNCTION_NAMES, name="chain rule")
def d_scalar_function(node, d):
    """d(f(x)) = f'(x)*dx"""
    x = node.args[0]
    return DERIVATIVES[SCALAR_FUNCTION_NAMES[type(node)]](x, node) * d(x)


def _zero_like(node):
    return ops.scale(0, node) if ops.is_matrix(node) else sp.Integer(0)
