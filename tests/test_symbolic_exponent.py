"""A scalar variable as an exponent (issue 14): `x**a`, `X**p`, `a**x`, `X**Y`, `a**b` with a, b,
p declared scalars. The power rule d(A**p) = p*A**(p - 1)*dA + A**p*log(A)*dp (differentials.py)
gives gradients with respect to the base and the exponent; they are checked here against HIPS
autograd and against central differences, both on the text as typed through the independent
reference evaluator (matcalc/reference.py), at random sizes in float64, with positive bases
(the domain where the exponent varies). Also: Jacobians, Hessians, printing round trips, LaTeX,
NumPy codegen, the command line, value-safe canonical forms, and mutants of the rule that these
checks must kill."""
import shutil
import subprocess
import sys

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import sympy
from sympy import HadamardPower

import matcalc as mc
from checks import concrete_shape, draw, fd_grad
from matcalc import codegen, reference
from matcalc.calculus import differentials
from matcalc.codegen.numpy_printer import NumpyPrinter
from matcalc.core import functions, ops
from matcalc.core.rules import Rule

SHAPES = {"x": ("n",), "y": ("n",), "X": ("n", "m"), "Y": ("n", "m"), "W": ("m", "n"),
          "a": (), "b": (), "p": ()}
POSITIVE = {"x", "X", "Y"}          # bases; a is a base too in a**x and a**b (POSITIVE_TOO)

CASES = [
    # (text, variables, symbols that must be positive besides POSITIVE, the gradients' text)
    ("sum(x**a)", ("x", "a"), (), {"x": "a*x**(a - 1)", "a": "sum(x**a*log(x))"}),
    ("sum(a**x)", ("x", "a"), ("a",), {"x": "log(a)*a**x", "a": "sum(x*a**(x - 1))"}),
    ("sum(X**p)", ("X", "p"), (), {"X": "p*X**(p - 1)"}),
    ("sum(X**Y)", ("X", "Y"), (), {"X": "Y*X**(Y - 1)", "Y": "X**Y*log(X)"}),
    ("y.T @ x**(a*b + 1)", ("x", "a", "b"), (), {}),
    ("sum((x**a)**b)", ("x", "a", "b"), (), {}),
    ("a**b", ("a", "b"), ("a",), {"b": "a**b*log(a)", "a": "b*a**(b - 1)"}),
    ("log(sum(x**p))/p", ("x", "p"), (), {}),
    ("sum(x**(x.T@y))", ("x", "y"), ("y",), {}),
    ("tr(W @ X**a)", ("X", "a"), (), {}),
]
IDS = [c[0] for c in CASES]


def point(text, positive, seed):
    rng = np.random.default_rng(seed)
    sizes = {"n": int(rng.integers(2, 6)), "m": int(rng.integers(2, 6))}
    shapes = {k: v for k, v in SHAPES.items() if k in names_of(text)}
    values = {k: draw(concrete_shape(v, sizes), "positive" if k in POSITIVE or k in positive
                      else "normal", rng) for k, v in shapes.items()}
    return shapes, values, sizes


def names_of(text):
    import re
    return set(re.findall(r"[A-Za-z_]\w*", text))


def typed(text, shapes, values, sizes, xp=np):
    """The text as typed, by the reference evaluator (no engine code)."""
    return reference.evaluate_text(text, shapes, values, xp=xp, sizes=sizes)


