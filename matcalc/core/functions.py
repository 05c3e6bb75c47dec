"""The function registry: one record per function of the notation, read by every consumer.

A record holds everything matcalc knows about one function: its name in the notation, its node
class, its derivative rule (the identity as the rule's docstring, first line), its evaluation
for any array module (numpy, autograd.numpy, ...), its NumPy and LaTeX spellings, and its flags.
The parser, the builders, the printers (text, LaTeX, NumPy), evaluate, the differential rules
and codegen all read their tables from here; none keeps a list of its own. Adding a function is
one decorated rule below (see `gelu` or `softsign`), plus its tests.

Three kinds:

* **elementwise** (`@elementwise`): f applied to every entry; the rule is f'(X) given X and
  f(X), and the differential is d(f(X)) = f'(X) * dX for all of them (differentials.py). On a
  scalar argument the same record builds a SymPy function of its own class (`scalar_class`).
* **scalar of a matrix** (`@scalar_of_matrix`): sum, norm, det, logdet, logsumexp of a vector;
  the rule is the whole differential d(f(A)) in terms of d(A).
* **matrix of a matrix** (`@matrix_of_matrix`): softmax, row-wise logsumexp; likewise.

Spellings are templates: `{x}` is the argument where any expression fits (inside a call's
parentheses), `{x_}` the argument where it must be an operand (parenthesised unless atomic);
`numpy_prec` says how tightly the NumPy spelling binds (`atom` for a call, `mul` for a product).
A `helper` is the source of a small function a generated module defines when it uses the record
(softmax and logsumexp, shifted by the max so they do not overflow).

Pipeline: nodes -> ops -> **functions** -> (parse, printers, evaluate, differentials, codegen).
This module does not differentiate, print or evaluate anything itself; it describes.
"""
from dataclasses import dataclass

import sympy as sp
from sympy import Determinant, OneMatrix, ZeroMatrix

from ..errors import ShapeError
from . import ops
from .intern import canonical
from .nodes import Elementwise, MatrixOfMatrix, ScalarOfMatrix, scalar_function
from .rules import Rule
from .shapes import describe, is_matrix, shape_of


@dataclass(frozen=True)
class Function:
    name: str                    # unique key, e.g. "tanh", "row_logsumexp"
    notation: str                # what the user types and the printers write: "logsumexp"
    kind: str                    # "elementwise" | "scalar of matrix" | "matrix of matrix"
    rule: Rule                   # elementwise: f'(X, fX); others: d(node, d)
    array: object                # (xp, value) -> value
    numpy: str                   # NumPy spelling template
    latex: str                   # LaTeX spelling template
    node: type                   # Elementwise, or the record's own node class
    scalar_class: type = None    # elementwise: the SymPy function class on scalars
    aliases: tuple = ()          # SymPy types that also mean this function (sp.Abs for abs)
    numpy_prec: str = "atom"
    keeps_zero: bool = False     # f(0) = 0, so f(zeros) is zeros
    expensive: bool = False      # worth computing once and naming in generated code
    word: str = ""               # the naming word in generated code: Xw_exp, z_softmax
    helper: str = ""             # source of a helper function for generated modules
    accepts: object = None       # (argument) -> bool, for records sharing a notation name
    simplify: object = None      # (argument) -> a simpler equal expression, or None
    domain: str = "real"         # "real" | "positive" | "nonzero" | "unit" (|x| < 1) | "above -1"
    kink: bool = False           # not differentiable everywhere (relu at 0): checks use tiny steps
    needs: str = "any"           # the shape the argument needs (nodes.NEEDS)
    notes: str = ""

    @property
    def identity(self):
        return self.rule.identity

    def spell(self, template, x, x_):
        """A spelling template with its argument filled in: {x} anywhere, {x_} as an operand."""
        return template.replace("{x_}", x_).replace("{x}", x)

    def build(self, *args):
        """f(args) in canonical form: the node, or something simpler and equal."""
        return BUILDERS[self.kind](self, *args)


