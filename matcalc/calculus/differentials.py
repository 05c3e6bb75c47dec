"""The differential rules: d(node) in terms of d(children), one rule per node type.

Each rule receives the node and `d`, where `d(child)` is the differential of a child (a
placeholder `Differential(child)` in the reverse walk, the child's own differential in the
forward walk, zero when the child does not depend on the variables). It returns an expression
*linear* in those differentials, built only from the linear operations that transpose.py knows
how to transpose (products with constant factors, sums, transposes, Hadamard products with
constant factors, trace, sum of entries, diag, scalar scaling). A new nonlinear function
therefore costs one rule and nothing in identification.

Two sources of rules, both `Rule`s citing their identity (the docstring's first line):
* `STRUCTURAL`, this module's table, for the closed set of structural operations (MatMul,
  MatAdd, Transpose, HadamardProduct, HadamardPower, Inverse, Trace, diag, MatrixPower, the
  1 x 1 scalar, SymPy's scalar Add, Mul, Pow);
* the function registry (core/functions.py): every elementwise function shares the chain rule
  `d(f(X)) = f'(X)*dX` with its record's f', and every matrix function has its own d-rule.

`rule_for(node)` returns the Rule to apply, and `derivative_of(node)` the record's f' rule for
an elementwise node (what a derivation cites beside the chain rule).

Pipeline: core -> **differentials** -> transpose -> reverse / forward. This module does not
walk expressions; reverse.py and forward.py decide which nodes to expand and when.
"""
import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Inverse, MatAdd, MatMul, Trace, Transpose)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from ..core import functions, ops
from ..core.blocks import Concat, joined
from ..core.nodes import AsScalar, Elementwise, MatrixPower, Named
from ..core.vec import kron
from ..core.windows import BlockArgmax, BlockMax, Col2im, Im2col, blockargmax, col2im, im2col
from ..core.rules import Rule, RuleTable
from ..errors import NotDifferentiableError

STRUCTURAL = RuleTable("differential rule")


def differential(*node_types, name):
    """Register a differential rule for the given exact node types."""
    return STRUCTURAL.rule(*node_types, name=name)


def rule_for(node):
    """The differential rule of a node: structural, or from its record in the registry."""
    rule = STRUCTURAL.get(type(node))
    if rule is not None:
        return rule
    record = functions.record_of(node)
    if record is not None:
        return CHAIN_RULE if record.kind == "elementwise" else record.rule
    known = STRUCTURAL.known() + "; functions: " + ", ".join(functions.names())
    raise NotDifferentiableError(
        f"no differential rule for {type(node).__name__} ({str(node)[:60]}); supported: {known}")


def derivative_of(node):
    """The record's f' rule for an elementwise node (scalar or matrix), else None."""
    record = functions.record_of(node)
    return record.rule if record is not None and record.kind == "elementwise" else None


# ---- sums and products --------------------------------------------------------------------------
@differential(MatAdd, sp.Add, name="linearity")
def d_add(node, d):
    """d(A + B) = dA + dB"""
    return ops.add(*[d(a) for a in node.args])


def product_terms(node, d, product):
    """One term per factor holding a differential: the factor replaced by its differential."""
    args = list(node.args)
    terms = []
    for i, a in enumerate(args):
        if isinstance(a, sp.Number):
            continue
        da = d(a)
        if not ops.is_zero(da):
            terms.append(product(*(args[:i] + [da] + args[i + 1:])))
    return terms


@differential(MatMul, name="product rule")
def d_matmul(node, d):
    """d(A@B) = dA@B + A@dB"""
    terms = product_terms(node, d, ops.matmul)
    return ops.add(*terms) if terms else ops.zero_like(node)


@differential(sp.Mul, name="product rule")
def d_mul(node, d):
    """d(a*b) = a*db + b*da"""
    return sp.Add(*product_terms(node, d, sp.Mul))


@differential(HadamardProduct, name="Hadamard product rule")
def d_hadamard(node, d):
    """d(A*B) = dA*B + A*dB"""
    terms = product_terms(node, d, ops.hadamard)
    return ops.add(*terms) if terms else ops.zero_like(node)


@differential(Transpose, name="transpose")
def d_transpose(node, d):
    """d(A.T) = dA.T"""
    return ops.transpose(d(node.arg))


@differential(MatrixPower, name="matrix power")
def d_matrix_power(node, d):
    """d(matrix_power(X, 3)) = dX@X@X + X@dX@X + X@X@dX

    d(X^k) = sum over i of X^i dX X^(k-1-i): the product rule over k equal factors.
    """
    X, k = node.base, int(node.exponent)
    dX = d(X)
    return ops.add(*[ops.matmul(ops.matrix_power(X, i), dX, ops.matrix_power(X, k - 1 - i))
                     for i in range(k)])


# ---- powers and inverses ------------------------------------------------------------------------
@differential(HadamardPower, name="elementwise power")
def d_hadamard_power(node, d):
    """d(A**p) = p*A**(p - 1)*dA + A**p*log(A)*dp

    Entry by entry, A**p = exp(p*log(A)), so by the scalar rules d(exp(u)) = exp(u)*du and
    d(log(a)) = da/a with the Hadamard product rule d(U*V) = dU*V + U*dV (Zhang, Matrix
    Analysis and Applications), d(A**p) = A**p*(p/A*dA + log(A)*dp): the power rule in the
    base and the exponential rule in the exponent.
    The exponent p is a number (then dp = 0 and only the power rule remains), a scalar
    expression or a matrix of A's shape; A or p may be a scalar. Domain: where the exponent
    varies, A > 0 (log(A) is real only there); for a constant p, wherever A**p is real.
    """
    A, p = node.args
    terms = []
    dA = d(A)
    if not ops.is_zero(dA):
        terms.append(ops.hadamard(ops.hadamard(p, ops.hpow(A, ops.sub(p, 1))), dA))
    if not p.is_number:
        dp = d(p)
        if not ops.is_zero(dp):
            terms.append(ops.hadamard(node, functions.f("log", A), dp))
    return ops.add(*terms) if terms else ops.zero_like(node)


