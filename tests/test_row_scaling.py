"""Row broadcasting in * and / (issue 14): a 1 x m row times or over an n x m matrix acts on
every row, as in NumPy; it is `(ones(n) @ row) * X`, so the rules of @ and * differentiate it.
Gradients against finite differences and autograd, the reference evaluator, spellings, and
the case where * could be a mistaken @ (still an error that teaches)."""
import subprocess
import sys

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import matcalc as mc
from checks import assert_gradient
from matcalc import codegen, reference

SHAPES = {"X": ("N", "d"), "g": ("d",), "b": ("d",), "W": ("d", "k"), "u": ("k",), "x": ("N",)}
SIZES = {"N": 5, "d": 3, "k": 4}


def values(seed=0):
    rng = np.random.default_rng(seed)
    out = {name: rng.standard_normal(tuple(SIZES[d] for d in dims) if len(dims) == 2
                                     else (SIZES[dims[0]], 1)) for name, dims in SHAPES.items()}
    out["g"] = 1.0 + rng.random((SIZES["d"], 1))          # divisors away from zero
    return out


CASES = [
    ("sum((X * g.T + b.T) ** 2)", "g"),
    ("sum((X * g.T + b.T) ** 2)", "X"),
    ("sum(tanh(X / g.T) @ W)", "g"),
    ("sum(tanh(X / g.T) @ W)", "X"),
    ("sum(log(1 + exp(g.T * X)) * (b.T / g.T))", "g"),
    ("sum(log(1 + exp(g.T * X)) * (b.T / g.T))", "b"),
    ("sum(((X - mean(X)) / g.T) * b.T)", "X"),
    ("sum(softmax((X @ W) * u.T) * (x @ u.T))", "u"),
]


@pytest.mark.parametrize("text, wrt", CASES, ids=[f"{t} wrt {w}" for t, w in CASES])
def test_gradient_matches_finite_differences_and_autograd(text, wrt):
    shapes = {k: v for k, v in SHAPES.items() if k in text}
    f = mc.parse(text, shapes)
    d = mc.grad(f, wrt)
    at = {k: v for k, v in values().items() if k in shapes}
    assert_gradient(f, wrt, d.result, at)
    sizes = mc.dimension_sizes(f, at)
    typed = autograd.grad(lambda v: reference.evaluate_text(text, shapes, {**at, wrt: v},
                                                            xp=anp, sizes=sizes))(at[wrt])
    np.testing.assert_allclose(mc.evaluate(d.result, at, sizes=sizes), typed, rtol=1e-9)
    report = d.check()
    assert report.ok and "independent evaluator" in str(report), str(report)


def test_value_is_numpys_broadcast():
    at = values()
    X, g = at["X"], at["g"]
    for text, want in (("X * g.T", X * g.T), ("g.T * X", g.T * X), ("X / g.T", X / g.T),
                       ("g.T / X", g.T / X)):
        e = mc.parse(text, SHAPES)
        np.testing.assert_allclose(mc.evaluate(e, at), want, rtol=1e-12)
        np.testing.assert_allclose(reference.evaluate_text(text, SHAPES, at), want, rtol=1e-12)
        assert mc.parse(mc.to_text(e), SHAPES) == e


def test_spellings():
    e = mc.parse("X * g.T", SHAPES)
    assert mc.to_text(e) == "X*(ones(N)@g.T)"
    assert mc.latex(e) == r"X \odot (\mathbf{1}_{N} g^{T})"
    small = {"X": SHAPES["X"], "g": SHAPES["g"]}
    source = codegen.numpy_source(mc.parse("sum((X * g.T) ** 2)", small), wrt=["g"], name="f")
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    at = {k: values()[k] for k in ("X", "g")}
    _, grads = namespace["value_and_grad"](**at)
    want = mc.evaluate(mc.grad(mc.parse("sum((X * g.T) ** 2)", small), "g").result, at)
    np.testing.assert_allclose(grads["g"], want, rtol=1e-10)


def test_only_rows_broadcast():
    with pytest.raises(mc.ShapeError, match=r"N x d and d x 1"):
        mc.parse("X * g", SHAPES)
    with pytest.raises(mc.ShapeError):
        mc.parse("x * g.T", SHAPES)                          # no outer broadcasting
    with pytest.raises(reference.NotationError, match="shape mismatch in /"):
        reference.evaluate_text("X / g", SHAPES, values())


def test_a_row_times_a_square_matrix_still_asks_for_at():
    """x.T * A with A n x n could be the row on every row, or a mistaken @: the notation asks."""
    with pytest.raises(mc.ShapeError, match="did you mean @"):
        mc.parse("x.T * A", {"x": ("n",), "A": ("n", "n")})


def test_command_line():
    r = subprocess.run([sys.executable, "-m", "matcalc", "grad", "sum((X * g.T + b.T) ** 2)",
                        "--wrt", "g", "--shape", "X=N,d", "--shape", "g=d", "--shape", "b=d",
                        "--check"], capture_output=True, text=True)
    assert r.returncode == 0 and ": ok" in r.stdout, r.stdout + r.stderr
