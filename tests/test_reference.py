"""The reference evaluator (matcalc/reference.py) on hand-computed examples.

The fuzzer trusts `reference.evaluate_text` as its second opinion, so the reference itself is
checked here against numbers worked out by hand (small integer matrices, known function values):
every operator, every function, precedence, the one broadcasting rule, the 1 x 1-as-scalar rule,
and the refusals (anything outside the notation, shape errors, values that do not fit). It also
checks that the reference imports no other matcalc module and that autograd differentiates
through it. It does not test matcalc's engine.
"""
import ast
import math
import pathlib

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

from matcalc import reference
from matcalc.reference import NotationError, TooDeep, evaluate_text

SHAPES = {"a": (), "c": (), "x": ("n",), "y": ("n",), "z": ("k",), "A": ("n", "n"),
          "B": ("n", "n"), "X": ("n", "m"), "b": ("m",), "Z": ("k", "n")}
VALUES = {
    "a": 2.0, "c": -3.0,
    "x": np.array([1.0, 2.0]), "y": np.array([[3.0], [-1.0]]),
    "A": np.array([[1.0, 2.0], [3.0, 4.0]]), "B": np.array([[2.0, 0.0], [1.0, 1.0]]),
    "X": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), "b": np.array([10.0, 20.0, 30.0]),
}
LN3, LN2 = math.log(3.0), math.log(2.0)


def ev(text, values=None, shapes=SHAPES, **kw):
    return evaluate_text(text, shapes, VALUES if values is None else values, **kw)


def at(text, points, **kw):
    """Evaluate text with the vector z bound to `points` (k = len(points)), as a flat list."""
    return np.ravel(evaluate_text(text, {"z": ("k",)}, {"z": np.array(points, dtype=float)}, **kw))


# ---- operators ----------------------------------------------------------------------------------
OPERATOR_CASES = [
    ("x.T@y", 1.0),                                    # 1*3 + 2*(-1)
    ("A@x", [[5.0], [11.0]]),
    ("x.T@A@x", 27.0),                                 # [1 2] @ [5 11]
    ("A*B", [[2.0, 0.0], [3.0, 4.0]]),
    ("A/2", [[0.5, 1.0], [1.5, 2.0]]),
    ("2/A", [[2.0, 1.0], [2.0 / 3.0, 0.5]]),
    ("A/A", [[1.0, 1.0], [1.0, 1.0]]),
    ("A + 1", [[2.0, 3.0], [4.0, 5.0]]),
    ("1 - A", [[0.0, -1.0], [-2.0, -3.0]]),
    ("a*A", [[2.0, 4.0], [6.0, 8.0]]),
    ("A*a", [[2.0, 4.0], [6.0, 8.0]]),
    ("A - a", [[-1.0, 0.0], [1.0, 2.0]]),
    ("-A", [[-1.0, -2.0], [-3.0, -4.0]]),
    ("+x", [[1.0], [2.0]]),
    ("A.T", [[1.0, 3.0], [2.0, 4.0]]),
    ("(A@B).T", [[4.0, 10.0], [2.0, 4.0]]),            # A@B = [[4, 2], [10, 4]]
    ("A.T.T", [[1.0, 2.0], [3.0, 4.0]]),
    ("a.T", 2.0),
    ("a*c + 1", -5.0),
    ("a/c", -2.0 / 3.0),
    ("2", 2.0),
    ("1e-3*x", [[1e-3], [2e-3]]),
    (".5*a", 1.0),
]

BROADCAST_CASES = [
    ("X + b.T", [[11.0, 22.0, 33.0], [14.0, 25.0, 36.0]]),
    ("b.T + X", [[11.0, 22.0, 33.0], [14.0, 25.0, 36.0]]),
    ("b.T - X", [[9.0, 18.0, 27.0], [6.0, 15.0, 24.0]]),
    ("X - b.T", [[-9.0, -18.0, -27.0], [-6.0, -15.0, -24.0]]),
    ("(X + b.T).T", [[11.0, 14.0], [22.0, 25.0], [33.0, 36.0]]),
]

