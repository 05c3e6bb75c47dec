"""Jacobians through vec (matcalc/jacobian.py VEC_RULES, matcalc/vec.py): d vec F = J d vec X.

Every Jacobian is checked against two references, in float64 with rtol 1e-6 on random sizes:
central finite differences of vec(F) with respect to vec(X), both column-major, and HIPS
autograd's jacobian of the same expression evaluated with xp=autograd.numpy. vec, kron and
commutation are matcalc extensions (NOTATION.md spells neither), so their printing, parsing and
evaluation are tested here too.
"""
import io

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import matcalc as mc
from checks import fd_jacobian, random_values
from matcalc.cli import run
from matcalc import jacobian, latex
from matcalc.core.vec import commutation_array

RTOL = 1e-6


# ---- references -------------------------------------------------------------------------------
def draw_values(shapes, assume, rng):
    """name -> float64 array (vectors as n x 1), each dimension a random size in 2..5."""
    return random_values(shapes, rng, assume)[0]


def vec_np(A):
    """vec: the columns stacked (column-major), as a flat array."""
    return np.reshape(np.asarray(A, float), (-1,), order="F")


def unvec(v, shape):
    return np.reshape(v, shape, order="F")


def central_vec_jacobian(F, X, h=1e-5):
    """J[:, k] = d vec F / d vec(X)[k] by Richardson-extrapolated central differences."""
    return fd_jacobian(F, X, h)


def autograd_vec_jacobian(f, values, wrt):
    """autograd's jacobian of vec F w.r.t. X, reordered so that columns follow vec(X)."""
    def vec_F(X):
        return anp.reshape(mc.evaluate(f, {**values, wrt: X}, xp=anp), (-1,), order="F")
    X = values[wrt]
    J = autograd.jacobian(vec_F)(X)                  # P x n x m, X's index (i, j) C-ordered
    return np.transpose(J, (0, 2, 1)).reshape(J.shape[0], -1)   # column k = i + j*n


def assert_close(actual, expected, what):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(np.abs(expected).max(), 1.0)
    err = np.abs(actual - expected).max() / scale
    assert err < RTOL, f"{what}: relative error {err:.2e}"


def check_vec_jacobian(text, shapes, wrt, assume=None, seed=0, trials=2):
    f = mc.parse(text, shapes)
    d = jacobian(f, wrt)
    J = d.result
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        values = draw_values(shapes, assume, rng)
        sizes = mc.dimension_sizes(f, values)
        got = np.asarray(mc.evaluate(J, values, sizes=sizes), float)
        X = values[wrt]
        P = np.asarray(mc.evaluate(f, values)).size
        assert got.shape == (P, X.size), f"J of {text} is {got.shape}, not {(P, X.size)}"

        def F(X_):
            return mc.evaluate(f, {**values, wrt: X_})
        assert_close(got, central_vec_jacobian(F, X), f"J of {text} vs finite differences")
        assert_close(got, autograd_vec_jacobian(f, values, wrt), f"J of {text} vs autograd")
    return d


# ---- the cases ----------------------------------------------------------------------------------
MAT = {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "q"), "C": ("n", "m"), "S": ("n", "n"),
       "W": ("m", "n"), "x": ("n",), "y": ("k",), "b": ("n",), "c": ("m",), "M": ("n", "n")}

