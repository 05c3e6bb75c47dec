"""Answers to inputs in the shared notation (../shared/NOTATION.md) print in that notation, so
that any reader of it (another tool, the corpus's own evaluator) reads them back.

matcalc's notation is a superset of the shared one: it also reads `matrix_power(X, k)` and a
dimension name used as a number (`sum(x)/n`). Results must not need either when the input did
not: a power prints as the product it is (`X.T@X.T@X.T@X.T`) and a size as `sum(ones(n))`.

The check reads the printed text with Python's `ast` and a list of the shared notation's
functions written out here, not with matcalc's parser, and evaluates it with an evaluator of its
own (NumPy, a dozen lines) against matcalc's reference evaluation of the same text.
"""
import ast

import numpy as np
import pytest

import matcalc as mc
from matcalc.reference import evaluate_text

# the shared notation's functions (NOTATION.md, "Functions"), and what a result may add to them
SHARED = {"tr", "det", "logdet", "inv", "sum", "norm", "exp", "log", "sin", "cos", "tanh",
          "sigmoid", "relu", "softplus", "sqrt", "abs", "step", "sign", "softmax", "logsumexp",
          "diag", "eye", "ones"}

CASES = [
    # (kind, expression, shapes, wrt)
    ("grad", "tr(X@X@X@X@X)", {"X": ("n", "n")}, "X"),              # 5*(X.T)^4
    ("grad", "norm(X@X@X@X)", {"X": ("n", "n")}, "X"),
    ("grad", "det(X@X@X@X)", {"X": ("n", "n")}, "X"),
    ("grad", "tr(inv(X@X@X@X@X))", {"X": ("n", "n")}, "X"),
    ("grad", "a.T@X@X@X@X@X@X@b", {"X": ("n", "n"), "a": ("n",), "b": ("n",)}, "X"),
    ("grad", "tr(eye(n))*(x.T@x)", {"x": ("n",)}, "x"),             # 2*n*x
    ("grad", "ones(n).T@ones(n)*(x.T@x)", {"x": ("n",)}, "x"),
    ("grad", "sum(ones(n, m)@X.T@x)", {"X": ("n", "m"), "x": ("n",)}, "x"),
    ("hessian", "(ones(n).T@x)**2*tr(eye(n))", {"x": ("n",)}, "x"),
    ("hessian", "x.T@X@X@X@X@x", {"x": ("n",), "X": ("n", "n")}, "x"),
    ("jacobian", "X@X@X@X@x", {"x": ("n",), "X": ("n", "n")}, "x"),
    ("jacobian", "x*tr(eye(n))", {"x": ("n",)}, "x"),
]


def shared_notation_problems(text, variables, dims):
    """What in text the shared notation does not read: unknown functions, extra arguments, a
    dimension name outside ones()/eye(), a non-literal exponent."""
    problems = []
    sizes_ok = set()
    tree = ast.parse(text, mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else ast.dump(node.func)
            if name not in SHARED:
                problems.append(f"function {name}")
            elif name in ("ones", "eye"):
                sizes_ok.update(id(a) for a in node.args)
            elif len(node.args) != 1:
                problems.append(f"{name} with {len(node.args)} arguments")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) \
                and not isinstance(node.right, ast.Constant):
            problems.append(f"exponent {ast.unparse(node.right)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in dims and id(node) not in sizes_ok:
            problems.append(f"dimension {node.id} as a number")
        elif isinstance(node, ast.Name) and node.id not in variables | dims | SHARED:
            problems.append(f"name {node.id}")
    return problems


def evaluate_shared(text, values, sizes):
    """The shared notation's meaning of text, by NumPy directly (an evaluator of this test)."""
    def ev(node):
        if isinstance(node, ast.Constant):
            return np.array(float(node.value))
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.Attribute):
            v = ev(node.value)
            return v.T
        if isinstance(node, ast.UnaryOp):
            return -ev(node.operand) if isinstance(node.op, ast.USub) else ev(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            op = type(node.op)
            return {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
                    ast.Div: np.divide, ast.Pow: np.power, ast.MatMult: np.matmul}[op](a, b)
        f = node.func.id
        if f in ("ones", "eye"):
            dims = [sizes[a.id] if isinstance(a, ast.Name) else a.value for a in node.args]
            return np.eye(dims[0]) if f == "eye" else np.ones(dims + [1] * (2 - len(dims)))
        v = ev(node.args[0])
        table = {"tr": np.trace, "det": np.linalg.det, "inv": np.linalg.inv, "sum": np.sum,
                 "norm": np.linalg.norm, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
                 "logdet": lambda a: np.linalg.slogdet(a)[1]}
        return np.array(table[f](v))
    out = ev(ast.parse(text, mode="eval").body)
    return out.reshape(()) if out.size == 1 else out


@pytest.mark.parametrize("kind, expr, shapes, wrt", CASES, ids=[c[1] for c in CASES])
def test_answers_to_shared_notation_print_in_it(kind, expr, shapes, wrt):
    f = mc.parse(expr, shapes)
    d = getattr(mc, kind)(f, wrt)
    text = mc.to_text(d.result)
    dims = {s for shape in shapes.values() for s in shape if isinstance(s, str)}
    assert shared_notation_problems(text, set(shapes), dims) == [], text
    # and it means what matcalc's own reading of the same text means
    rng = np.random.default_rng(7)
    sizes = {n: 3 + i for i, n in enumerate(sorted(dims))}
    values = {}
    for name, shape in shapes.items():
        concrete = [sizes[s] for s in shape] + ([1] if len(shape) == 1 else [])
        v = rng.uniform(-1, 1, concrete) if shape else np.array(0.5)
        if len(shape) == 2 and shape[0] == shape[1]:
            v = v + 3 * np.eye(concrete[0])
        values[name] = v
    ours = np.asarray(evaluate_shared(text, values, sizes))
    reference = np.asarray(evaluate_text(text, shapes, values))
    np.testing.assert_allclose(ours.reshape(reference.shape), reference, rtol=1e-10)
