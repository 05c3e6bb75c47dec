"""Derivations: the steps a student reads, their LaTeX, check(), and rules that cite their identity."""
import re

import numpy as np
import pytest
import sympy as sp

import matcalc as mc
from checks import braces_balanced
from matcalc.calculus import differentials


def derive(text, shapes, wrt):
    return mc.grad(mc.parse(text, shapes), wrt)


def test_steps_follow_the_hand_derivation():
    d = derive("tr(X @ A @ X.T)", {"X": ("n", "m"), "A": ("m", "m")}, "X")
    texts = [mc.to_text(s.after) for s in d.steps]
    assert texts[0] == "d(tr(X@A@X.T))"
    assert "tr(d(X@A@X.T))" in texts
    assert "tr(dX@A@X.T + X@A@d(X.T))" in texts
    assert texts[-1] == "X@(A + A.T)"
    rules = [s.rule for s in d.steps]
    assert "product rule" in rules and "trace" in rules and "read off the gradient" in rules
    assert all(isinstance(s, mc.Step) for s in d.steps)
    assert any("d(A@B) = dA@B + A@dB" == s.identity for s in d.steps)


@pytest.mark.parametrize("expr, shapes, wrt, cited", [
    # a number as exponent: the power rule alone, no dp term a student would have to discard
    ("sum((X@w - y)**2)", {"X": ("n", "m"), "w": ("m",), "y": ("n",)}, "w",
     "d(A**p) = p*A**(p - 1)*dA"),
    ("x**3", {"x": ()}, "x", "d(a**p) = p*a**(p - 1)*da"),
    # a varying exponent: the whole rule
    ("sum(X**a)", {"X": ("n", "m"), "a": ()}, "X", "d(A**p) = p*A**(p - 1)*dA + A**p*log(A)*dp"),
    ("x**a", {"x": (), "a": ()}, "x", "d(a**p) = p*a**(p - 1)*da + a**p*log(a)*dp"),
])
def test_the_power_rule_cites_what_applies(expr, shapes, wrt, cited):
    d = derive(expr, shapes, wrt)
    powers = [s.identity for s in d.steps if "power" in s.rule]
    assert powers == [cited]


def test_several_variables_share_one_expansion():
    d = derive("tr(A @ B @ C)", {"A": ("n", "m"), "B": ("m", "p"), "C": ("p", "n")}, ["A", "C"])
    assert set(d.results) == {"A", "C"}
    assert mc.to_text(d.results["A"]) == "C.T@B.T"
    assert mc.to_text(d.results["C"]) == "B.T@A.T"


ALLOWED = {"begin", "end", "left", "right", "operatorname", "mathrm", "mathbf", "frac", "tfrac",
           "text", "odot", "oslash", "circ", "sqrt", "exp", "log", "sin", "cos", "tanh", "sigma",
           "det", "lVert", "rVert", "times", "lambda", "partial", "backslash", "hat", "sim", "quad",
           "qquad", "scriptstyle", "Rightarrow", "overset", "phantom", "otimes", "cdot"}


@pytest.mark.parametrize("text, shapes, wrt", [
    ("tr(X @ A @ X.T)", {"X": ("n", "m"), "A": ("m", "m")}, "X"),
    ("sum(log(1 + exp(X @ w))) - y.T @ X @ w", {"X": ("N", "d"), "w": ("d",), "y": ("N",)}, "w"),
    ("logdet(X) + norm(X)**2 - sum(relu(X) * sigmoid(X) / exp(X))", {"X": ("n", "n")}, "X"),
])
def test_latex_is_one_aligned_block_of_standard_commands(text, shapes, wrt):
    tex = derive(text, shapes, wrt).latex()
    assert tex.startswith("\\begin{aligned}") and tex.endswith("\\end{aligned}")
    assert tex.count("\\begin{") == 1
    assert braces_balanced(tex)
    assert set(re.findall(r"\\([A-Za-z]+)", tex)) <= ALLOWED
    assert "transposed Jacobian" in tex
    assert derive(text, shapes, wrt)._repr_latex_().startswith("$$")


def test_check_passes_for_a_correct_gradient_and_fails_for_a_wrong_one():
    d = derive("x.T @ A @ x", {"x": ("n",), "A": ("n", "n")}, "x")
    report = d.check(sizes={"n": 4})
    assert report.ok and report.errors["x"] < 1e-8 and report.sizes == {"n": 4}
    wrong = mc.parse("A @ x", {"x": ("n",), "A": ("n", "n")})
    d.results["x"] = wrong          # a plausible but wrong formula (A is not symmetric)
    assert not d.check().ok


def test_check_with_given_values():
    d = derive("logdet(X)", {"X": ("n", "n")}, "X")
    X = np.eye(3) * 2 + 0.1
    assert d.check(values={"X": X}).ok


def test_vector_result_never_ambiguous():
    d = derive("x.T @ A @ x", {"x": ("n",), "A": ("n", "n")}, "x")
    assert d.result.shape == d.variables[0].shape      # n x 1, the shape of x
    d = derive("s * tr(A)", {"s": (), "A": ("n", "n")}, "s")
    assert not getattr(d.result, "is_Matrix", False)   # a scalar for a scalar


def test_unknown_node_is_a_clear_error():
    class Strange(sp.Expr):
        pass
    with pytest.raises(mc.NotDifferentiableError, match="no differential rule for Strange"):
        differentials.rule_for(Strange())


def test_deep_chain_and_network_derive_correctly():
    """100 products and a 100-layer network: correct numbers (speed is in benchmarks/)."""
    shapes = {f"A{i}": (2, 2) for i in range(100)}
    f = mc.parse("tr(" + " @ ".join(f"A{i}" for i in range(100)) + ")", shapes)
    assert mc.grad(f, ["A0", "A57"]).check(seed=1).ok
    shapes, text = {"X": (3, 2)}, "X"
    for i in range(1, 101):
        shapes[f"W{i}"], shapes[f"b{i}"] = (2, 2), (2,)
        text = f"tanh({text} @ W{i} + b{i}.T)"
    shapes["Y"] = (3, 2)
    d = mc.grad(mc.parse(f"sum(({text} - Y) ** 2)", shapes), ["W1", "b50", "W100"])
    assert d.check(seed=2).ok


def test_latex_of_a_deep_result_does_not_recurse():
    """The LaTeX printer splits a Hadamard product into numerator and denominator by a test,
    never by list membership (==), which recursed through SymPy's __eq__ on a 1000-deep nest."""
    nest = "sum(" + "exp(" * 1000 + "x" + ")" * 1000 + ")"
    G = mc.grad(mc.parse(nest, {"x": ("n",)}), "x").result
    assert mc.latex(G).count(r"\exp") >= 1000