ONE_BY_ONE_CASES = [
    ("(x.T@x)*A", [[5.0, 10.0], [15.0, 20.0]]),        # x.T@x = 5 scales A
    ("A*(x.T@x)", [[5.0, 10.0], [15.0, 20.0]]),
    ("(x.T@x) + A", [[6.0, 7.0], [8.0, 9.0]]),
    ("A - x.T@x", [[-4.0, -3.0], [-2.0, -1.0]]),
    ("A/(x.T@x)", [[0.2, 0.4], [0.6, 0.8]]),
    ("(x.T@x)/x", [[5.0], [2.5]]),
    ("sqrt(x.T@x + 4)", 3.0),
    ("tr(x.T@x)", 5.0),
    ("exp(x.T@y - 1)", 1.0),
    ("(x.T@x)@y.T", [[15.0, -5.0]]),                   # stays 1 x 1 as an operand of @
    ("y.T@(x@x.T)@x", 5.0),                            # (y.T@x) * (x.T@x) = 1 * 5
    ("(x.T@x)*(y.T@y)", 50.0),
    ("a*(x.T@x)", 10.0),
    ("(a*(x.T@x))@y.T", [[30.0, -10.0]]),              # a scalar times a 1 x 1 is 1 x 1
    ("exp(0*(x.T@x))@y.T", [[3.0, -1.0]]),             # f(1 x 1) is 1 x 1
    ("x.T@x + y.T@y", 15.0),
    ("x.T@x + 1", 6.0),
]

PRECEDENCE_CASES = [
    ("x.T@x - x.T@x*2", -5.0),        # (x.T@x)*2: @ and * are left to right
    ("2*x.T@x", 10.0),                # (2*x.T)@x
    ("-a**2", -4.0),                  # -(a**2)
    ("(-a)**2", 4.0),
    ("A - B - B", [[-3.0, 2.0], [1.0, 2.0]]),
    ("A - (B - B)", [[1.0, 2.0], [3.0, 4.0]]),
    ("A/A/2", [[0.5, 0.5], [0.5, 0.5]]),
    ("1 + 2*3", 7.0),
    ("2**3**2", 512.0),               # right-associative: 2**9
    ("-x.T@y", -1.0),
]

POWER_CASES = [
    ("A**2", [[1.0, 4.0], [9.0, 16.0]]),
    ("x**-1", [[1.0], [0.5]]),
    ("x**(-1)", [[1.0], [0.5]]),
    ("x**-(2)", [[1.0], [0.25]]),
    ("x**0.5", [[1.0], [math.sqrt(2.0)]]),
    ("x**(1/2)", [[1.0], [math.sqrt(2.0)]]),
    ("x**2**2", [[1.0], [16.0]]),
    ("x**(2*1.5)", [[1.0], [8.0]]),
    ("x**(3 - 1)", [[1.0], [4.0]]),
    ("-x**2", [[-1.0], [-4.0]]),
    ("(-x)**2", [[1.0], [4.0]]),
    ("(-x)**3", [[-1.0], [-8.0]]),
    ("x**0", [[1.0], [1.0]]),
    ("(x**2)**0.5", [[1.0], [2.0]]),
    ("a**-1", 0.5),
    ("(x.T@x)**2", 25.0),
    ("2**3", 8.0),
]


