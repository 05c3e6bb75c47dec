"""concat(A, B) (A above B) and hconcat(A, B) (A left of B) (issue 14): the node, its d-rule
d(concat(A, B)) = concat(dA, dB) and transpose rule (G split into blocks by block-selection
matrices), its vec rule, text / LaTeX / NumPy spellings, the reference evaluator's own
implementation, and gradients, Jacobians and Hessians against finite differences and autograd."""
import subprocess
import sys

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import matcalc as mc
import rule_lab
from checks import assert_gradient
from matcalc import codegen, reference
from matcalc.codegen.numpy_printer import NumpyPrinter
from matcalc.core import ops
from matcalc.core.blocks import concat, hconcat
from matcalc.core.nodes import Differential

SHAPES = {"A": ("n", "m"), "B": ("p", "m"), "C": ("n", "q"), "X": ("N", "d"), "Z": ("N", "e"),
          "w": ("d",), "v": ("e",), "x": ("n",), "M": ("m", "n"), "y": ("N",)}
SIZES = {"n": 4, "m": 3, "p": 2, "q": 5, "N": 6, "d": 3, "e": 2}


def values(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(tuple(SIZES[d] for d in dims) if len(dims) == 2
                                      else (SIZES[dims[0]], 1))
            for name, dims in shapes.items()}


CASES = [
    # (text, wrt, the gradient in its human form, or None)
    ("sum(concat(A, B) ** 2)", "A", "2*A"),
    ("sum(concat(A, B) ** 2)", "B", "2*B"),
    ("sum(hconcat(A, C) ** 2)", "C", "2*C"),
    ("sum(log(1 + exp(hconcat(X, Z) @ concat(w, v)))) - y.T @ hconcat(X, Z) @ concat(w, v)", "w", None),
    ("sum(log(1 + exp(hconcat(X, Z) @ concat(w, v)))) - y.T @ hconcat(X, Z) @ concat(w, v)", "Z", None),
    ("tr(concat(A, B).T @ concat(A, B) @ M @ M.T)", "B", None),
    ("sum(tanh(concat(A, x.T @ A)) * concat(A, sin(x.T @ A)))", "A", None),
    ("sum(hconcat(concat(A, B), concat(C, ones(p, q))) ** 3)", "C", None),
    ("norm(concat(hconcat(A, C), hconcat(B, B @ M @ C)))", "C", None),
]


def shapes_for(text):
    return {k: v for k, v in SHAPES.items() if k in text.replace("ones", "")}


@pytest.mark.parametrize("text, wrt, human", CASES, ids=[f"{t} wrt {w}" for t, w, _ in CASES])
def test_gradient_matches_finite_differences_and_autograd(text, wrt, human):
    shapes = shapes_for(text)
    f = mc.parse(text, shapes)
    d = mc.grad(f, wrt)
    if human is not None:
        assert mc.to_text(d.result) == human
    at = values(shapes)
    assert_gradient(f, wrt, d.result, at)        # elementwise and directional FD, autograd
    # autograd through the reference evaluator, on the text as typed
    sizes = mc.dimension_sizes(f, at)
    typed = autograd.grad(lambda X: reference.evaluate_text(text, shapes, {**at, wrt: X},
                                                            xp=anp, sizes=sizes))(at[wrt])
    np.testing.assert_allclose(mc.evaluate(d.result, at, sizes=sizes), typed, rtol=1e-9,
                               atol=1e-12)
    report = d.check()
    assert report.ok and "independent evaluator" in str(report), str(report)


def test_jacobian_and_hessian_through_vec():
    shapes = {"A": ("m", "n"), "x": ("n",)}
    J = mc.jacobian(mc.parse("concat(A @ x, x)", shapes), "x")
    assert mc.to_text(J.result) == "concat(A, eye(n))"
    assert J.check().ok
    assert mc.hessian(mc.parse("sum(concat(A @ x, x) ** 3)", shapes), "x").check().ok
    JX = mc.jacobian(mc.parse("hconcat(X, M @ X)", {"X": ("m", "n"), "M": ("m", "m")}), "X")
    assert JX.check().ok