FUNCTIONS = {}        # name -> Function
BY_NOTATION = {}      # notation -> [Function]  (logsumexp has a vector and a row-wise record)
BY_TYPE = {}          # node or scalar class -> Function


def _register(record):
    if record.name in FUNCTIONS:
        raise AssertionError(f"two records named {record.name}")
    FUNCTIONS[record.name] = record
    BY_NOTATION.setdefault(record.notation, []).append(record)
    if record.kind == "elementwise":
        BY_TYPE[record.scalar_class] = record
        for a in record.aliases:
            BY_TYPE[a] = record
    else:
        BY_TYPE[record.node] = record
    return record


def record_of(e):
    """The record of a function application e (matrix or scalar), or None."""
    if isinstance(e, Elementwise):
        return FUNCTIONS[e.name]
    return BY_TYPE.get(type(e))


def names():
    """The function names of the notation, sorted."""
    return sorted(BY_NOTATION)


def lookup(notation, arg):
    """The record that `notation(arg)` means, or a ShapeError naming what the argument needs."""
    records = BY_NOTATION[notation]
    for r in records:
        if r.accepts is None or r.accepts(arg):
            return r
    raise ShapeError(f"{notation}() does not take a {describe(shape_of(arg))} argument")


def apply(notation, *args):
    """notation(args), e.g. apply("tanh", X): the record's canonical construction."""
    if len(args) != 1:
        raise ShapeError(f"{notation}() takes one argument, got {len(args)}")
    arg = ops.sym(args[0])
    return lookup(notation, arg).build(arg)


# ---- builders, one per kind -----------------------------------------------------------------------
def _build_elementwise(record, X):
    X = ops.sym(X)
    if is_matrix(X) and tuple(X.shape) == (1, 1):
        X = ops.scalar(X)
    if not is_matrix(X):
        return canonical(record.scalar_class(X))
    if isinstance(X, ZeroMatrix) and record.keeps_zero:
        return X
    return Elementwise(record.name, X)


def _build_node(record, A):
    A = ops.sym(A)
    if record.simplify is not None:
        simpler = record.simplify(A)
        if simpler is not None:
            return simpler
    return canonical(record.node(A))


BUILDERS = {"elementwise": _build_elementwise, "scalar of matrix": _build_node,
            "matrix of matrix": _build_node}


# ---- registration decorators --------------------------------------------------------------------
def elementwise(name, *, array, numpy, latex, numpy_prec="atom", keeps_zero=False,
                expensive=False, word="", aliases=(), domain="real", kink=False, notes="",
                helper=""):
    """Register an elementwise function; the decorated function is f'(X, fX)."""
    def register(prime):
        rule = Rule(Elementwise, f"{name}'", prime)
        _register(Function(name, name, "elementwise", rule, array, numpy, latex, Elementwise,
                           scalar_class=scalar_function(name), aliases=aliases,
                           numpy_prec=numpy_prec, keeps_zero=keeps_zero, expensive=expensive,
                           word=word or name, domain=domain, kink=kink, notes=notes,
                           helper=helper))
        return prime
    return register


def _matrix_function(kind, base, name, cls, notation, needs, array, numpy, latex, numpy_prec,
                     expensive, word, helper, accepts, simplify, node, rule_name, out_shape):
    def register(d_rule):
        node_class = node
        if node_class is None:
            body = {"notation": notation or name, "needs": needs, "__module__": __name__}
            if out_shape is not None:
                body["out_shape"] = staticmethod(out_shape)
            node_class = type(cls, (base,), body)
        rule = Rule(node_class, rule_name or name, d_rule)
        _register(Function(name, notation or name, kind, rule, array, numpy, latex, node_class,
                           numpy_prec=numpy_prec, expensive=expensive, word=word or name,
                           helper=helper, accepts=accepts, simplify=simplify, needs=needs))
        return d_rule
    return register


