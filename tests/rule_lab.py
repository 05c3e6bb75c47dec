"""Every rule of every table, with a sample and a numeric check that goes through the engine.

One place for the samples and checks that test_rules.py, test_registry.py and test_mutation.py
share (a check must fail when its rule is wrong, which test_mutation.py proves by breaking each
rule in turn). The checks look their rule up the way the engine does (differentials.rule_for,
the transpose table, the vec table, the registry), so a rule replaced in its table is the rule
checked.

* `differential_error(node)`   the expansion dN, with dX := V, against d/dt N(X + tV)
* `transpose_error(name)`      the dot-product test tr(G.T @ E(V)) = sum tr(G_C.T @ V)
* `vec_error(name)`            J @ vec(V) against vec(E(V)) for the local Jacobian of one op
"""
import numpy as np
import sympy as sp

import matcalc as mc
from checks import directional_derivative, draw
from matcalc.calculus import differentials, transpose, vec_rules
from matcalc.calculus.reverse import differential_detector
from matcalc.core import dag, functions, ops
from matcalc.core.nodes import Differential, Named, ScalarDifferential
from matcalc.core.blocks import concat, hconcat
from matcalc.core.windows import col2im, im2col

SHAPES = {"X": ("n", "m"), "S": ("n", "n"), "A": ("n", "m"), "x": ("n",), "a": ("n",),
          "b": ("m",), "s": (), "t": (), "u": (1, 1), "Z": ("n", "m"), "z": ("n",),
          "Q": ("n", 6)}
SIZES = {"n": 4, "m": 3}


def P(text):
    return mc.parse(text, SHAPES)


def point(rng, domain="real"):
    values = {}
    for name, shape in SHAPES.items():
        dims = tuple(SIZES.get(d, d) for d in shape)
        dims = dims if len(dims) != 1 else (dims[0], 1)
        values[name] = draw(dims, domain, rng)
    values["S"] = values["S"] @ values["S"].T / 4 + np.eye(4) if domain != "unit" else values["S"]
    return values


def directional(expr, at, direction):
    """d/dt expr(at + t * direction) at t = 0 (checks.directional_derivative)."""
    def value(t):
        moved = {k: at[k] + t * direction.get(k, 0.0) for k in at}
        return np.asarray(mc.evaluate(expr, moved, sizes=SIZES), dtype=float)
    return directional_derivative(value, 0.0, 1.0, h=1e-4)


def relative(got, want):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return float(np.max(np.abs(got - want))) / max(1e-8, float(np.max(np.abs(want))))


# ---- differential rules -----------------------------------------------------------------------
# node type name -> a sample node whose children are plain symbols (the variables)
DIFFERENTIAL_SAMPLES = {
    "MatAdd": "X + A", "Add": "s + t", "MatMul": "2*S @ X", "Mul": "s*t",
    "HadamardProduct": "X * A", "Transpose": "X.T", "HadamardPower": "X**3", "Pow": "s**3",
    "Inverse": "inv(S)", "Trace": "tr(S)", "DiagMatrix": "diag(x)", "DiagonalOf": "diag(S)",
    "AsScalar": "abs(a.T@x)", "MatrixPower": "S@S@S@S", "Named": None,
    "Im2col": "im2col(Q, 1, 2, 3, 2, 2, 1, 2, 1, 1)", "Col2im": "col2im(Q, 1, 1, 2, 2, 3, 2, 2, 1, 1, 2)",
    "BlockMax": "blockmax(Q, 3)", "BlockArgmax": "blockargmax(Q, 3)", "Concat": "concat(X, A)",
}


def differential_sample(type_name):
    if type_name == "AsScalar":
        return ops.scalar(P("u"))
    if type_name == "Named":
        return Named(P("X"), "h")
    return P(DIFFERENTIAL_SAMPLES[type_name])


