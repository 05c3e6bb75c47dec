"""Gram products (codegen/gram.py): A.T @ diag(w) @ A is emitted as B.T @ B (syrk) exactly when
w >= 0 follows from its form, and the generated Hessians equal the closed forms."""
import numpy as np
import pytest

import matcalc as mc
import codegen
from matcalc.codegen.gram import gram_products, is_nonnegative
from matcalc.printing.text import to_text

SHAPES = {"X": ("N", "d"), "w": ("d",), "y": ("N",)}


@pytest.mark.parametrize("text, known", [
    ("sigmoid(z)", True), ("1 - sigmoid(z)", True), ("sigmoid(z)*(1 - sigmoid(z))", True),
    ("exp(z)", True), ("z**2", True), ("2*exp(z) + relu(z)", True), ("abs(z)*softplus(z)", True),
    ("z", False), ("tanh(z)", False), ("-exp(z)", False), ("1 - exp(z)", False),
    ("0.5 - sigmoid(z)", False), ("z**3", False)])
def test_nonnegative_forms(text, known):
    e = mc.parse(text, {"z": ("n",)})
    assert is_nonnegative(e, {}) is known


def hessian_source(text):
    return codegen.numpy_source(mc.hessian(mc.parse(text, SHAPES), "w"))


@pytest.mark.parametrize("text, gram", [
    ("sum(log(1 + exp(X @ w))) - y.T @ X @ w", True),      # logistic: s*(1 - s) >= 0
    ("sum(exp(X @ w))", True),                             # Poisson-like: exp >= 0
    ("sum((X @ w - y)**2)", True),                         # least squares: 2 X.T X
    ("sum(sin(X @ w))", False),                            # -sin may be negative
])
def test_gram_form_only_when_the_weight_is_nonnegative(text, gram):
    src = hessian_source(text)
    f = mc.parse(text, SHAPES)
    fn = codegen.compile(mc.hessian(f, "w"))
    rng = np.random.default_rng(3)
    X, w, y = rng.standard_normal((40, 5)), 0.3 * rng.standard_normal(5), rng.random(40)
    z = X @ w
    second = {"sum(log(1 + exp(X @ w))) - y.T @ X @ w": 1 / (1 + np.exp(-z)) * (1 - 1 / (1 + np.exp(-z))),
              "sum(exp(X @ w))": np.exp(z), "sum((X @ w - y)**2)": 2 * np.ones_like(z),
              "sum(sin(X @ w))": -np.sin(z)}[text]
    np.testing.assert_allclose(fn(X=X, w=w, y=y), X.T @ (second[:, None] * X), rtol=1e-10, atol=1e-12)
    has_gram = any(ln.strip().startswith("X_scaled = ") for ln in src.splitlines())
    if text == "sum((X @ w - y)**2)":
        has_gram = "X.T @ X" in src                        # no weight: the Gram product itself
    assert has_gram is gram, src


def test_rewrite_keeps_the_value():
    f = mc.parse("sum(log(1 + exp(X @ w))) - y.T @ X @ w", SHAPES)
    R = mc.hessian(f, "w").result
    G = gram_products(R)
    assert G != R and "X_scaled" not in to_text(G)         # Named prints as its value
    rng = np.random.default_rng(0)
    values = {"X": rng.standard_normal((7, 3)), "w": rng.standard_normal(3), "y": rng.random(7)}
    np.testing.assert_allclose(mc.evaluate(G, values), mc.evaluate(R, values), rtol=1e-12)