def scalar_of_matrix(name, *, cls, array, numpy, latex, notation=None, needs="any",
                     numpy_prec="atom", expensive=False, word="", helper="", accepts=None,
                     simplify=None, node=None, rule_name=None):
    """Register a scalar function of a matrix; the decorated function is its d-rule."""
    return _matrix_function("scalar of matrix", ScalarOfMatrix, name, cls, notation, needs, array,
                            numpy, latex, numpy_prec, expensive, word, helper, accepts, simplify,
                            node, rule_name, None)


def matrix_of_matrix(name, *, cls, array, numpy, latex, notation=None, needs="any",
                     numpy_prec="atom", expensive=False, word="", helper="", accepts=None,
                     simplify=None, out_shape=None, rule_name=None):
    """Register a matrix function of a matrix; the decorated function is its d-rule."""
    return _matrix_function("matrix of matrix", MatrixOfMatrix, name, cls, notation, needs, array,
                            numpy, latex, numpy_prec, expensive, word, helper, accepts, simplify,
                            None, rule_name, out_shape)


def f(name, X):
    """Shorthand used by the rules below: the elementwise function `name` of X."""
    return _build_elementwise(FUNCTIONS[name], X)


# ==== elementwise functions ========================================================================
@elementwise("exp", array=lambda xp, x: xp.exp(x), numpy="np.exp({x})", latex=r"\exp\left({x}\right)",
             expensive=True)
def exp_prime(X, fX):
    """exp'(X) = exp(X)"""
    return fX


@elementwise("log", array=lambda xp, x: xp.log(x), numpy="np.log({x})", latex=r"\log\left({x}\right)",
             domain="positive")
def log_prime(X, fX):
    """log'(X) = 1/X"""
    return ops.hpow(X, -1)


@elementwise("log1p", array=lambda xp, x: xp.log1p(x), numpy="np.log1p({x})",
             latex=r"\operatorname{log1p}\left({x}\right)", keeps_zero=True, domain="above -1")
def log1p_prime(X, fX):
    """log1p'(X) = 1/(1 + X)"""
    return ops.hpow(ops.add(1, X), -1)


@elementwise("sin", array=lambda xp, x: xp.sin(x), numpy="np.sin({x})", latex=r"\sin\left({x}\right)",
             keeps_zero=True)
def sin_prime(X, fX):
    """sin'(X) = cos(X)"""
    return f("cos", X)


@elementwise("cos", array=lambda xp, x: xp.cos(x), numpy="np.cos({x})", latex=r"\cos\left({x}\right)")
def cos_prime(X, fX):
    """cos'(X) = -sin(X)"""
    return ops.neg(f("sin", X))


@elementwise("tan", array=lambda xp, x: xp.tan(x), numpy="np.tan({x})", latex=r"\tan\left({x}\right)",
             keeps_zero=True)
def tan_prime(X, fX):
    """tan'(X) = 1 + tan(X)**2"""
    return ops.add(1, ops.hpow(fX, 2))


@elementwise("arctan", array=lambda xp, x: xp.arctan(x), numpy="np.arctan({x})",
             latex=r"\arctan\left({x}\right)", keeps_zero=True)
def arctan_prime(X, fX):
    """arctan'(X) = 1/(1 + X**2)"""
    return ops.hpow(ops.add(1, ops.hpow(X, 2)), -1)


@elementwise("arcsin", array=lambda xp, x: xp.arcsin(x), numpy="np.arcsin({x})",
             latex=r"\arcsin\left({x}\right)", keeps_zero=True, domain="unit")
def arcsin_prime(X, fX):
    """arcsin'(X) = 1/(1 - X**2)**(1/2)"""
    return ops.hpow(ops.sub(1, ops.hpow(X, 2)), sp.Rational(-1, 2))


@elementwise("arccos", array=lambda xp, x: xp.arccos(x), numpy="np.arccos({x})",
             latex=r"\arccos\left({x}\right)", domain="unit")