def differential_error(node, domain="real", seed=7):
    """|dN(X; V) - d/dt N(X + tV)| for the rule the engine uses for node."""
    rule = differentials.rule_for(node)
    expansion = rule(node, lambda c: Differential(c) if ops.is_matrix(c) else ScalarDifferential(c))
    rng = np.random.default_rng(seed)
    at = point(rng, domain)
    direction = {k: rng.standard_normal(np.shape(v)) for k, v in at.items()}
    subs, extra = {}, {}
    for d in dag.postorder(expansion):
        if isinstance(d, (Differential, ScalarDifferential)):
            name = "D_" + d.arg.name
            subs[d] = ops.matrix_symbol(name, *d.arg.shape) if ops.is_matrix(d.arg) else sp.Symbol(name)
            extra[name] = direction[d.arg.name]
    linear = expansion.xreplace(subs) if subs else expansion
    got = mc.evaluate(linear, {**at, **extra}, sizes=SIZES) if not ops.is_zero(linear) else 0.0
    want = directional(node, at, direction)
    return relative(np.broadcast_to(np.asarray(got, dtype=float), np.shape(want)), want)


# ---- the registry's functions ------------------------------------------------------------------
def function_sample(record, scalar=False):
    """record(arg) for an argument of the shape the record takes."""
    if record.kind == "elementwise":
        return functions.apply(record.notation, P("s" if scalar else "Z"))
    needs = record.needs
    arg = {"column": "z", "square": "S", "matrix": "Z"}.get(needs, "Z")
    return functions.apply(record.notation, P(arg))


# ---- transpose rules: the dot-product test ------------------------------------------------------
LINEAR_SAMPLES = {
    "MatAdd": lambda dX: ops.add(dX, ops.hadamard(P("A"), dX)),
    "Add": lambda dX: ops.trace(ops.matmul(P("S"), dX, P("A").T)) + functions.apply("sum", dX),
    "MatMul": lambda dX: ops.matmul(P("S"), dX, P("A").T),
    "Mul": lambda dX: P("s") * functions.apply("sum", dX),
    "Transpose": lambda dX: ops.transpose(dX),
    "HadamardProduct": lambda dX: ops.hadamard(P("A"), dX),
    "Trace": lambda dX: ops.trace(ops.matmul(dX, P("A").T)),
    "EntrySum": lambda dX: functions.apply("sum", dX),
    "AsScalar": lambda dX: ops.scalar(ops.matmul(P("a").T, dX, P("b"))),
    "DiagMatrix": lambda dX: ops.diag(ops.matmul(dX, P("b"))),
    "DiagonalOf": lambda dX: ops.diag(ops.matmul(dX, P("A").T)),
    "Im2col": lambda dX: im2col(dX, 1, 2, 3, 2, 2, 1, 2, 1, 1),
    "Col2im": lambda dX: col2im(dX, 1, 1, 2, 2, 3, 2, 2, 1, 1, 2),
    "Concat": lambda dX: concat(dX, ops.matmul(P("S"), dX)),     # hconcat: test_concat.py
}
LINEAR_VARIABLES = {"Im2col": "Q", "Col2im": "Q"}      # images need sizes of their own; else X


def transpose_error(type_name, seed=3):
    X = P(LINEAR_VARIABLES.get(type_name, "X"))
    dX = Differential(X)
    E = LINEAR_SAMPLES[type_name](dX)
    assert type(E).__name__ == type_name, (type_name, type(E).__name__)
    rng = np.random.default_rng(seed)
    at = point(rng)
    V = rng.standard_normal(at[X.name].shape)
    sizes = {sp.Symbol(n, integer=True, positive=True): k for n, k in SIZES.items()}
    G_shape = tuple(int(sp.sympify(d).subs(sizes)) for d in E.shape) if ops.is_matrix(E) else ()
    G_val = rng.standard_normal(G_shape) if G_shape else float(rng.standard_normal())
    G = ops.matrix_symbol("G", *E.shape) if ops.is_matrix(E) else sp.Symbol("g")
    pull = transpose.Pull(differential_detector())
    pull(G, E)
    assert {child for child, _ in pull.out} == {X}
    G_X = ops.add(*[contribution for _, contribution in pull.out])
    env = {**at, "G" if ops.is_matrix(E) else "g": G_val, "V": V}
    Vsym = ops.matrix_symbol("V", *X.shape)
    E_V = np.asarray(mc.evaluate(E.xreplace({dX: Vsym}), env, sizes=SIZES), dtype=float)
    lhs = float(np.sum(np.asarray(G_val) * E_V))
    rhs = float(np.sum(np.broadcast_to(np.asarray(mc.evaluate(G_X, env, sizes=SIZES), dtype=float),
                                       V.shape) * V))
    return abs(lhs - rhs) / max(1e-8, abs(lhs))


