"""A gradient that is exactly zero is checked against the differences' rounding noise (about
1e-13 of f), not divided by it: a bias right before batch normalisation has gradient 0, and
--check said FAILED (relative error 1e-4 of noise over noise). A wrong gradient still fails."""
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