def arccos_prime(X, fX):
    """arccos'(X) = -(1/(1 - X**2)**(1/2))"""
    return ops.neg(ops.hpow(ops.sub(1, ops.hpow(X, 2)), sp.Rational(-1, 2)))


@elementwise("tanh", array=lambda xp, x: xp.tanh(x), numpy="np.tanh({x})",
             latex=r"\tanh\left({x}\right)", keeps_zero=True)
def tanh_prime(X, fX):
    """tanh'(X) = 1 - tanh(X)**2"""
    return ops.sub(1, ops.hpow(fX, 2))


SIGMOID_HELPER = '''
def _sigmoid(z):
    """1/(1 + exp(-z)) without overflow: with e = exp(-|z|) <= 1, 1/(1 + e) where z >= 0 and
    e/(1 + e) where z < 0 (equal forms; each keeps its relative precision)."""
    e = np.abs(z)
    e = np.exp(np.negative(e, out=e), out=e) if type(e) is np.ndarray else np.exp(-e)
    s = np.where(z >= 0, 1.0, e)
    s /= 1.0 + e
    return s
'''


@elementwise("sigmoid", array=lambda xp, x: xp.exp(-xp.logaddexp(0.0, -x)),
             numpy="_sigmoid({x})", helper=SIGMOID_HELPER, latex=r"\sigma\left({x}\right)",
             notes="evaluated as exp(-softplus(-x)), and in generated code as 1/(1 + e) or "
                   "e/(1 + e) with e = exp(-|x|): equal to 1/(1 + exp(-x)), they never overflow "
                   "and keep their precision near 0 and near 1")
def sigmoid_prime(X, fX):
    """sigmoid'(X) = sigmoid(X)*(1 - sigmoid(X))"""
    return ops.hadamard(fX, ops.sub(1, fX))


@elementwise("relu", array=lambda xp, x: xp.maximum(x, 0.0), numpy="np.maximum({x}, 0.0)",
             latex=r"\operatorname{relu}\left({x}\right)", keeps_zero=True, kink=True,
             notes="relu'(0) is taken as 0, as docs/notation.md says for every kink")
def relu_prime(X, fX):
    """relu'(X) = step(X)"""
    return f("step", X)


@elementwise("softplus", array=lambda xp, x: xp.logaddexp(0.0, x), numpy="np.logaddexp(0.0, {x})",
             latex=r"\operatorname{softplus}\left({x}\right)", expensive=True)
def softplus_prime(X, fX):
    """softplus'(X) = sigmoid(X)"""
    return f("sigmoid", X)


@elementwise("softsign", array=lambda xp, x: x / (1.0 + xp.abs(x)), numpy="{x_} / (1.0 + np.abs({x}))",
             numpy_prec="mul", latex=r"\operatorname{softsign}\left({x}\right)", keeps_zero=True)
def softsign_prime(X, fX):
    """softsign'(X) = 1/(1 + abs(X))**2"""
    return ops.hpow(ops.add(1, f("abs", X)), -2)


GELU_C = sp.Float(0.7978845608028654)     # sqrt(2/pi)
GELU_K = sp.Float(0.044715)


