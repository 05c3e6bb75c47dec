"""Generated code for Jacobians through vec: np.kron, column stacking, commutation matrices.

Each generated Jacobian equals the derived formula evaluated by mc.evaluate and the central
differences of vec(F) with respect to vec(X) (columns stacked), in float64.
"""
import numpy as np
import pytest

import codegen
import matcalc as mc

SIZES = {"p": 2, "n": 3, "m": 4, "q": 5}
CASES = [
    ("A @ X @ B", {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "q")}, "X", "np.kron("),
    ("X.T", {"X": ("n", "m")}, "X", "np.eye("),
    ("inv(X)", {"X": ("n", "n")}, "X", "np.kron("),
    ("W @ x", {"W": ("m", "n"), "x": ("n",)}, "W", "np.kron("),
    ("tanh(W @ x)", {"W": ("m", "n"), "x": ("n",)}, "W", "np.kron("),
    ("exp(X)", {"X": ("n", "m")}, "X", 'order="F"'),
    ("X @ X", {"X": ("n", "n")}, "X", "np.kron("),
]


def vec(a):
    a = np.asarray(a, dtype=float)
    return a.reshape(-1, 1, order="F") if a.ndim == 2 else a.reshape(-1, 1)


@pytest.mark.parametrize("text, shapes, wrt, marker", CASES, ids=[c[0] for c in CASES])
def test_generated_vec_jacobian(text, shapes, wrt, marker):
    rng = np.random.default_rng(11)
    f = mc.parse(text, shapes)
    d = mc.jacobian(f, wrt)
    values = {k: rng.standard_normal(tuple(SIZES[s] for s in v)) for k, v in shapes.items()}
    if text == "inv(X)":
        values["X"] = values["X"] + 3 * np.eye(3)
    fn = codegen.compile(d)
    assert marker in fn.source
    got = fn(**values)
    derived = mc.evaluate(d.result, values, sizes=mc.dimension_sizes(f, values))
    assert np.allclose(got, derived, rtol=1e-10, atol=1e-12)
    X0 = values[wrt]
    columns = []
    for k in range(X0.size):
        E = np.zeros(X0.size)
        E[k] = 1.0
        E = E.reshape(X0.shape, order="F")
        h = 1e-6
        plus = vec(mc.evaluate(f, {**values, wrt: X0 + h * E}))
        minus = vec(mc.evaluate(f, {**values, wrt: X0 - h * E}))
        columns.append((plus - minus)[:, 0] / (2 * h))
    fd = np.stack(columns, axis=1)
    assert got.shape == fd.shape
    assert np.allclose(got, fd, rtol=1e-6, atol=1e-7)