def test_hconcat_transpose_rule_dot_product(monkeypatch):
    """rule_lab's sample is concat (axis 0); the same dot-product test on hconcat (axis 1),
    with a zero block as the d-rule leaves one for a constant."""
    for sample in (lambda dX: hconcat(dX, ops.matmul(rule_lab.P("S"), dX)),
                   lambda dX: hconcat(ops.zero_like(dX), dX),
                   lambda dX: concat(ops.matmul(rule_lab.P("S"), dX), ops.zero_like(dX))):
        monkeypatch.setitem(rule_lab.LINEAR_SAMPLES, "Concat", sample)
        assert rule_lab.transpose_error("Concat") < 1e-10


def test_hconcat_differential_rule():
    node = mc.parse("hconcat(X, x)", rule_lab.SHAPES)
    assert rule_lab.differential_error(node) < 1e-8


def test_spellings_round_trip_latex_and_numpy():
    shapes = {"A": ("n", "m"), "B": ("p", "m"), "C": ("n", "q")}
    for text in ("concat(A, B)", "hconcat(A, C)", "concat(hconcat(A, C), hconcat(B, B@A.T@C))",
                 "concat(A, 0*ones(p, m))", "2*concat(A, B).T@concat(A, B)"):
        e = mc.parse(text, shapes)
        assert mc.parse(mc.to_text(e), shapes) == e, text
    e = mc.parse("concat(A, B)", shapes)
    assert tuple(map(str, e.shape)) == ("n + p", "m")
    assert mc.latex(e) == r"\begin{bmatrix} A \\ B \end{bmatrix}"
    assert mc.latex(mc.parse("hconcat(A, C)", shapes)) == r"\begin{bmatrix} A & C \end{bmatrix}"
    assert NumpyPrinter().doprint(e) == "np.concatenate((A, B), axis=0)"
    h = mc.parse("hconcat(A, C)", shapes)
    assert NumpyPrinter(backend="torch").doprint(h) == "torch.cat((A, C), dim=1)"
    assert NumpyPrinter(backend="array_api").doprint(h) == "xp.concat((A, C), axis=1)"
    assert NumpyPrinter(backend="jax").doprint(h) == "jnp.concatenate((A, C), axis=1)"
    import sympy
    assert sympy.latex(e) == mc.latex(e) and str(e) == "concat(A, B)"


def test_a_matrix_of_a_concatenations_size():
    """ones(n + p) and eye(n + p), the size of concat(A, B) (fuzz seed 201): the adjoint of
    sum(concat(x, y)) is a selection of ones(n + p), simplified to the block it picks; what is
    left prints as blocks the parser reads back, evaluate sizes n + p, and generated code
    reads it off n and p."""
    shapes = {"x": ("n",), "y": ("p",), "z": ("q",)}
    assert mc.to_text(mc.grad(mc.parse("sum(concat(x, y))", shapes), "y").result) == "ones(p)"
    assert mc.to_text(mc.grad(mc.parse("sum(concat(concat(x, y), z))", shapes), "x").result) \
        == "ones(n)"
    at = values(shapes)
    sizes = {d: SIZES[d] for d in "npq"}
    f = mc.parse("concat(x, y)*sum(concat(concat(x, y), z))", shapes)
    J = mc.jacobian(f, "x").result
    text = mc.to_text(J)
    assert "eye(n)" in text and "ones(" in text
    np.testing.assert_allclose(mc.evaluate(mc.parse(text, shapes), at, sizes=sizes),
                               mc.evaluate(J, at, sizes=sizes), rtol=1e-12)
    F = lambda x: reference.evaluate_text("concat(x, y)*sum(concat(concat(x, y), z))", shapes,
                                          {**at, "x": x}, xp=anp)
    np.testing.assert_allclose(mc.evaluate(J, at, sizes=sizes),
                               autograd.jacobian(F)(at["x"]).reshape(6, 4), rtol=1e-12)
    g = mc.parse("sum(hconcat(Y, S) @ concat(M, Y))", {"M": ("m", "m"), "S": ("n", "n"),
                                                        "Y": ("n", "m")})
    source = codegen.numpy_source(g, wrt=["M", "S", "Y"], name="f")
    assert "(m + n)" in source
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    at = values({"M": ("m", "m"), "S": ("n", "n"), "Y": ("n", "m")}, seed=1)
    value, grads = namespace["value_and_grad"](**at)
    for name in ("M", "S", "Y"):
        np.testing.assert_allclose(grads[name], mc.evaluate(mc.grad(g, name).result, at),
                                   rtol=1e-10)


