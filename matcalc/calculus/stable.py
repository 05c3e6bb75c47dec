"""Overflow-safe forms: the rewrites a careful person applies before writing NumPy code.

Each rewrite is an identity valid for every real input, so the generated value is the value of
the function as written; only the way it is computed changes:

    log(1 + exp(z))        = softplus(z)              np.logaddexp(0, z): no overflow at z = 800
    log(sigmoid(z))        = -softplus(-z)
    log(1 - sigmoid(z))    = -softplus(z)
    exp(z)/(1 + exp(z))    = sigmoid(z)               (1 + tanh(z/2))/2
    1 - sigmoid(z)         = sigmoid(-z)              exact where sigmoid(z) rounds to 1
    1 - tanh(z)**2         = 4*sigmoid(2z)*sigmoid(-2z)   likewise where tanh(z) rounds to 1
    log(softmax(z))        = z - logsumexp(z)         (row by row for a matrix)

softmax and logsumexp themselves are emitted shifted by the max (their registry helpers), and
sigmoid through tanh. `stable(e)` applies the rewrites bottom-up over the DAG (no recursion);
codegen derives and prints from the result, and `evaluate` computes every expression in this
form (the printed result stays the textbook one: sigmoid(z)*(1 - sigmoid(z))). Generated code
keeps `1 - s` of a saved sigmoid `s`, as a person writes it: the complement is applied to what
is evaluated, not to what codegen derives.
"""
import weakref

import sympy as sp
from sympy import MatAdd, OneMatrix

from ..core import dag, functions, ops
from ..core.nodes import Elementwise
from ..core.rebuild import rebuild
from ..calculus.simplify import logistic


def _argument(e, name):
    """z when e is name(z) (matrix or scalar), else None."""
    record = functions.record_of(e)
    if record is None or record.name != name:
        return None
    return e.arg if isinstance(e, Elementwise) else e.args[0]


def _one_plus(e):
    """t when e is 1 + t (elementwise or scalar), else None."""
    terms = list(e.args) if isinstance(e, (MatAdd, sp.Add)) else []
    if len(terms) != 2:
        return None
    for i, t in enumerate(terms):
        c, ms = ops.split_coeff(t) if ops.is_matrix(t) else (t, [])
        if (ops.is_matrix(t) and len(ms) == 1 and isinstance(ms[0], OneMatrix) and c == 1) or \
                (not ops.is_matrix(t) and t == 1):
            return terms[1 - i]
    return None


def _log_rewrite(x):
    z = _argument(x, "log")
    if z is None:
        return None
    t = _one_plus(z)
    if t is not None:
        inner = _argument(t, "exp")
        if inner is not None:
            return functions.apply("softplus", inner)                  # log(1 + exp(z))
        neg_sigmoid = _argument(ops.neg(t), "sigmoid")
        if neg_sigmoid is not None:
            return ops.neg(functions.apply("softplus", neg_sigmoid))   # log(1 - sigmoid(z))
    inner = _argument(z, "sigmoid")
    if inner is not None:
        return ops.neg(functions.apply("softplus", ops.neg(inner)))    # log(sigmoid(z))
    inner = _argument(z, "softmax")
    if inner is not None:
        lse = functions.apply("logsumexp", inner)
        if inner.shape[1] == 1:
            return ops.sub(inner, lse)                                  # z - logsumexp(z)
        return ops.sub(inner, ops.matmul(lse, OneMatrix(1, inner.shape[1])))
    return None


def _complement(x):
    """sigmoid(-z) when x is 1 - sigmoid(z), 4*sigmoid(2z)*sigmoid(-2z) when x is 1 - tanh(z)**2:
    as subtractions, 1 - 0.99999999999999978 keeps one digit."""
    t = _one_plus(x)
    if t is None:
        return None
    minus = ops.neg(t)
    z = _argument(minus, "sigmoid")
    if z is not None:
        return functions.apply("sigmoid", ops.neg(z))
    base, exponent = (minus.args if isinstance(minus, (sp.HadamardPower, sp.Pow))
                      else (None, None))
    z = _argument(base, "tanh") if exponent == 2 else None
    if z is None:
        return None
    two_z = ops.scale(2, z)
    up, down = functions.apply("sigmoid", two_z), functions.apply("sigmoid", ops.neg(two_z))
    return ops.scale(4, ops.hadamard(up, down) if ops.is_matrix(z) else up * down)


def stable_node(x, kids, complement=False):
    if dag.is_leaf(x):
        return x
    x = rebuild(x, kids)
    rewritten = _log_rewrite(x)
    if rewritten is None and complement:
        rewritten = _complement(x)
    if rewritten is not None:
        return rewritten
    return logistic(x) if isinstance(x, (sp.HadamardProduct, sp.Mul)) or ops.is_matrix(x) else x


def stable(e, memo=None):
    """e with every overflow-prone pattern above rewritten to its safe form (the complement
    1 - sigmoid(z) excepted: see the module docstring)."""
    return dag.transform(e, stable_node, memo)


_EVALUATED = weakref.WeakKeyDictionary()      # node -> its form, or None when it is its own
_UNSEEN = object()


def evaluated_form(e):
    """The form `evaluate` computes: stable(e) with the complement too, cached per node (a form
    that is the node itself is stored as None: a value holding its key would keep it alive)."""
    try:
        form = _EVALUATED.get(e, _UNSEEN)
    except TypeError:                   # a scalar SymPy expression holds no weak reference
        return _evaluated(e)
    if form is _UNSEEN:
        form = _evaluated(e)
        _EVALUATED[e] = None if form is e else form
    return e if form is None else form


def _evaluated(e):
    return dag.transform(e, lambda x, kids: stable_node(x, kids, complement=True), {})
