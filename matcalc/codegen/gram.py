"""Gram-like products emitted for the symmetric BLAS kernel: A.T @ diag(w) @ A = B.T @ B.

With w >= 0 known from its form, B = diag(sqrt(w)) @ A (printed `np.sqrt(w) * A`) is computed
once, as a named node (core.nodes.Named: X_scaled, so that the canonical forms do not fold B.T @ B
back into A.T @ diag(w) @ A), and B.T @ B is a product of an array with its own transpose, which NumPy hands
to BLAS syrk: half the multiplications of the general product A.T @ (w * A), which is what is
printed otherwise. The logistic-regression Hessian X.T @ diag(s*(1 - s)) @ X is the example.

`is_nonnegative` knows a few forms from their functions (sigmoid, exp, softplus, relu, abs,
step, sqrt), 1 - sigmoid(z) (= sigmoid(-z)), even powers, and products, sums and positive
multiples of those; anything else is not assumed to be >= 0. The rewrite is codegen's: the
derivation keeps the Hessian as derived.
"""
import sympy as sp
from sympy import HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose
from sympy.matrices.expressions.diagonal import DiagMatrix

from ..core import dag, functions, ops
from ..core.nodes import Elementwise, Named
from ..core.rebuild import rebuild

NONNEGATIVE_FUNCTIONS = {"sigmoid", "exp", "softplus", "relu", "abs", "step", "sqrt"}
AT_MOST_ONE = {"sigmoid", "step"}          # 1 - f(z) >= 0 too


def is_nonnegative(e, memo):
    """Whether every entry of e is >= 0, from its form (see the module docstring)."""
    for node in dag.postorder(e):
        if node not in memo:
            memo[node] = bool(_nonnegative(node, memo))
    return memo[e]


def _nonnegative(e, memo):
    if isinstance(e, OneMatrix) or isinstance(e, sp.Number):
        return isinstance(e, OneMatrix) or bool(e >= 0)
    if isinstance(e, Elementwise):
        return e.name in NONNEGATIVE_FUNCTIONS
    if isinstance(e, HadamardProduct):
        return all(memo.get(a, False) for a in e.args)
    if isinstance(e, HadamardPower):
        base, exponent = e.args
        return bool(exponent.is_even) or memo.get(base, False)
    if isinstance(e, MatMul):
        coeff, mats = ops.split_coeff(e)
        return len(mats) == 1 and bool(coeff >= 0) and memo.get(mats[0], False)
    if isinstance(e, MatAdd):
        return all(memo.get(t, False) or _one_minus(t, e) for t in e.args)
    return False


def _one_minus(term, total):
    """term is -f(z) for f in AT_MOST_ONE, and the sum holds c * ones with c >= 1."""
    if not ops.is_negative_term(term):
        return False
    f = ops.neg(term)
    if not (isinstance(f, Elementwise) and f.name in AT_MOST_ONE):
        return False
    for t in total.args:
        coeff, mats = ops.split_coeff(t) if isinstance(t, MatMul) else (1, [t])
        if len(mats) == 1 and isinstance(mats[0], OneMatrix) and bool(coeff >= 1):
            return True
    return False


def gram_products(R):
    """R with each A.T @ diag(w) @ A (w >= 0 known) written as B.T @ B, B = diag(sqrt(w)) @ A."""
    memo = {}

    def build(node, kids):
        node = rebuild(node, kids)
        if not isinstance(node, MatMul):
            return node
        coeff, mats = ops.split_coeff(node)
        for i in range(1, len(mats) - 1):
            left, middle, right = mats[i - 1], mats[i], mats[i + 1]
            if isinstance(middle, DiagMatrix) and isinstance(left, Transpose) and left.arg == right \
                    and is_nonnegative(middle.args[0], memo):
                B = Named(ops.matmul(ops.diag(functions.f("sqrt", middle.args[0])), right),
                          f"{right.name}_scaled" if isinstance(right, MatrixSymbol) else "scaled")
                return ops.scale(coeff, ops.matmul(*mats[:i - 1], ops.transpose(B), B, *mats[i + 2:]))
        return node
    return dag.transform(R, build)
