"""A gradient that is exactly zero is checked against the differences' rounding noise (about
1e-13 of f), not divided by it: a bias right before batch normalisation has gradient 0, and
--check said FAILED (relative error 1e-4 of noise over noise). A wrong gradient still fails.
The same for Hessians: a zero Hessian against second differences that are noise, and
differences that straddle a kink of abs or relu."""
import sympy

import matcalc as mc
from matcalc import nn


def test_a_bias_before_batchnorm_checks_ok():
    net = nn.from_spec("dense(3,4) batchnorm(4) relu dense(4,2)", loss="mse")
    report = net.backprop().check()
    assert report.ok, str(report)
    assert "b1" in report.errors


def test_a_small_wrong_gradient_still_fails():
    """The gradient of sum(x**2)/2 + 3 replaced by 1e-4 of itself, or by zero, fails."""
    d = mc.grad(mc.parse("0.5*sum(x**2) + 3", {"x": ("n",)}), "x")
    assert d.check().ok
    x = d.variables[0]
    d.results["x"] = 1e-4 * x
    assert not d.check().ok
    d.results["x"] = x * 0
    assert not d.check().ok
    d.results["x"] = sympy.ZeroMatrix(*x.shape)
    assert not d.check().ok


SHAPES = {"x": ("n",), "a": ("n",), "A": ("m", "n")}


def test_a_zero_hessian_checks_ok():
    """The Hessian of a linear function is 0; --check compared it with second differences that
    are rounding noise and said FAILED (relative error 1). Piecewise-linear functions too: the
    directions are drawn so that the largest step crosses no kink of abs or relu."""
    for text in ("a.T@x", "sum(A@x) + 3", "sum(abs(A@x))", "sum(relu(A@x))", "sum(abs(x))"):
        d = mc.hessian(mc.parse(text, SHAPES), "x")
        assert mc.to_text(d.result) == "0*ones(n, n)"
        for seed in range(3):
            report = d.check(seed=seed)
            assert report.ok, f"{text}: {report}"


def test_a_wrong_hessian_still_fails():
    """Next to a zero or a piecewise-constant Hessian, a wrong one of any size fails."""
    for text, wrong in (("a.T@x", "1e-3*eye(n)"), ("sum(abs(A@x))", "A.T@A"),
                        ("sum(relu(A@x)**2)", "A.T@A"), ("sum(exp(A@x))", "A.T@A")):
        d = mc.hessian(mc.parse(text, SHAPES), "x")
        assert d.check().ok, text
        d.results["x"] = mc.parse(wrong, SHAPES)
        assert not d.check().ok, f"{text} with the Hessian {wrong} passed"


def test_hessian_differences_do_not_straddle_a_kink():
    """At a point 0.02 from the kinks of sum(abs(A@x)), random directions of the largest step
    (1e-2) often cross one and the second difference is then no Hessian at all; the check
    draws directions whose corners keep every kink argument's sign (seeds 1-6 failed before)."""
    import numpy as np
    shapes = {"x": ("n",), "A": ("m", "n")}
    d = mc.hessian(mc.parse("sum(abs(A@x))", shapes), "x")
    A = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.4]])
    x = np.linalg.lstsq(A, np.array([0.02, -0.02]), rcond=None)[0].reshape(-1, 1)
    assert all(d.check(values={"A": A, "x": x}, seed=seed).ok for seed in range(10))
