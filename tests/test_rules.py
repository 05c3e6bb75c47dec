"""Every row of the rule tables is checked numerically, parametrised over the registries.

* differential rules: the expansion dN of each node type, evaluated with dX := V, equals the
  central difference of N along V;
* transpose (identification) rules, the dot-product test: tr(G.T @ E(V)) == sum of
  tr(G_C.T @ V) over the pulled contributions, for random G and V.
A new row without a sample here fails `test_every_rule_has_a_sample`.
"""
import numpy as np
import pytest
import sympy as sp

import matcalc as mc
from matcalc import differentials, identify, ops
from matcalc.identify import Pull
from matcalc.nodes import Differential, ScalarDifferential

SHAPES = {"X": ("n", "m"), "S": ("n", "n"), "A": ("n", "m"), "x": ("n",), "a": ("n",),
          "b": ("m",), "s": (), "t": (), "u": (1, 1)}
SIZES = {"n": 4, "m": 3}


def P(text):
    return mc.parse(text, SHAPES)


# node type name -> sample node whose children are plain symbols (the variables)
NODE_SAMPLES = {
    "MatAdd": "X + A", "Add": "s + t", "MatMul": "s*S @ X", "Mul": "s*t",
    "HadamardProduct": "X * A", "Transpose": "X.T", "HadamardPower": "X**3", "Pow": "s**3",
    "Inverse": "inv(S)", "Trace": "tr(S)", "Determinant": "det(S)", "LogDet": "logdet(S)",
    "EntrySum": "sum(X)", "Norm": "norm(X)", "LogSumExp": "logsumexp(x)",
    "RowLogSumExp": "logsumexp(X)", "Softmax": "softmax(X)", "DiagMatrix": "diag(x)",
    "DiagonalOf": "diag(S)", "Elementwise": "tanh(X)", "AsScalar": None,
    "exp": "exp(s)", "log": "log(s)", "sin": "sin(s)", "cos": "cos(s)", "tanh": "tanh(s)",
    "sigmoid": "sigmoid(s)", "relu": "relu(s)", "softplus": "softplus(s)", "Abs": "abs(s)",
    "step": "step(s)", "sign": "sign(s)",
}


def sample(name):
    if name == "AsScalar":
        return ops.scalar(P("u"))
    return P(NODE_SAMPLES[name])


def values(rng):
    v = {}
    for name, shape in SHAPES.items():
        dims = tuple(SIZES.get(d, d) for d in shape)
        v[name] = rng.uniform(0.5, 1.5, dims) if dims else rng.uniform(0.5, 1.5)
    v["S"] = v["S"] + 4 * np.eye(4)
    return v


def directional(expr, point, direction, h=1e-4):
    def at(t):
        moved = {k: point[k] + t * direction.get(k, 0.0) for k in point}
        return np.asarray(mc.evaluate(expr, moved), dtype=float)
    return (4 * (at(h / 2) - at(-h / 2)) / h - (at(h) - at(-h)) / (2 * h)) / 3


def test_every_rule_has_a_sample():
    assert {t.__name__ for t in differentials.RULES} <= set(NODE_SAMPLES)


@pytest.mark.parametrize("type_name", sorted(NODE_SAMPLES))
def test_differential_rule_matches_finite_differences(type_name):
    node = sample(type_name)
    rule = differentials.rule_for(node)
    assert type(node).__name__ == type_name
    expansion = rule(node, lambda c: Differential(c) if ops.is_matrix(c) else ScalarDifferential(c))
    rng = np.random.default_rng(7)
    point = values(rng)
    direction = {k: rng.standard_normal(np.shape(v)) for k, v in point.items()}
    # dX := V: replace each differential by a symbol named after the direction
    subs, extra = {}, {}
    for d in expansion.atoms(Differential, ScalarDifferential):
        name = "D_" + d.arg.name
        subs[d] = sp.MatrixSymbol(name, *d.arg.shape) if ops.is_matrix(d.arg) else sp.Symbol(name)
        extra[name] = direction[d.arg.name]
    linear = expansion.xreplace(subs)
    got = np.asarray(mc.evaluate(linear, {**point, **extra}, sizes=SIZES) if linear != 0 else 0.0,
                     dtype=float)
    want = directional(node, point, direction)
    assert np.allclose(got, want, rtol=1e-6, atol=1e-8), (rule.function.__name__, got, want)


# linear op type name -> a linear expression in dX (X is the variable)
LINEAR_SAMPLES = {
    "MatAdd": lambda dX: ops.add(dX, ops.hadamard(P("A"), dX)),
    "Add": lambda dX: ops.trace(ops.matmul(P("S"), dX, P("A").T)) + ops.entry_sum(dX),
    "MatMul": lambda dX: ops.matmul(P("S"), dX, P("A").T),
    "Mul": lambda dX: P("s") * ops.entry_sum(dX),
    "Transpose": lambda dX: ops.transpose(dX),
    "HadamardProduct": lambda dX: ops.hadamard(P("A"), dX),
    "Trace": lambda dX: ops.trace(ops.matmul(dX, P("A").T)),
    "EntrySum": lambda dX: ops.entry_sum(dX),
    "AsScalar": lambda dX: ops.scalar(ops.matmul(P("a").T, dX, P("b"))),
    "DiagMatrix": lambda dX: ops.diag(ops.matmul(dX, P("b"))),
    "DiagonalOf": lambda dX: ops.diag(ops.matmul(dX, P("A").T)),
}


def test_every_transpose_rule_has_a_sample():
    assert {t.__name__ for t in identify.PULL_RULES} == set(LINEAR_SAMPLES)


@pytest.mark.parametrize("type_name", sorted(LINEAR_SAMPLES))
def test_transpose_rule_dot_product(type_name):
    X = P("X")
    E = LINEAR_SAMPLES[type_name](Differential(X))
    assert type(E).__name__ == type_name
    rng = np.random.default_rng(3)
    point = values(rng)
    V = rng.standard_normal((4, 3))
    G_shape = tuple(SIZES[str(d)] if not d.is_Integer else int(d) for d in E.shape) \
        if ops.is_matrix(E) else ()
    G_val = rng.standard_normal(G_shape) if G_shape else float(rng.standard_normal())
    G = sp.MatrixSymbol("G", *E.shape) if ops.is_matrix(E) else sp.Symbol("g")
    pull = Pull(lambda e: e.has(Differential))
    pull(G, E)
    assert {child for child, _ in pull.out} == {X}
    G_X = ops.add(*[contribution for _, contribution in pull.out])
    env = {**point, "G" if ops.is_matrix(E) else "g": G_val, "V": V}
    Vsym = sp.MatrixSymbol("V", *X.shape)
    E_V = np.asarray(mc.evaluate(E.xreplace({Differential(X): Vsym}), env, sizes=SIZES), dtype=float)
    lhs = float(np.sum(np.asarray(G_val) * E_V))
    rhs = float(np.sum(np.asarray(mc.evaluate(G_X, env, sizes=SIZES), dtype=float) * V))
    assert np.isclose(lhs, rhs, rtol=1e-10), (type_name, lhs, rhs)