d_hadamard_power.narrowed = lambda node: (
    "d(A**p) = p*A**(p - 1)*dA" if node.args[1].is_number else None)


@differential(sp.Pow, name="power rule")
def d_pow(node, d):
    """d(a**p) = p*a**(p - 1)*da + a**p*log(a)*dp

    a**p = exp(p*log(a)) for scalars: the power rule in the base and, for a varying exponent
    (a > 0 there), the exponential rule in the exponent.
    """
    a, p = node.args
    out = p * ops.power(a, p - 1) * d(a) if not a.is_number else sp.Integer(0)
    if not p.is_number:
        out = out + node * functions.f("log", a) * d(p)
    return out


d_pow.narrowed = lambda node: "d(a**p) = p*a**(p - 1)*da" if node.args[1].is_number else None


@differential(Inverse, name="inverse")
def d_inverse(node, d):
    """d(inv(A)) = -(inv(A)@dA@inv(A))

    Differentiate A @ inv(A) = I. Source: Zhang, matrix differentials; Matrix Cookbook (59).
    """
    return ops.neg(ops.matmul(node, d(node.arg), node))


# ---- linear structural operations ---------------------------------------------------------------
@differential(Trace, name="trace")
def d_trace(node, d):
    """d(tr(A)) = tr(dA)"""
    return ops.trace(d(node.arg))


@differential(DiagMatrix, DiagonalOf, name="diag")
def d_diag(node, d):
    """d(diag(A)) = diag(dA)"""
    return ops.diag(d(node.args[0]))


@differential(AsScalar, name="a 1 x 1 matrix is a scalar")
def d_as_scalar(node, d):
    """d(a.T@b) = d(a.T@b)"""
    return ops.scalar(d(node.arg))


@differential(Named, name="named intermediate")
def d_named(node, d):
    """d(h) = dX  for h := X"""
    return d(node.arg)


@differential(Concat, name="concatenation")
def d_concat(node, d):
    """d(concat(A, B)) = concat(dA, dB)

    For both axes (hconcat likewise): every entry of the concatenation is an entry of A or of
    B, so it is linear in the blocks. Zero differentials stay zero blocks.
    """
    A, B = node.blocks
    return joined(node.axis, d(A), d(B))


# ---- convolution and pooling (core/windows.py) -------------------------------------------------
@differential(Im2col, name="im2col")
def d_im2col(node, d):
    """d(im2col(X, 1, 28, 28, 3, 3, 2, 2, 1, 1)) = im2col(dX, 1, 28, 28, 3, 3, 2, 2, 1, 1)

    For every geometry (C, H, W, KH, KW, SH, SW, PH, PW): im2col only copies entries of X into
    windows (and zeros for the padding), so it is linear in X.
    """
    return im2col(d(node.arg), *node.parameters)


@differential(Col2im, name="col2im")
def d_col2im(node, d):
    """d(col2im(G, 8, 14, 14, 3, 3, 2, 2, 1, 1, 8)) = col2im(dG, 8, 14, 14, 3, 3, 2, 2, 1, 1, 8)

    For every geometry: col2im only adds entries of G onto pixels, so it is linear in G.
    """
    return col2im(d(node.arg), *node.parameters)


@differential(BlockMax, name="block maximum (max pooling)")
def d_blockmax(node, d):
    """d(blockmax(P, 4)) = (blockargmax(P, 4)*dP)@kron(ones(4), eye(8))

    For g blocks of C columns (here 4 of 8): only the largest entry of each block position
    moves the maximum. blockargmax(P, g) is 1 there and 0 elsewhere, and where k entries tie
    (a kink) 1/k at each: the mean of the one-sided derivatives, a subgradient, as `max`'s
    record and autograd take it; @kron(ones(g), eye(C)) adds the g weighted blocks.
    """
    P, g = node.arg, node.blocks
    C = P.shape[1] / g
    return ops.matmul(ops.hadamard(blockargmax(P, g), d(P)), kron(ops.ones(g, 1), ops.eye(C)))


@differential(BlockArgmax, name="block argmax weights")
def d_blockargmax(node, d):
    """d(blockargmax(P, 4)) = 0

    blockargmax(P, g) is piecewise constant in P (it changes only where the largest entry of a
    block changes), as ismax(A) is.
    """
    return ops.zero_like(node)


# ---- every elementwise function of the registry ---------------------------------------------------
def d_elementwise(node, d):
    """d(f(X)) = f'(X)*dX"""
    record = functions.record_of(node)
    X = node.arg if isinstance(node, Elementwise) else node.args[0]
    prime = record.rule(X, node)
    if ops.is_matrix(node):
        return ops.hadamard(prime, d(X))
    return ops.as_scalar_if_1x1(prime) * d(X)


CHAIN_RULE = Rule(Elementwise, "chain rule", d_elementwise)