def _gelu_array(xp, x):
    return 0.5 * x * (1.0 + xp.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


@elementwise("gelu", array=_gelu_array,
             numpy="0.5 * {x_} * (1.0 + np.tanh(0.7978845608028654 * ({x} + 0.044715 * {x_} ** 3)))",
             numpy_prec="mul", latex=r"\operatorname{gelu}\left({x}\right)", keeps_zero=True,
             expensive=True,
             notes="the tanh approximation 0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x**3))), "
                   "as PyTorch's gelu(approximate='tanh')")
def gelu_prime(X, fX):
    """gelu'(X) = (1 + tanh(0.7978845608028654*(X + 0.044715*X**3)))/2 + 0.3989422804014327*X*(1 - tanh(0.7978845608028654*(X + 0.044715*X**3))**2)*(1 + 0.134145*X**2)

    With T = tanh(c*(X + 0.044715*X**3)), c = sqrt(2/pi): 0.5*(1 + T) + 0.5*X*(1 - T**2)*c*(1 + 3*0.044715*X**2).
    """
    T = f("tanh", ops.scale(GELU_C, ops.add(X, ops.scale(GELU_K, ops.hpow(X, 3)))))
    slope = ops.scale(GELU_C, ops.add(1, ops.scale(3 * GELU_K, ops.hpow(X, 2))))
    return ops.add(ops.scale(sp.Rational(1, 2), ops.add(1, T)),
                   ops.scale(sp.Rational(1, 2), ops.hadamard(X, ops.sub(1, ops.hpow(T, 2)), slope)))


@elementwise("sqrt", array=lambda xp, x: xp.sqrt(x), numpy="np.sqrt({x})", latex=r"\sqrt{{x}}",
             keeps_zero=True, domain="positive")
def sqrt_prime(X, fX):
    """sqrt'(X) = (1/sqrt(X))/2"""
    return ops.scale(sp.Rational(1, 2), ops.hpow(fX, -1))


@elementwise("abs", array=lambda xp, x: xp.abs(x), numpy="np.abs({x})", latex=r"\left|{x}\right|",
             keeps_zero=True, aliases=(sp.Abs,), domain="nonzero", kink=True,
             notes="abs'(0) is taken as sign(0) = 0")
def abs_prime(X, fX):
    """abs'(X) = sign(X)"""
    return f("sign", X)


@elementwise("step", array=lambda xp, x: xp.where(x > 0, 1.0, 0.0), numpy="np.where({x} > 0, 1.0, 0.0)",
             latex=r"\operatorname{step}\left({x}\right)", keeps_zero=True, domain="nonzero", kink=True,
             notes="1 where X > 0, else 0: the derivative of relu")
def step_prime(X, fX):
    """step'(X) = 0"""
    return ops.zero_like(X)


@elementwise("sign", array=lambda xp, x: xp.sign(x), numpy="np.sign({x})",
             latex=r"\operatorname{sign}\left({x}\right)", keeps_zero=True, domain="nonzero", kink=True)
def sign_prime(X, fX):
    """sign'(X) = 0"""
    return ops.zero_like(X)


# ==== scalar functions of a matrix =================================================================
def _sum_simplify(A):
    return ops.entry_sum(A)


@scalar_of_matrix("sum", cls="EntrySum", array=lambda xp, A: xp.sum(A), numpy="np.sum({x})",
                  latex=r"\operatorname{sum}\left({x}\right)", simplify=_sum_simplify,
                  rule_name="sum of entries")
def d_sum(node, d):
    """d(sum(A)) = sum(dA)"""
    return apply("sum", d(node.arg))


def _mean_simplify(A):
    if not is_matrix(A):
        return A
    return None


@scalar_of_matrix("mean", cls="Mean", array=lambda xp, A: xp.mean(A), numpy="np.mean({x})",
                  latex=r"\operatorname{mean}\left({x}\right)", simplify=_mean_simplify,
                  rule_name="mean of entries")
def d_mean(node, d):
    """d(mean(Z)) = sum(dZ)/(sum(ones(C))*sum(ones(N)))

    The mean of an N x C matrix is the sum of its entries over their number, N*C (a dimension
    used as a number prints as sum(ones(N)), as results do).
    """
    A = node.arg
    return ops.divide(apply("sum", d(A)), A.shape[0] * A.shape[1])


def _norm_simplify(A):
    if not is_matrix(A):
        return FUNCTIONS["abs"].build(A)
    if isinstance(A, ZeroMatrix):
        return sp.Integer(0)
    return None


@scalar_of_matrix("norm", cls="Norm", array=lambda xp, A: xp.sqrt(xp.sum(A * A)),
                  numpy="np.linalg.norm({x})", latex=r"\left\lVert {x} \right\rVert",
                  simplify=_norm_simplify, rule_name="Frobenius norm")
def d_norm(node, d):
    """d(norm(A)) = tr(A.T@dA)/norm(A)

    From d(norm(A)**2) = 2*tr(A.T@dA). Source: Matrix Cookbook (2.6).
    """
    A = node.arg
    return ops.divide(ops.trace(ops.matmul(ops.transpose(A), d(A))), node)


def _square_only(A):
    ops.square("det", A)
    if tuple(A.shape) == (1, 1):
        return ops.scalar(A)
    return None


@scalar_of_matrix("det", cls="Determinant", node=Determinant, array=lambda xp, A: xp.linalg.det(A),
                  numpy="np.linalg.det({x})", latex=r"\det\left({x}\right)", needs="square",
                  expensive=True, simplify=_square_only, rule_name="determinant (Jacobi's formula)")
def d_det(node, d):
    """d(det(A)) = det(A)*tr(inv(A)@dA)

    Jacobi's formula. Source: Matrix Cookbook (46); Zhang, matrix differentials.
    """
    A = node.arg
    return node * ops.trace(ops.matmul(ops.inv(A), d(A)))


def _logdet_simplify(A):
    ops.square("logdet", A)
    if tuple(A.shape) == (1, 1):
        return FUNCTIONS["log"].build(FUNCTIONS["abs"].build(ops.scalar(A)))
    return None


@scalar_of_matrix("logdet", cls="LogDet", array=lambda xp, A: xp.linalg.slogdet(A)[1],
                  numpy="np.linalg.slogdet({x})[1]",
                  latex=r"\log\left|\det\left({x}\right)\right|", needs="square", expensive=True,
                  simplify=_logdet_simplify, rule_name="log-determinant")
def d_logdet(node, d):
    """d(logdet(A)) = tr(inv(A)@dA)

    logdet(A) = log |det A|. Source: Matrix Cookbook (49); Zhang, matrix differentials.
    """
    A = node.arg
    return ops.trace(ops.matmul(ops.inv(A), d(A)))


LOGSUMEXP_HELPER = '''
def _logsumexp(z):
    """log(sum(exp(z))) of a column (a number), or row by row of a matrix (a column), shifted by
    the max so that it does not overflow."""
    axis = 0 if z.shape[1] == 1 else 1
    m = np.max(z, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return out[0, 0] if axis == 0 else out
'''


def _vector_logsumexp(xp, z):
    m = xp.max(z)
    return m + xp.log(xp.sum(xp.exp(z - m)))


@scalar_of_matrix("logsumexp", cls="LogSumExp", array=_vector_logsumexp, numpy="_logsumexp({x})",
                  latex=r"\operatorname{logsumexp}\left({x}\right)", needs="column",
                  expensive=True, helper=LOGSUMEXP_HELPER, word="lse",
                  accepts=lambda A: is_matrix(A) and A.shape[1] == 1 and A.shape[0] != 1,
                  rule_name="log-sum-exp")
def d_logsumexp(node, d):
    """d(logsumexp(x)) = softmax(x).T@dx"""
    x = node.arg
    return ops.scalar(ops.matmul(ops.transpose(apply("softmax", x)), d(x)))


# ==== matrix functions of a matrix =================================================================
def _row_logsumexp(xp, Z):
    m = xp.max(Z, axis=1, keepdims=True)
    return m + xp.log(xp.sum(xp.exp(Z - m), axis=1, keepdims=True))


@matrix_of_matrix("row_logsumexp", cls="RowLogSumExp", notation="logsumexp", array=_row_logsumexp,
                  numpy="_logsumexp({x})", latex=r"\operatorname{logsumexp}\left({x}\right)",
                  needs="matrix", expensive=True, helper=LOGSUMEXP_HELPER, word="lse",
                  accepts=lambda A: is_matrix(A) and A.shape[1] != 1,
                  out_shape=lambda rows, cols: (rows, sp.Integer(1)),
                  rule_name="row-wise log-sum-exp")
def d_row_logsumexp(node, d):
    """d(logsumexp(Z)) = (softmax(Z)*dZ)@ones(C)

    Row by row: each row's log-sum-exp has the softmax of the row as its gradient.
    """
    Z = node.arg
    return ops.matmul(ops.hadamard(apply("softmax", Z), d(Z)), OneMatrix(Z.shape[1], 1))


SOFTMAX_HELPER = '''
def _softmax(z):
    """softmax over the entries of a column, or row by row of a matrix, shifted by the max so
    that it does not overflow."""
    axis = 0 if z.shape[1] == 1 else 1
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
'''


def _softmax(xp, Z):
    axis = 0 if Z.shape[1] == 1 else 1
    E = xp.exp(Z - xp.max(Z, axis=axis, keepdims=True))
    return E / xp.sum(E, axis=axis, keepdims=True)


def _softmax_check(A):
    if not is_matrix(A) or tuple(A.shape) == (1, 1):
        raise ShapeError("softmax() needs a vector or a matrix, got a scalar")
    return None


@matrix_of_matrix("softmax", cls="Softmax", array=_softmax, numpy="_softmax({x})",
                  latex=r"\operatorname{softmax}\left({x}\right)", expensive=True,
                  helper=SOFTMAX_HELPER, simplify=_softmax_check)
def d_softmax(node, d):
    """d(softmax(z)) = softmax(z)*dz - softmax(z)@softmax(z).T@dz

    For a vector: ds = (diag(s) - s s^T) dz. Row by row for an N x C matrix Z, with S = softmax(Z):
    dS = S*dZ - S*((S*dZ)@ones(C, C)).
    """
    Z, S = node.arg, node
    dZ = d(Z)
    if Z.shape[1] != 1:
        SdZ = ops.hadamard(S, dZ)
        C = Z.shape[1]
        return ops.sub(SdZ, ops.hadamard(S, ops.matmul(SdZ, OneMatrix(C, C))))
    return ops.sub(ops.hadamard(S, dZ), ops.matmul(S, ops.transpose(S), dZ))


# ---- the node classes, by the names the rest of matcalc uses -------------------------------------
EntrySum = FUNCTIONS["sum"].node
Norm = FUNCTIONS["norm"].node
LogDet = FUNCTIONS["logdet"].node
LogSumExp = FUNCTIONS["logsumexp"].node
RowLogSumExp = FUNCTIONS["row_logsumexp"].node
Softmax = FUNCTIONS["softmax"].node
ELEMENTWISE = [r for r in FUNCTIONS.values() if r.kind == "elementwise"]


# ==== the largest entry ============================================================================
def _max_simplify(A):
    if not is_matrix(A):
        return A
    return None


ISMAX_HELPER = '''
def _ismax(z):
    """1 where an entry of z equals its largest entry, else 0 (in z's dtype; written with
    functions every backend has: where, ones_like, zeros_like)."""
    return np.where(z == np.max(z), np.ones_like(z), np.zeros_like(z))
'''


@matrix_of_matrix("ismax", cls="IsMax", array=lambda xp, A: (A == xp.max(A)) * 1.0,
                  numpy="_ismax({x})", latex=r"\operatorname{ismax}\left({x}\right)",
                  helper=ISMAX_HELPER, rule_name="indicator of the largest entry")
def d_ismax(node, d):
    """d(ismax(A)) = 0

    ismax(A) is 1 where A has its largest entry and 0 elsewhere: piecewise constant. It is one
    node, computed by comparing A with its own max, so the comparison is exact at the largest
    entry (max(A) - A written out as a sum rounds, and 1 - step(...) lost every entry).
    """
    return ops.zero_like(node)


@scalar_of_matrix("max", cls="EntryMax", array=lambda xp, A: xp.max(A), numpy="np.max({x})",
                  latex=r"\max\left({x}\right)", simplify=_max_simplify, rule_name="largest entry")
def d_max(node, d):
    """d(max(A)) = sum(ismax(A)*dA)/sum(ismax(A))

    Only the largest entry moves max(A): ismax(A) is 1 there and 0 elsewhere. Where k entries
    tie for the largest (a kink), each gets 1/k: the mean of the one-sided derivatives, a
    subgradient, and what autograd takes.
    """
    A = node.arg
    top = apply("ismax", A)
    return ops.divide(apply("sum", ops.hadamard(top, d(A))), apply("sum", top))


# ==== definitions: functions of the notation written with the others ==============================
@dataclass(frozen=True)
class Definition:
    """A function of the notation defined by an identity over the functions above (its first
    docstring line). The parser builds the right-hand side, so the rule, evaluation, NumPy and
    LaTeX are those of the parts, and results print in them: maximum(A, B) derives through abs,
    whose derivative at the kink is sign(0) = 0, i.e. the mean of the two sides at a tie (a
    subgradient). matcalc/reference.py evaluates each by its own NumPy function instead, so a
    wrong identity fails the checks."""
    name: str
    arity: tuple                 # (fewest, most) arguments
    expand: object               # (*args) -> the expression

    @property
    def identity(self):
        return self.expand.__doc__.strip().splitlines()[0]

    def build(self, *args):
        fewest, most = self.arity
        if not fewest <= len(args) <= most:
            count = str(fewest) if fewest == most else f"{fewest} or {most}"
            raise ShapeError(f"{self.name}() takes {count} arguments, got {len(args)}")
        return self.expand(*[ops.sym(a) for a in args])


DEFINITIONS = {}      # name -> Definition (max, min and norm also have one-argument records)


def definition(name, arity):
    def register(expand):
        DEFINITIONS[name] = Definition(name, arity, expand)
        return expand
    return register


@definition("maximum", (2, 2))
def maximum(A, B):
    """maximum(A, B) = (A + B + abs(A - B))/2"""
    return ops.divide(ops.add(A, B, f("abs", ops.sub(A, B))), 2)


@definition("minimum", (2, 2))
def minimum(A, B):
    """minimum(A, B) = (A + B - abs(A - B))/2"""
    return ops.divide(ops.sub(ops.add(A, B), f("abs", ops.sub(A, B))), 2)


@definition("max", (2, 2))
def max_of_two(A, B):
    """max(A, B) = maximum(A, B)"""
    return maximum(A, B)


@definition("min", (1, 2))
def min_of(A, B=None):
    """min(A) = -max(-A); min(A, B) = minimum(A, B)"""
    if B is not None:
        return minimum(A, B)
    return ops.neg(apply("max", ops.neg(A)))


@definition("clip", (3, 3))
def clip(X, low, high):
    """clip(X, low, high) = maximum(minimum(X, high), low)"""
    return maximum(minimum(X, high), low)


@definition("norm1", (1, 1))
def norm1(A):
    """norm1(A) = sum(abs(A))"""
    return apply("sum", f("abs", A))


@definition("norm2", (1, 1))
def norm2(x):
    """norm2(x) = norm(x)  (the 2-norm of a vector)"""
    if is_matrix(x) and x.shape[1] != 1 and x.shape[0] != 1:
        raise ShapeError("norm2() takes a vector (the spectral norm of a matrix is not in the "
                         "notation; norm(A) is its Frobenius norm)")
    return apply("norm", x)


@definition("norm", (2, 2))
def p_norm(A, p):
    """norm(A, p) = sum(abs(A)**p)**(1/p)"""
    if not (p.is_number and p.is_positive):
        raise ShapeError("norm(A, p) needs p a positive number, e.g. norm(x, 1), norm(x, 3)")
    if p == 2:
        return apply("norm", A)
    if p == 1:
        return norm1(A)
    return ops.hpow(apply("sum", ops.hpow(f("abs", A), p)), 1 / sp.nsimplify(p))