@pytest.mark.parametrize("text, variables, positive, expected", CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_wrt_base_and_exponent(text, variables, positive, expected, seed):
    shapes, values, sizes = point(text, positive, seed)
    f = mc.parse(text, shapes)
    for w in variables:
        d = mc.grad(f, w)
        if w in expected:
            assert mc.to_text(d.result) == expected[w]
        got = np.asarray(mc.evaluate(d.result, values, sizes=sizes), dtype=np.float64)
        assert got.dtype == np.float64 and np.all(np.isfinite(got))
        X = values[w]
        by_autograd = autograd.grad(lambda v: typed(text, shapes, {**values, w: v}, sizes,
                                                    xp=anp))(X)
        by_differences = fd_grad(lambda v: float(np.asarray(typed(
            text, shapes, {**values, w: v}, sizes)).reshape(())), X)
        want = np.asarray(by_autograd, dtype=np.float64).reshape(np.shape(X))
        np.testing.assert_allclose(got.reshape(np.shape(X)), want, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(got.reshape(np.shape(X)), by_differences, rtol=1e-6,
                                   atol=1e-8)
        report = d.check()
        assert report.ok, str(report)


def test_exp_of_a_log_is_the_power_with_a_zero_gradient():
    """x**a and exp(a*log(x)) are one function for x > 0: the difference's gradients are 0."""
    shapes, values, sizes = point("x a", (), 3)
    f = mc.parse("sum(exp(a*log(x)) - x**a)", shapes)
    for w in ("x", "a"):
        g = mc.evaluate(mc.grad(f, w).result, values, sizes=sizes)
        assert np.max(np.abs(g)) < 1e-12


@pytest.mark.parametrize("kind, text, wrt, shapes", [
    ("jacobian", "x**a", "x", {"x": ("n",), "a": ()}),
    ("jacobian", "a**x", "x", {"x": ("n",), "a": ()}),
    ("jacobian", "x**a", "a", {"x": ("n",), "a": (1, 1)}),      # a 1 x 1 variable
    ("jacobian", "X**Y", "Y", {"X": ("n", "m"), "Y": ("n", "m")}),
    ("hessian", "sum(x**a)", "x", {"x": ("n",), "a": ()}),
    ("hessian", "sum(a**x)", "x", {"x": ("n",), "a": ()}),
    ("hessian", "sum(x**(x.T@x))", "x", {"x": ("n",)}),
    ("hvp", "sum(X**a)", "X", {"X": ("n", "m"), "a": ()}),
    ("hvp", "sum(X**Y)", "Y", {"X": ("n", "m"), "Y": ("n", "m")}),
])
def test_jacobians_and_hessians(kind, text, wrt, shapes):
    f = mc.parse(text, shapes)
    d = {"jacobian": mc.jacobian, "hessian": mc.hessian, "hvp": mc.hvp}[kind](f, wrt)
    report = d.check(seed=1)
    assert report.ok, str(report)


def test_known_jacobian_and_hessian_text():
    shapes = {"x": ("n",), "a": ()}
    assert mc.to_text(mc.jacobian(mc.parse("x**a", shapes), "x").result) == \
        "a*diag(x**(a - 1))"
    assert mc.to_text(mc.hessian(mc.parse("sum(a**x)", shapes), "x").result) == \
        "(log(a)**2)*diag(a**x)"


ROUND_TRIP = ["x**a", "x**(1 + a)", "(x**a)**b", "x**(2*a)", "a**x", "2**x", "X**Y", "a**b",
              "x**(-a)", "x**(a**b)", "abs(x)**(2*a)", "x**(x.T@y)", "(x**a).T@y", "X.T**p",
              "1/(1 + x**a)", "(2**a)*x**a", "(-2*x)**a", "exp(a*log(x))", "log(a)*a**x",
              # constant exponents SymPy cannot order or that are not literals (found by the
              # trust fuzzer): printed as written, never compared with 0
              "x**tanh(1)", "x**(-tanh(1))", "x**(2**(1/2))", "1/x**(2**(1/2))"]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_printing_round_trip(text):
    e = mc.parse(text, SHAPES)
    assert mc.to_text(e) == text
    assert mc.parse(mc.to_text(e), SHAPES) == e


def test_latex_numpy_and_sympy_spellings():
    e = mc.parse("x**a", SHAPES)
    assert mc.latex(e) == r"x^{\circ a}"
    assert mc.latex(mc.parse("x**(a + 1)", SHAPES)) == r"x^{\circ 1 + a}"
    assert mc.latex(mc.parse("a**b", SHAPES)) == "a^{b}"
    assert NumpyPrinter().doprint(e) == "x ** a"
    assert NumpyPrinter().doprint(mc.parse("x**(a + 1)", SHAPES)) == "x ** (1.0 + a)"
    assert NumpyPrinter().doprint(mc.parse("a**x", SHAPES)) == "a ** x"
    assert sympy.latex(e) == r"x^{\circ {a}}"           # SymPy's own class, its own printer
    # plain sympy.lambdify of a result with a symbolic exponent
    d = mc.grad(mc.parse("sum(x**a)", SHAPES), "a").result
    x, a = sympy.MatrixSymbol("x", 3, 1), sympy.Symbol("a", real=True)
    n = sympy.Symbol("n", integer=True, positive=True)
    fn = sympy.lambdify([x, a], d.xreplace({n: sympy.Integer(3)}), "numpy")
    xv = np.array([[0.5], [1.5], [2.0]])
    np.testing.assert_allclose(float(np.asarray(fn(xv, 1.3)).reshape(())),
                               np.sum(xv ** 1.3 * np.log(xv)))


def test_canonical_forms_stay_value_safe():
    """(x**a)**b is not x**(a*b): at x < 0, a = 2, b = 1/2 the first is |x|, the second x."""
    x = np.array([[-1.5], [2.0], [-0.5]])
    values = {"x": x, "a": 2.0, "b": 0.5}
    for text in ("(x**a)**b", "(x**2)**b", "((x**2)**a)**b", "(-2*x)**b"):
        e = mc.parse(text, SHAPES)
        with np.errstate(invalid="ignore"):          # (-2*x)**0.5: NaN in both, as NumPy
            want = typed(text, {k: SHAPES[k] for k in "xab"}, values, {"n": 3})
            np.testing.assert_allclose(mc.evaluate(e, values), want, equal_nan=True)
    assert mc.to_text(mc.parse("(x**a)**b", SHAPES)) == "(x**a)**b"
    assert mc.to_text(mc.parse("(x**a)**2", SHAPES)) == "x**(2*a)"      # an integer b folds


def test_shapes_and_errors():
    assert mc.parse("a**x", SHAPES).shape == mc.parse("x", SHAPES).shape
    assert mc.parse("x**a", SHAPES).shape == mc.parse("x", SHAPES).shape
    assert not ops.is_matrix(mc.parse("a**b", SHAPES))
    for text in ("x**X", "X**W", "X**x.T"):
        with pytest.raises(mc.ShapeError, match=r"shape mismatch in \*\*"):
            mc.parse(text, SHAPES)
    with pytest.raises(mc.MatcalcError, match=r"\(-8\)\*\*\(1/3\) is not a real number"):
        mc.parse("x**(-8)**(1/3)", SHAPES)        # SymPy's 2*(-1)**(1/3) is complex
    with pytest.raises(reference.NotationError, match=r"shape mismatch in \*\*"):
        typed("x**X", {"x": ("n",), "X": ("n", "m")},
              {"x": np.ones((2, 1)), "X": np.ones((2, 3))}, {"n": 2, "m": 3})


def test_codegen_gradients_wrt_base_and_exponent():
    shapes = {"x": ("n",), "y": ("n",), "a": ()}
    f = mc.parse("y.T @ x**a + sum(a**x)", shapes)
    source = codegen.numpy_source(f, wrt=["x", "a"], name="f")
    assert "x ** a" in source and "np.log(x)" in source
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    rng = np.random.default_rng(5)
    at = {"x": rng.uniform(0.5, 1.5, (4, 1)), "y": rng.standard_normal((4, 1)), "a": 1.7}
    value, grads = namespace["value_and_grad"](**at)
    np.testing.assert_allclose(value, mc.evaluate(f, at))
    for name in ("x", "a"):
        np.testing.assert_allclose(np.asarray(grads[name]).reshape(np.shape(at[name])),
                                   np.asarray(mc.evaluate(mc.grad(f, name).result, at))
                                   .reshape(np.shape(at[name])), rtol=1e-10)


MATCALC = shutil.which("matcalc")


@pytest.mark.skipif(MATCALC is None, reason="the matcalc console script is not installed")
@pytest.mark.parametrize("wrt, result", [("a", "sum(x**a*log(x))"),
                                         ("x", "a*x**(a - 1)")])
def test_command_line(wrt, result):
    r = subprocess.run([MATCALC, "grad", "sum(x**a)", "--wrt", wrt, "--shape", "x=n",
                        "--shape", "a=", "--check"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    first, check = r.stdout.splitlines()[:2]
    assert first == result
    assert check.startswith(f"check {wrt}: relative error") and check.endswith(": ok")
    r = subprocess.run([MATCALC, "grad", "sum(x**a)", "--wrt", "a", "--shape", "x=n",
                        "--shape", "a=", "--format", "latex"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r"x^{\circ a}" in r.stdout and r"\log" in r.stdout


# ---- mutants of the rule: each one must fail the checks above ---------------------------------
def base_term(A, p, dA):
    return ops.hadamard(ops.hadamard(p, ops.hpow(A, ops.sub(p, 1))), dA)


def exponent_term(node, A, dp, log=True):
    return ops.hadamard(node, functions.f("log", A), dp) if log else ops.hadamard(node, dp)


MUTANTS = {
    "exponent term negated": lambda node, A, p, dA, dp: ops.sub(base_term(A, p, dA),
                                                                exponent_term(node, A, dp)),
    "log factor dropped": lambda node, A, p, dA, dp: ops.add(base_term(A, p, dA),
                                                             exponent_term(node, A, dp, False)),
    "base term negated": lambda node, A, p, dA, dp: ops.sub(exponent_term(node, A, dp),
                                                            base_term(A, p, dA)),
    "exponent term dropped": lambda node, A, p, dA, dp: base_term(A, p, dA),
}


def mutant_rule(build):
    def rule(node, d):
        """d(A**p) = a mutant"""
        A, p = node.args
        dA = d(A)
        dp = d(p) if not p.is_number else ops.zero_like(p)
        terms = []
        if not ops.is_zero(dA) or not ops.is_zero(dp):
            terms.append(build(node, A, p, dA if not ops.is_zero(dA) else ops.zero_like(A),
                               dp if not ops.is_zero(dp) else ops.zero_like(p)))
        return terms[0] if terms else ops.zero_like(node)
    return Rule(HadamardPower, "mutant", rule)


@pytest.mark.parametrize("how", sorted(MUTANTS))
def test_mutants_of_the_power_rule_are_killed(how, monkeypatch):
    """The rule itself passes (test_gradients_wrt_base_and_exponent); each mutant fails the same
    comparison with autograd on the text as typed, for one case or another."""
    monkeypatch.setitem(differentials.STRUCTURAL, HadamardPower, mutant_rule(MUTANTS[how]))
    failures = 0
    for text, variables, positive, _ in CASES[:4]:
        shapes, values, sizes = point(text, positive, 0)
        f = mc.parse(text, shapes)
        for w in variables:
            got = np.asarray(mc.evaluate(mc.grad(f, w).result, values, sizes=sizes), dtype=float)
            want = autograd.grad(lambda v: typed(text, shapes, {**values, w: v}, sizes,
                                                 xp=anp))(values[w])
            if not np.allclose(got.reshape(np.shape(values[w])), want, rtol=1e-6):
                failures += 1
    assert failures > 0, f"the mutant '{how}' of the power rule passes every check"


def test_the_check_of_matcalc_grad_kills_the_log_mutant(monkeypatch):
    """`--check` itself (an independent evaluator's differences) notices a rule without log."""
    monkeypatch.setitem(differentials.STRUCTURAL, HadamardPower,
                        mutant_rule(MUTANTS["log factor dropped"]))
    d = mc.grad(mc.parse("sum(x**a)", SHAPES), "a")
    assert not d.check().ok


@pytest.mark.parametrize("kind, text, wrt, shapes", [
    ("jacobian", "P**log(softplus(0.5))", "P", {"P": ("n", "m")}),
    ("hvp", "exp(tanh(1.5*a))**tanh(softplus(3)**-1)", "a", {"a": ()}),
    ("grad", "sum(x**tanh(1) + 1/x**(2**(1/2)))", "x", {"x": ("n",)}),
])
def test_constant_exponents_that_are_not_literals(kind, text, wrt, shapes):
    """Found by the trust fuzzer: an exponent such as tanh(1) is a number SymPy cannot order
    (tanh is the notation's own function); derivation, evaluation and codegen treat it as a
    constant expression."""
    f = mc.parse(text, shapes)
    d = {"jacobian": mc.jacobian, "hvp": mc.hvp, "grad": mc.grad}[kind](f, wrt)
    report = d.check(seed=2)
    assert report.ok, str(report)
    if kind != "jacobian":                       # codegen writes gradients of scalars
        source = codegen.numpy_source(f, wrt=[wrt], name="f")
        exec(compile(source, "<generated>", "exec"), {})


@pytest.mark.parametrize("backend", ["jax", "torch", "array_api"])
def test_codegen_backends_equal_numpy(backend):
    """The same module over JAX, PyTorch and the array API gives the NumPy module's value and
    gradients with respect to the base and the exponent."""
    from test_codegen_backends import compare, library, to_backend   # noqa: F401 (skips)
    library(backend)
    shapes = {"x": ("n",), "y": ("n",), "a": ()}
    f = mc.parse("y.T @ x**a + sum(a**x)", shapes)
    rng = np.random.default_rng(9)
    # a as a 0-d array: torch's log() refuses a Python float (the torch backend keeps scalar
    # arguments as numbers), for log(a) here as for exp(a) anywhere
    values = {"x": rng.uniform(0.5, 1.5, (4, 1)), "y": rng.standard_normal((4, 1)),
              "a": np.array(1.3)}
    compare(codegen.compile(f, wrt=["x", "a"]), codegen.compile(f, wrt=["x", "a"],
                                                                 backend=backend), values, backend)


VALUE_SAFE = ["(x**a)**b", "(x**2)**a", "(x**3)**b", "(x**a)**2", "x*x**a", "x**a/x", "x**a*x**b",
              "(2*x)**a", "(-2*x)**a", "(a**b)**c", "(a**2)**b", "(a**3)**b", "(a**0.5)**b",
              "a**b*a**c", "(x**a)**(-1)", "((x**2)**a)**b", "(x*x)**a", "(x**a*x)**2", "1/x**a",
              "(a*x)**b", "exp(a)**b", "(x**-2)**a", "abs(x)**a*abs(x)**b"]


@pytest.mark.parametrize("text", VALUE_SAFE)
def test_every_fold_keeps_the_value_wherever_the_text_is_defined(text):
    """Negative and positive bases, integer and fractional exponents: wherever the text as typed
    (the reference evaluator) is a real number, the canonical form parse built has its value."""
    shapes = {"x": ("n",), "a": (), "b": (), "c": ()}
    e = mc.parse(text, shapes)
    rng = np.random.default_rng(11)
    with np.errstate(all="ignore"):
        for _ in range(40):
            v = {"x": rng.choice([-2.0, -0.5, 0.5, 1.5, 2.0], (3, 1)),
                 "a": float(rng.choice([-2, -1, -0.5, 0.5, 1, 2, 3, 1 / 3])),
                 "b": float(rng.choice([-2, -1, -0.5, 0.5, 1, 2, 3])),
                 "c": float(rng.choice([-1, 0.5, 2]))}
            want = np.asarray(typed(text, shapes, v, {"n": 3}), dtype=float)
            got = np.asarray(mc.evaluate(e, v), dtype=float).reshape(want.shape)
            defined = np.isfinite(want)
            np.testing.assert_allclose(got[defined], want[defined], rtol=1e-9, err_msg=str(v))
