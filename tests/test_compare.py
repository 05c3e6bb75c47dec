"""Comparing a hand-derived formula with the derived result (derive/compare.py, issue 12).

Each common mistake is planted into a right formula, and the comparison must name its kind;
right formulas written differently from matcalc's form must be accepted; the command line's
--expect exits 0 / 1, and 2 for bad input."""
import pytest

import matcalc as mc
from matcalc.cli import main

LOGREG = ("sum(log(1 + exp(X @ w))) - y.T @ X @ w", {"X": ("N", "d"), "w": ("d",), "y": ("N",)}, "w")
NET = ("sum((relu(X @ W1) @ W2 - Y)**2)", {"X": ("N", "D"), "W1": ("D", "H"), "W2": ("H", "C"),
                                           "Y": ("N", "C")}, "W1")
LSQ = ("sum((X @ w - y)**2)", {"X": ("N", "d"), "w": ("d",), "y": ("N",)}, "w")
MEAN = ("mean((X @ w - y)**2)", {"X": ("N", "d"), "w": ("d",), "y": ("N",)}, "w")
BIAS = ("sum((X @ W + ones(N) @ b.T - Y)**2)", {"X": ("N", "d"), "W": ("d", "m"), "b": ("m",),
                                                 "Y": ("N", "m")}, "b")
QUAD = ("x.T @ A @ x", {"x": ("n",), "A": ("n", "n")}, "x")
TRACE = ("tr(A @ X @ B)", {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "p")}, "X")
SOFTMAX = ("sum((softmax(z) - y)**2)", {"z": ("n",), "y": ("n",)}, "z")


def derived(case):
    text, shapes, wrt = case
    return mc.grad(mc.parse(text, shapes), wrt)


ACCEPTED = [
    (QUAD, "(A + A.T)@x"), (QUAD, "A@x + A.T@x"), (QUAD, "A.T@x + A@x"),
    (LOGREG, "X.T@(sigmoid(X@w) - y)"), (LOGREG, "X.T@(exp(X@w)/(1 + exp(X@w)) - y)"),
    (LOGREG, "X.T@sigmoid(X@w) - X.T@y"), (LSQ, "2*X.T@X@w - 2*X.T@y"),
    (TRACE, "A.T@B.T"), (TRACE, "(B@A).T"),
    (SOFTMAX, "2*(softmax(z)*(softmax(z) - y) - softmax(z)*sum(softmax(z)*(softmax(z) - y)))"),
]


@pytest.mark.parametrize("case, formula", ACCEPTED, ids=[f for _, f in ACCEPTED])
def test_a_right_formula_written_differently_is_accepted(case, formula):
    c = derived(case).compare(formula)
    assert c.ok, str(c)
    assert "equal to the derived gradient" in str(c)


# (case, the planted formula, the kind the comparison must name, words its detail must hold)
PLANTED = [
    ("missing transpose", LOGREG, "(sigmoid(X@w) - y).T@X", "transpose", "transpose"),
    ("missing transpose, matrix", ("tr(W @ A)", {"W": ("n", "m"), "A": ("m", "n")}, "W"), "A",
     "transpose", "transpose"),
    ("wrong side of a product", TRACE, "B.T@A.T", "shape", "shape mismatch in @"),
    ("missing mask", NET, "2*X.T@((relu(X@W1)@W2 - Y)@W2.T)", "missing mask", "step(X@W1)"),
    ("missing factor 2", LSQ, "X.T@(X@w - y)", "factor", "a factor 2 is missing"),
    ("missing factor 1/N", MEAN, "2*X.T@(X@w - y)", "factor", "a factor 1/N is missing"),
    ("sign", LOGREG, "X.T@(y - sigmoid(X@w))", "sign", "minus"),
    ("bias not summed over the batch", BIAS, "2*(X@W + ones(N)@b.T - Y).T", "not summed",
     "sum of those"),
    ("variable used twice, one share", QUAD, "A@x", "missing term", "A.T@x"),
    ("softmax Jacobian as diagonal", SOFTMAX, "2*(softmax(z) - y)*softmax(z)*(1 - softmax(z))",
     "diagonal Jacobian", "diagonal"),
]


@pytest.mark.parametrize("what, case, formula, kind, words", PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_mistake_is_named(what, case, formula, kind, words):
    c = derived(case).compare(formula)
    assert not c.ok
    assert c.kind == kind, str(c)
    assert words in str(c)
    assert repr(c) == f"<Comparison {formula} (differs: {kind})>" or len(repr(c)) >= 70


def test_a_counterexample_has_sizes_values_both_results_and_the_difference():
    c = derived(LSQ).compare("X.T@(X@w - y)")
    sizes = c.counterexample["sizes"]
    assert sizes["N"] != sizes["d"]                     # not a square case
    assert set(c.counterexample["values"]) == {"X", "w", "y"}
    text = str(c)
    assert "counterexample (N=" in text and "yours   =" in text and "derived =" in text
    assert abs(c.counterexample["relative"] - 0.5) < 1e-9


def test_right_only_for_1x1_or_square_cases_is_caught():
    """2*x is the gradient of sum(x)**2 only when x has one entry; A is the gradient of
    tr(A @ X) only for a symmetric square A: both are refused, at sizes that all differ."""
    c = derived(("sum(x)**2", {"x": ("n",)}, "x")).compare("2*x")
    assert not c.ok and c.counterexample["sizes"]["n"] > 1
    c = derived(("tr(A @ X)", {"A": ("n", "n"), "X": ("n", "n")}, "X")).compare("A")
    assert c.kind == "transpose"


def test_hessian_jacobian_and_hvp_compare_too():
    f = mc.parse(*LOGREG[:2])
    assert mc.hessian(f, "w").compare("X.T@diag(sigmoid(X@w)*(1 - sigmoid(X@w)))@X").ok
    assert mc.hessian(f, "w").compare("X.T@diag(sigmoid(X@w))@X").kind == "value"
    g = mc.parse("tanh(A @ x)", {"A": ("m", "n"), "x": ("n",)})
    assert mc.jacobian(g, "x").compare("diag(1 - tanh(A@x)**2)@A").ok
    h = mc.parse("logdet(X)", {"X": ("n", "n")})
    assert mc.hvp(h, "X").compare("-(inv(X)@V@inv(X)).T").ok
    assert mc.hvp(h, "X").compare("(inv(X)@V@inv(X)).T").kind == "sign"


def test_bad_formulas_are_one_line_errors():
    d = derived(QUAD)
    with pytest.raises(mc.MatcalcError, match="undeclared symbol 'Q'"):
        d.compare("Q@x")
    with pytest.raises(mc.ParseError):
        d.compare("A@@x")
    with pytest.raises(mc.MatcalcError, match="non-empty"):
        d.compare("  ")


def test_expect_on_the_command_line(capsys):
    args = ["grad", LOGREG[0], "--wrt", "w", "--shape", "X=N,d", "--shape", "w=d", "--shape", "y=N"]
    assert main(args + ["--expect", "X.T@(sigmoid(X@w) - y)"]) == 0
    assert "equal to the derived gradient" in capsys.readouterr().out
    assert main(args + ["--expect", "(sigmoid(X@w) - y).T@X"]) == 1
    assert "a transpose" in capsys.readouterr().out
    assert main(args + ["--expect", "(sigmoid(X@w) - y).T@X", "--latex"]) == 1
    out = capsys.readouterr().out
    assert r"\boxed{\text{yours: }" in out and out.strip().endswith(r"\end{aligned}")
    assert main(args + ["--expect", "X.T@@w"]) == 2
    assert capsys.readouterr().err.startswith("matcalc: parse error")