CASES = [
    # id, expression, wrt, expected text (None: numbers only), assume
    ("kronecker-AXB", "A @ X @ B", "X", "kron(B.T, A)", None),
    ("inverse", "inv(S)", "S", "-kron(inv(S).T, inv(S))", {"S": "spd"}),
    ("transpose-commutation", "X.T", "X", "commutation(n, m)", None),
    ("linear-map-wrt-matrix", "W @ x", "W", "kron(x.T, eye(m))", None),
    ("square", "S @ S", "S", "kron(eye(n), S) + kron(S.T, eye(n))", None),
    ("hadamard-constant", "X * C", "X", "diag(vec(C))", None),
    ("elementwise-exp", "exp(X)", "X", "diag(vec(exp(X)))", None),
    ("tanh-layer-wrt-weights", "tanh(W @ x)", "W", "diag(1 - tanh(W@x)**2)@kron(x.T, eye(m))", None),
    ("outer-product-of-vector", "x @ y.T", "x", "kron(y, eye(n))", None),
    ("inverse-applied", "inv(S) @ b", "S", "-kron(b.T@inv(S).T, inv(S))", {"S": "spd"}),
    ("gram", "X.T @ X", "X", None, None),
    ("AXB-wrt-A", "A @ X @ B", "A", None, None),
    ("vector-of-matrix-column", "X @ c", "X", "kron(c.T, eye(n))", None),
    ("row-of-matrix", "b.T @ X", "X", None, None),
    ("sigmoid-masked", "sigmoid(M @ X) * C", "X", None, None),
    ("elementwise-power", "X**3 - 2*X", "X", None, None),
    ("scalar-coefficient", "tr(X.T @ X) * X", "X", None, None),
    ("inverse-transposed", "inv(S).T @ M", "S", None, {"S": "spd"}),
    ("row-softmax", "softmax(X)", "X", None, None),
    ("diag-of-vector-times-matrix", "diag(x) @ M", "x", None, None),
    ("diag-of-diag", "diag(diag(S)) @ M", "S", None, None),
    ("identity", "X", "X", "kron(eye(m), eye(n))", None),
    ("sandwich-with-transpose", "B.T @ X.T @ M", "X", None, None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_vec_jacobian_matches_references(case):
    _, text, wrt, expected, assume = case
    shapes = {k: v for k, v in MAT.items()}
    d = check_vec_jacobian(text, shapes, wrt, assume)
    if expected is not None:
        assert mc.to_text(d.result) == expected


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_text_round_trip_and_latex(case):
    _, text, wrt, _, _ = case
    f = mc.parse(text, MAT)
    d = jacobian(f, wrt)
    assert mc.parse(mc.to_text(d.result), MAT) == d.result
    tex = d.latex()
    assert tex.startswith("\\begin{aligned}") and tex.rstrip().endswith("\\end{aligned}")
    assert latex(d.result) in tex


def test_kronecker_latex():
    d = jacobian(mc.parse("A @ X @ B", MAT), "X")
    assert mc.to_text(d.raw["X"]) == "kron(B.T, A)"
    tex = d.latex()
    assert r"B^{T} \otimes A" in tex and r"\operatorname{vec}\left(\mathrm{d}X\right)" in tex
    assert [s.rule for s in d.steps] == ["product rule",
                                         "identification through vec (Kronecker identity)",
                                         "read off J"]
    assert d.steps[-1].identity == "vec(d(A@X@B)) = J@vec(dX)  =>  J"


def test_commutation_latex():
    assert latex(jacobian(mc.parse("X.T", MAT), "X").result) == "K_{n,m}"


# ---- the nodes: evaluation of vec and the commutation matrix ------------------------------------
def test_commutation_matrix_transposes_vec():
    rng = np.random.default_rng(3)
    for n, m in [(2, 3), (3, 2), (4, 4), (1, 5)]:
        A = rng.standard_normal((n, m))
        assert np.array_equal(commutation_array(n, m) @ vec_np(A), vec_np(A.T))


def test_vec_and_kron_evaluate_like_numpy():
    rng = np.random.default_rng(4)
    values = draw_values(MAT, None, rng)
    got = mc.evaluate(mc.parse("kron(B.T, A) @ vec(X)", MAT), values)
    expected = vec_np(values["A"] @ values["X"] @ values["B"]).reshape(-1, 1)
    assert_close(got, expected, "kron(B.T, A)@vec(X) = vec(A@X@B)")
    K = mc.evaluate(mc.parse("commutation(n, m) @ vec(X)", MAT), values)
    assert_close(K, vec_np(values["X"].T).reshape(-1, 1), "K@vec(X) = vec(X.T)")


def test_kron_takes_two_arguments():
    with pytest.raises(mc.ParseError, match="takes 2 arguments, got 1"):
        mc.parse("kron(A)", MAT)
    with pytest.raises(mc.ParseError, match="takes 2 arguments, got 3"):
        mc.parse("kron(A, B, X)", MAT)


# ---- the command line ---------------------------------------------------------------------------
ARGS = ["jacobian", "A @ X @ B", "--wrt", "X", "--shape", "A=p,n", "--shape", "X=n,m",
        "--shape", "B=m,q"]


def test_cli_prints_kronecker_form():
    out = io.StringIO()
    assert run(ARGS, out) == 0
    assert out.getvalue() == "kron(B.T, A)\n"


def test_cli_latex():
    out = io.StringIO()
    assert run(ARGS + ["--latex"], out) == 0
    assert r"B^{T} \otimes A" in out.getvalue()


def test_cli_steps():
    out = io.StringIO()
    assert run(ARGS + ["--steps"], out) == 0
    assert "vec(A@dX@B) = kron(B.T, A)" in out.getvalue()


def test_cli_check_through_vec():
    out = io.StringIO()
    assert run(ARGS + ["--check"], out) == 0
    assert out.getvalue().splitlines()[1].endswith(": ok")


@pytest.mark.parametrize("case", CASES[:10], ids=[c[0] for c in CASES[:10]])
def test_derivation_check_through_vec(case):
    _, text, wrt, _, _ = case
    report = jacobian(mc.parse(text, MAT), wrt).check()
    assert report.ok, str(report)


# ---- each rule's docstring states what the rule builds ------------------------------------------