@pytest.mark.parametrize("text, expected", OPERATOR_CASES + BROADCAST_CASES + ONE_BY_ONE_CASES
                         + PRECEDENCE_CASES + POWER_CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_hand_computed(text, expected):
    got = ev(text)
    if np.ndim(expected) == 0:
        assert np.ndim(got) == 0, f"{text} should be a scalar, got shape {np.shape(got)}"
    else:
        assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


def test_scalar_results_are_scalars():
    assert isinstance(ev("x.T@y"), (float, np.floating))
    assert isinstance(ev("a"), (float, np.floating))
    assert np.ndim(ev("tr(A)")) == 0


def test_fractional_power_of_a_negative_base_is_nan():
    with np.errstate(invalid="ignore"):
        got = ev("(-x)**0.5")
        assert np.all(np.isnan(got))
        assert np.isnan(ev("c**0.5"))


def test_division_by_a_zero_scalar_is_inf_not_an_exception():
    with np.errstate(divide="ignore"):
        assert ev("1/(a - a)") == np.inf


def test_vectors_may_be_flat_or_columns():
    flat = ev("A@x", {**VALUES, "x": np.array([1.0, 2.0])})
    column = ev("A@x", {**VALUES, "x": np.array([[1.0], [2.0]])})
    np.testing.assert_array_equal(flat, column)
    assert flat.shape == (2, 1)


# ---- functions ----------------------------------------------------------------------------------
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
ELEMENTWISE_CASES = [
    ("exp(z)", [0.0, 1.0], [1.0, math.e]),
    ("log(z)", [1.0, math.e], [0.0, 1.0]),
    ("sin(z)", [0.0, math.pi / 2], [0.0, 1.0]),
    ("cos(z)", [0.0, math.pi], [1.0, -1.0]),
    ("tan(z)", [0.0, math.pi / 4], [0.0, 1.0]),
    ("tanh(z)", [0.0, 1.0], [0.0, (math.e ** 2 - 1) / (math.e ** 2 + 1)]),
    ("arctan(z)", [0.0, 1.0], [0.0, math.pi / 4]),
    ("arcsin(z)", [0.0, 0.5], [0.0, math.pi / 6]),
    ("arccos(z)", [1.0, 0.5], [0.0, math.pi / 3]),
    ("sqrt(z)", [4.0, 9.0], [2.0, 3.0]),
    ("abs(z)", [-2.0, 0.0, 3.0], [2.0, 0.0, 3.0]),
    ("sign(z)", [-2.0, 0.0, 3.0], [-1.0, 0.0, 1.0]),
    ("log1p(z)", [0.0, 1.0, 1e-20], [0.0, LN2, 1e-20]),
    ("sigmoid(z)", [0.0, LN3, -1000.0, 1000.0], [0.5, 0.75, 0.0, 1.0]),
    ("relu(z)", [-1.0, 0.0, 2.0], [0.0, 0.0, 2.0]),
    ("softplus(z)", [0.0, LN3, 1000.0, -1000.0], [LN2, math.log(4.0), 1000.0, 0.0]),
    ("step(z)", [-1.0, 0.0, 2.0], [0.0, 0.0, 1.0]),
    ("softsign(z)", [1.0, -3.0, 0.0], [0.5, -0.75, 0.0]),
    ("gelu(z)", [0.0, 1.0],
     [0.0, 0.5 * (1.0 + math.tanh(SQRT_2_OVER_PI * (1.0 + 0.044715)))]),
]


@pytest.mark.parametrize("text, points, expected", ELEMENTWISE_CASES,
                         ids=[c[0] for c in ELEMENTWISE_CASES])
@pytest.mark.parametrize("xp", [np, anp], ids=["numpy", "autograd"])
def test_elementwise(text, points, expected, xp):
    np.testing.assert_allclose(at(text, points, xp=xp), expected, rtol=1e-14, atol=1e-300)


def test_kinked_functions_keep_nan():
    """relu and step of NaN are NaN (not 0), so a NaN upstream is seen and the case skipped."""
    got = at("relu(z) + step(z)", [math.nan, 1.0])
    assert math.isnan(got[0]) and got[1] == 2.0


@pytest.mark.parametrize("xp", [np, anp])
def test_kinked_functions_are_plus_zero_below_the_kink(xp):
    """relu(x) and step(x) of a negative x are +0, not -0 (0.0 * x): 1/relu(x) is +inf there,
    as matcalc's evaluate has it, not -inf, which logsumexp then dropped (fuzz seed 207)."""
    x = np.array([-0.9, -2.0, 0.5])
    for text in ("relu(x)", "step(x)"):
        out = np.ravel(evaluate_text(text, {"x": ("n",)}, {"x": x}, xp=xp))
        assert not np.any(np.signbit(out)), text
    P = np.ones((2, 3))
    shapes = {"P": ("n", "m"), "b": ("m",)}
    with np.errstate(divide="ignore"):
        ratio = evaluate_text("P / relu(b.T)", shapes, {"P": P, "b": x}, xp=xp)
        assert np.all(np.asarray(ratio)[:, :2] == np.inf)
        with np.errstate(invalid="ignore"):       # not finite: the trust checks skip the point
            assert not np.any(np.isfinite(evaluate_text("logsumexp(P / relu(b.T))", shapes,
                                                        {"P": P, "b": x}, xp=xp)))


def test_elementwise_of_a_scalar_is_a_scalar():
    assert ev("exp(0*a)") == 1.0
    assert ev("relu(c)") == 0.0


MATRIX_FUNCTION_CASES = [
    ("tr(A)", 5.0),
    ("det(A)", -2.0),                                  # 1*4 - 2*3
    ("logdet(A)", LN2),                                # log |det A|
    ("logdet(B)", LN2),
    ("inv(A)", [[-2.0, 1.0], [1.5, -0.5]]),
    ("inv(A)@A", [[1.0, 0.0], [0.0, 1.0]]),
    ("sum(A)", 10.0),
    ("sum(x)", 3.0),
    ("sum(a)", 2.0),
    ("norm(x)", math.sqrt(5.0)),
    ("norm(A)", math.sqrt(30.0)),
    ("norm(c)", 3.0),
    ("mean(X)", 3.5),
    ("max(A)", 4.0),                                   # the functions users reach for
    ("min(A)", 1.0),
    ("ismax(A - A.T)", [[0.0, 0.0], [1.0, 0.0]]),       # where max(A - A.T) is
    ("maximum(A, 2.5)", [[2.5, 2.5], [3.0, 4.0]]),
    ("max(A, A.T)", [[1.0, 3.0], [3.0, 4.0]]),
    ("minimum(A, A.T)", [[1.0, 2.0], [2.0, 4.0]]),
    ("min(2.5, A)", [[1.0, 2.0], [2.5, 2.5]]),
    ("clip(A, 1.5, 3.5)", [[1.5, 2.0], [3.0, 3.5]]),
    ("norm1(-A)", 10.0),
    ("norm2(x)", math.sqrt(5.0)),
    ("norm(x, 1)", 3.0),
    ("norm(A, 2)", math.sqrt(30.0)),
    ("mean(a)", 2.0),
    ("diag(x)", [[1.0, 0.0], [0.0, 2.0]]),
    ("diag(A)", [[1.0], [4.0]]),
    ("diag(diag(A))", [[1.0, 0.0], [0.0, 4.0]]),
    ("diag(x.T@y)", 1.0),                              # a 1 x 1 value is a scalar
    ("eye(n)", [[1.0, 0.0], [0.0, 1.0]]),
    ("eye(3)", np.eye(3).tolist()),
    ("ones(n)", [[1.0], [1.0]]),
    ("ones(n, m)", [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]),
    ("ones(1, m)", [[1.0, 1.0, 1.0]]),
    ("ones(n).T@x", 3.0),
    ("A + eye(n)", [[2.0, 2.0], [3.0, 5.0]]),
    ("matrix_power(A, 0)", [[1.0, 0.0], [0.0, 1.0]]),
    ("matrix_power(A, 1)", [[1.0, 2.0], [3.0, 4.0]]),
    ("matrix_power(A, 2)", [[7.0, 10.0], [15.0, 22.0]]),
    ("matrix_power(A, 3)", [[37.0, 54.0], [81.0, 118.0]]),
    ("kron(A, eye(2))", [[1, 0, 2, 0], [0, 1, 0, 2], [3, 0, 4, 0], [0, 3, 0, 4]]),
    ("kron(x, y)", [[3.0], [-1.0], [6.0], [-2.0]]),
    ("kron(x.T, A)", [[1.0, 2.0, 2.0, 4.0], [3.0, 4.0, 6.0, 8.0]]),
    ("vec(X)", [[1.0], [4.0], [2.0], [5.0], [3.0], [6.0]]),
    ("vec(X.T)", [[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]]),
    ("commutation(n, m)@vec(X)", [[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]]),
    ("commutation(m, n)@vec(X.T)", [[1.0], [4.0], [2.0], [5.0], [3.0], [6.0]]),
    ("commutation(n, m)@vec(X) - vec(X.T)", [[0.0]] * 6),
]


@pytest.mark.parametrize("text, expected", MATRIX_FUNCTION_CASES,
                         ids=[c[0] for c in MATRIX_FUNCTION_CASES])
@pytest.mark.parametrize("xp", [np, anp], ids=["numpy", "autograd"])
def test_matrix_functions(text, expected, xp):
    got = ev(text, xp=xp)
    if np.ndim(expected) == 0:
        assert np.ndim(got) == 0
    else:
        assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_commutation_matrix_is_a_permutation():
    K = ev("commutation(n, m)")
    assert K.shape == (6, 6)
    np.testing.assert_array_equal(K.sum(axis=0), np.ones(6))
    np.testing.assert_array_equal(K.sum(axis=1), np.ones(6))
    np.testing.assert_array_equal(K.T, ev("commutation(m, n)"))


def test_a_dimension_used_only_in_eye_comes_from_sizes():
    np.testing.assert_array_equal(ev("ones(q)", sizes={"q": 4}), np.ones((4, 1)))
    assert ev("tr(eye(q))", sizes={"q": 4}) == 4.0


SOFTMAX_Z = np.array([[0.0, LN3], [0.0, 0.0], [1000.0, 1000.0]])
SOFTMAX_CASES = [
    ("softmax(z)", {"z": ("k",)}, {"z": np.array([0.0, LN3])}, [[0.25], [0.75]]),
    ("softmax(z)", {"z": ("k",)}, {"z": np.array([1000.0, 1000.0])}, [[0.5], [0.5]]),
    ("logsumexp(z)", {"z": ("k",)}, {"z": np.array([0.0, LN3])}, math.log(4.0)),
    ("logsumexp(z)", {"z": ("k",)}, {"z": np.array([1000.0, 1000.0])}, 1000.0 + LN2),
    ("softmax(Z)", {"Z": ("N", "C")}, {"Z": SOFTMAX_Z}, [[0.25, 0.75], [0.5, 0.5], [0.5, 0.5]]),
    ("logsumexp(Z)", {"Z": ("N", "C")}, {"Z": SOFTMAX_Z},
     [[math.log(4.0)], [LN2], [1000.0 + LN2]]),
    ("softmax(z.T)", {"z": ("k",)}, {"z": np.array([0.0, LN3])}, [[0.25, 0.75]]),   # one row
    ("logsumexp(z.T)", {"z": ("k",)}, {"z": np.array([0.0, LN3])}, math.log(4.0)),
    # convolution in matrix notation: the signal 1 2 3 padded to 0 1 2 3 0, windows of 2, stride 2
    ("im2col(X, 1, 1, 3, 1, 2, 1, 2, 0, 1)", {"X": (1, 3)}, {"X": np.array([[1.0, 2.0, 3.0]])},
     [[0.0, 1.0], [2.0, 3.0]]),
    ("im2col(X, 1, 2, 2, 2, 2, 1, 1, 0, 0)", {"X": (4, 1)}, {"X": np.array([[1.0], [2.0], [3.0], [4.0]])},
     [[1.0, 2.0, 3.0, 4.0]]),                                      # the whole image: a flatten
    ("col2im(G, 1, 1, 3, 1, 2, 1, 2, 0, 1, 3)", {"G": (2, 2)},     # 1 falls in the padding
     {"G": np.array([[1.0, 2.0], [3.0, 4.0]])}, [[2.0, 3.0, 4.0]]),
    ("blockmax(P, 2)", {"P": (1, 4)}, {"P": np.array([[1.0, 5.0, 3.0, 2.0]])}, [[3.0, 5.0]]),
    ("blockargmax(P, 3)", {"P": (1, 6)}, {"P": np.array([[1.0, 5.0, 3.0, 5.0, 3.0, 2.0]])},
     [[0.0, 0.5, 0.5, 0.5, 0.5, 0.0]]),                           # a tie of two shares: 1/2 each
    # concatenation: rows (concat), columns (hconcat); the shapes add, n + 1 rows here
    ("concat(X, z.T)", {"X": ("n", "k"), "z": ("k",)},
     {"X": np.array([[1.0, 2.0]]), "z": np.array([3.0, 4.0])}, [[1.0, 2.0], [3.0, 4.0]]),
    ("hconcat(z, z) @ concat(z.T, z.T)", {"z": ("k",)}, {"z": np.array([1.0, 2.0])},
     [[2.0, 4.0], [4.0, 8.0]]),
]


@pytest.mark.parametrize("text, shapes, values, expected", SOFTMAX_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SOFTMAX_CASES)])
def test_softmax_and_logsumexp(text, shapes, values, expected):
    got = evaluate_text(text, shapes, values)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_every_function_of_the_table_is_tested():
    texts = [c[0] for c in ELEMENTWISE_CASES + MATRIX_FUNCTION_CASES + SOFTMAX_CASES]
    called = {n.func.id for text in texts for n in ast.walk(ast.parse(text, mode="eval"))
              if isinstance(n, ast.Call)}
    assert reference.FUNCTIONS <= called, sorted(reference.FUNCTIONS - called)