# ---- vec rules: local Jacobians -----------------------------------------------------------------
# op type name -> [(the variable, a linear expression in its differential)], one per form a
# rule distinguishes (L@diag(dv)@r, diag(L@dv@r.T), diag(L@diag(dv)@R) have forms of their own)
VEC_SAMPLES = {
    "MatAdd": [("X", lambda d: ops.add(d, ops.hadamard(P("A"), d)))],
    "Add": [("X", lambda d: ops.scale(ops.add(ops.trace(ops.matmul(P("S"), d, P("A").T)),
                                              functions.apply("sum", d)), P("a")))],
    "MatMul": [("X", lambda d: ops.matmul(P("S"), d, P("A").T)),
               ("x", lambda d: ops.matmul(P("S"), ops.diag(d), P("a")))],
    "Mul": [("X", lambda d: ops.scale(P("s") * functions.apply("sum", d), P("a")))],
    "Transpose": [("X", lambda d: ops.transpose(d))],
    "HadamardProduct": [("X", lambda d: ops.hadamard(P("A"), d))],
    "DiagMatrix": [("x", lambda d: ops.matmul(ops.diag(d), P("S")))],
    "DiagonalOf": [("S", lambda d: ops.diag(ops.matmul(d, P("S")))),
                   ("x", lambda d: ops.diag(ops.matmul(P("S"), ops.diag(d), P("S").T))),
                   ("x", lambda d: ops.diag(ops.matmul(P("S"), d, P("a").T)))],
    "Trace": [("S", lambda d: ops.scale(ops.trace(d), P("a")))],
    "EntrySum": [("X", lambda d: ops.scale(functions.apply("sum", d), P("a")))],
    "AsScalar": [("x", lambda d: ops.scale(ops.scalar(ops.matmul(P("a").T, d)), P("a")))],
    "Concat": [("X", lambda d: concat(d, ops.matmul(P("S"), d))),
               ("X", lambda d: hconcat(ops.matmul(P("S"), d), d)),
               ("x", lambda d: concat(ops.matmul(P("S"), d), d)),
               ("x", lambda d: hconcat(d, ops.matmul(P("S"), d)))],
}


def vec_samples(type_name):
    out = []
    for name, build in VEC_SAMPLES[type_name]:
        x = P(name)
        out.append((x, build(Differential(x))))
    return out


def contains_type(e, type_name):
    return any(type(n).__name__ == type_name for n in dag.postorder(e))


def vec_error(type_name, seed=5):
    """The largest error of J @ vec(V) against vec(E(V)) over the samples of one op, and the
    rules identification used."""
    errors, used = [], []
    for x, E in vec_samples(type_name):
        J, rules = vec_rules.identify(E, x, differential_detector())
        used += rules
        rng = np.random.default_rng(seed)
        at = point(rng)
        V = rng.standard_normal(at[x.name].shape)
        Vsym = ops.matrix_symbol("V", *x.shape)
        E_V = np.asarray(mc.evaluate(E.xreplace({Differential(x): Vsym}), {**at, "V": V},
                                     sizes=SIZES), dtype=float)
        got = np.asarray(mc.evaluate(J, at, sizes=SIZES), dtype=float) @ np.reshape(V, -1, order="F")
        errors.append(relative(got, np.reshape(E_V, -1, order="F")))
    return max(errors), used