def test_generated_code_equals_the_derivation():
    text = "sum(log(1 + exp(hconcat(X, Z) @ concat(w, v))))"
    shapes = shapes_for(text)
    f = mc.parse(text, shapes)
    source = codegen.numpy_source(f, wrt=["w", "Z"], name="f")
    assert "np.concatenate((X, Z), axis=1)" in source
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    at = values(shapes, seed=3)
    value, grads = namespace["value_and_grad"](**at)
    np.testing.assert_allclose(value, mc.evaluate(f, at))
    for name in ("w", "Z"):
        np.testing.assert_allclose(grads[name], mc.evaluate(mc.grad(f, name).result, at),
                                   rtol=1e-10)


def test_reference_evaluator_adds_dimensions():
    shapes = {"A": ("n", "m"), "B": ("p", "m")}
    at = values(shapes)
    got = reference.evaluate_text("concat(A, B).T @ concat(A, B)", shapes, at)
    np.testing.assert_allclose(got, at["A"].T @ at["A"] + at["B"].T @ at["B"])
    with pytest.raises(reference.NotationError, match="the columns differ"):
        reference.evaluate_text("concat(A, B.T)", shapes, at)
    with pytest.raises(reference.NotationError):
        reference.evaluate_text("concat(A, B) @ A", shapes, at)      # (n + p) x m @ n x m


def test_shape_errors_name_both_shapes():
    with pytest.raises(mc.ShapeError, match=r"concat\(\) needs blocks with the same number of "
                                            r"columns: n x m and m x p"):
        mc.parse("concat(A, B.T)", {"A": ("n", "m"), "B": ("p", "m")})
    with pytest.raises(mc.ShapeError, match=r"hconcat\(\) needs blocks with the same number of rows"):
        mc.parse("hconcat(A, B)", {"A": ("n", "m"), "B": ("p", "m")})
    with pytest.raises(mc.ShapeError, match=r"joins two matrices or vectors, got n x m and scalar"):
        mc.parse("concat(A, s)", {"A": ("n", "m"), "s": ()})
    with pytest.raises(mc.ParseError, match="takes 2 arguments, got 3"):
        mc.parse("concat(A, A, A)", {"A": ("n", "m")})


def test_command_line():
    r = subprocess.run([sys.executable, "-m", "matcalc", "grad", "sum(concat(A, B) ** 2)", "--wrt",
                        "B", "--shape", "A=n,m", "--shape", "B=p,m", "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("2*B\ncheck B: "), r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "matcalc", "grad", "sum(hconcat(A, B))", "--wrt", "A",
                        "--shape", "A=n,m", "--shape", "B=p,m"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "hconcat()" in r.stderr


def test_differential_placeholder_blocks():
    """d(concat(A, B)) with B constant keeps a zero block, so the expansion stays linear."""
    shapes = {"A": ("n", "m"), "B": ("p", "m")}
    node = mc.parse("concat(A, B)", shapes)
    from matcalc.calculus import differentials
    A = mc.parse("A", shapes)
    built = differentials.rule_for(node)(node, lambda c: Differential(c) if c == A
                                         else ops.zero_like(c))
    assert mc.to_text(built) == "concat(dA, 0*ones(p, m))"