# ---- autograd differentiates through the reference ----------------------------------------------
def test_autograd_gradient_of_a_quadratic_form():
    A = VALUES["A"]

    def f(x):
        return evaluate_text("x.T@A@x", SHAPES, {"x": x, "A": A}, xp=anp)
    x = np.array([[1.0], [2.0]])
    np.testing.assert_allclose(autograd.grad(f)(x), (A + A.T) @ x, rtol=1e-14)


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@pytest.mark.parametrize("text, derivative", [
    ("sum(sigmoid(z))", lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    ("sum(softplus(z))", lambda z: 1 / (1 + np.exp(-z))),
    ("sum(relu(z))", lambda z: (z > 0).astype(float)),
    ("sum(step(z))", lambda z: 0 * z),
    ("sum(softsign(z))", lambda z: 1 / (1 + np.abs(z)) ** 2),
    ("sum(abs(z))", lambda z: np.sign(z)),
    ("sum(log1p(z**2))", lambda z: 2 * z / (1 + z ** 2)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_autograd_derivatives_of_elementwise_functions(text, derivative):
    z = np.array([-1.5, -0.25, 0.0, 0.5, 2.0])

    def f(v):
        return evaluate_text(text, {"z": ("k",)}, {"z": v}, xp=anp)
    np.testing.assert_allclose(autograd.grad(f)(z).ravel(), derivative(z), rtol=1e-12, atol=1e-15)


def test_autograd_gradient_of_logdet_and_row_softmax():
    S = np.array([[2.0, 0.5], [0.3, 1.0]])

    def f(M):
        return evaluate_text("logdet(M)", {"M": ("n", "n")}, {"M": M}, xp=anp)
    np.testing.assert_allclose(autograd.grad(f)(S), np.linalg.inv(S).T, rtol=1e-12)

    def g(Z):
        return evaluate_text("sum(logsumexp(Z))", {"Z": ("N", "C")}, {"Z": Z}, xp=anp)
    Z = np.array([[0.0, LN3], [1.0, 1.0]])
    np.testing.assert_allclose(autograd.grad(g)(Z), [[0.25, 0.75], [0.5, 0.5]], rtol=1e-12)


# ---- refusals -----------------------------------------------------------------------------------
REFUSALS = [
    ("x.shape", "attribute access .shape"),
    ("x.__class__", "attribute access .__class__"),
    ("A.T.real", "attribute access .real"),
    ("foo(x)", "unknown function 'foo'"),
    ("x(A)", "unknown function 'x'"),
    ("np.exp(x)", "only the functions of the notation"),
    ("__import__('os').system('id')", "only the functions of the notation"),
    ("exp('x')", "is not a number of the notation"),
    ("'x'", "is not a number of the notation"),
    ("x[0]", "a subscript is not part of the notation"),
    ("(lambda: x)()", "only the functions of the notation"),
    ("lambda: x", "a lambda is not part of the notation"),
    ("sum(x, axis=0)", "no keywords"),
    ("sum(*x)", "no keywords or *args"),
    ("x < y", "a comparison"),
    ("x and y", "a boolean operator"),
    ("x if a else y", "a conditional expression"),
    ("x, y", "a tuple"),
    ("[x]", "a list"),
    ("{x: y}", "a dict"),
    ("{x}", "a set"),
    ("f'{x}'", "an f-string"),
    ("(q := x)", "an assignment expression"),
    ("x // y", "the operator //"),
    ("x % y", "the operator %"),
    ("~x", "the operator ~"),
    ("not x", "the operator not"),
    ("1j*x", "1j is not a number"),
    ("True*x", "True is not a number"),
    ("None", "None is not a number"),
    ("0x10*x", "0x10 is not a number"),
    ("1_000*x", "1_000 is not a number"),
    ("1e999*x", "too large"),
    ("x**A", "shape mismatch in **"),
    ("x**b.T", "shape mismatch in **"),
    ("x**(1/0)", "does not evaluate"),
    ("x**(9.0**999)", "does not evaluate"),
    ("x**((-8)**(1/3))", "not a finite real number"),
    ("q + x", "undeclared symbol 'q'"),
    ("tr", "needs its arguments in parentheses"),
    ("tr(A, B)", "takes one argument"),
    ("kron(A)", "kron() takes two arguments"),
    ("eye(q)", "unknown dimension 'q'"),
    ("eye(0)", "a dimension is a declared name or a positive integer"),
    ("eye(2.5)", "a dimension is a declared name or a positive integer"),
    ("ones(n, m, n)", "takes 1 to 2 dimensions"),
    ("matrix_power(A, -1)", "non-negative integer literal"),
    ("matrix_power(A, 1.5)", "non-negative integer literal"),
    ("matrix_power(A, n)", "non-negative integer literal"),
    ("matrix_power(X, 2)", "matrix_power() needs a square matrix, got n x m"),
    ("", "not an expression of the notation"),
    ("x +", "not an expression of the notation"),
    ("x @@ y", "not an expression of the notation"),
    ("x ** ", "not an expression of the notation"),
    ("α + x", "ASCII"),
    # shape errors name the operation and both shapes
    ("x + X", "shape mismatch in +: n x 1 + n x m"),
    ("X - x", "shape mismatch in -: n x m - n x 1"),
    ("x.T + x", "shape mismatch in +: 1 x n + n x 1"),
    ("x * X", "shape mismatch in *: n x 1 * n x m"),
    ("X / A", "shape mismatch in /: n x m / n x n"),
    ("A @ X.T", "shape mismatch in @: n x n @ m x n"),
    ("x @ y", "shape mismatch in @: n x 1 @ n x 1"),
    ("a @ x.T", "@ needs matrices, but its left operand is a scalar"),
    ("x.T @ 2", "@ needs matrices, but its right operand is a scalar"),
    ("sum(x)@x.T", "@ needs matrices, but its left operand is a scalar"),
    ("X + b", "shape mismatch in +: n x m + m x 1"),           # only rows broadcast
    ("x + b.T", "shape mismatch in +: n x 1 + 1 x m"),         # no outer broadcasting
    ("X * b", "shape mismatch in *: n x m * m x 1"),           # rows broadcast in *, not columns
    ("tr(X)", "tr() needs a square matrix, got n x m"),
    ("tr(a)", "tr() needs a square matrix, got scalar"),
    ("det(x)", "det() needs a square matrix, got n x 1"),
    ("inv(X)", "inv() needs a square matrix"),
    ("logdet(X)", "logdet() needs a square matrix"),
    ("diag(x.T)", "diag() needs a column vector or a square matrix, got 1 x n"),
    ("diag(a)", "diag() needs a column vector or a square matrix, got scalar"),
    ("softmax(a)", "softmax() needs a vector or a matrix, got scalar"),
    ("ones(n) + ones(2)", "shape mismatch in +: n x 1 + 2 x 1"),  # names and integers differ
    ("vec(a)", "vec() needs a matrix"),
]


@pytest.mark.parametrize("text, message", REFUSALS, ids=[c[0] or "empty" for c in REFUSALS])
def test_refuses(text, message):
    with pytest.raises(NotationError) as info:
        ev(text)
    assert message in str(info.value)


def test_refuses_a_text_that_is_not_a_string():
    with pytest.raises(NotationError, match="must be a string"):
        evaluate_text(3, SHAPES, VALUES)


def test_symbol_names_may_not_be_function_names():
    with pytest.raises(NotationError, match="bad symbol name 'exp'"):
        evaluate_text("exp", {"exp": ()}, {"exp": 1.0})


@pytest.mark.parametrize("values, message", [
    ({"x": np.ones(3), "A": np.eye(2)}, "n = 2, but n = 3 elsewhere"),
    ({"x": np.ones((2, 2)), "A": np.eye(2)}, "x is n x 1, got shape (2, 2)"),
    ({"a": np.ones(2)}, "a is a scalar, got an array of shape (2,)"),
    ({"A": np.eye(2)}, "no value given for 'x'"),
])
def test_values_must_fit_the_shapes(values, message):
    text = "x.T@A@x" if "x" in values or "A" in values else "a"
    with pytest.raises(NotationError) as info:
        evaluate_text(text, SHAPES, values)
    assert message in str(info.value)


def test_integer_dimensions_are_checked():
    with pytest.raises(NotationError, match="got shape"):
        evaluate_text("sum(v)", {"v": (3,)}, {"v": np.ones(4)})
    assert evaluate_text("sum(v)", {"v": (3,)}, {"v": np.ones(3)}) == 3.0


@pytest.mark.parametrize("text", ["-" * 5000 + "x", "(" * 300 + "x" + ")" * 300,
                                  "x" + " + x" * 20000, "exp(" * 500 + "x" + ")" * 500])
def test_too_deep_is_its_own_error(text):
    with pytest.raises(TooDeep, match="too deep for the reference evaluator"):
        ev(text)
    assert issubclass(TooDeep, NotationError)


# ---- independence -------------------------------------------------------------------------------
def test_reference_imports_no_other_matcalc_module():
    source = pathlib.Path(reference.__file__).read_text()
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            imported.add(node.module.split(".")[0])
    assert imported <= {"ast", "math", "re", "numpy"}, imported


def test_reference_never_evaluates_text():
    tree = ast.parse(pathlib.Path(reference.__file__).read_text())
    called = {n.func.id for n in ast.walk(tree)
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_a_size_written_as_digits_is_a_size():
    """--shape X=3,3 gives the sizes as text; the reference reads them (it once refused them,
    and the check fell back to matcalc's own evaluator: tests/test_cli.py)."""
    assert evaluate_text("tr(X)", {"X": ("3", "3")}, {"X": np.eye(3)}) == 3.0
