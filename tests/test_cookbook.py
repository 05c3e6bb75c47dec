"""Matrix Cookbook (Petersen & Pedersen, Nov 2012), chapter 2, plus classic ML objectives.

Each row is `(id, expr, shapes, wrt, expected or None, assume)`; the id carries the Cookbook
equation number. Every row is derived with `mc.grad` and checked numerically on two random size
draws: against finite differences and autograd (`checks.assert_gradient`), against `expected`
where given, and the result's text must re-parse to the same numbers.
"""
import zlib

import numpy as np
import pytest

import matcalc as mc
from matcalc.evaluate import dimension_sizes
from checks import as_array, assert_close, assert_gradient, concrete_shape, random_values

n, m, p = "n", "m", "p"
V = lambda d="n": (d,)            # noqa: E731  column vector
M = lambda a="n", b="n": (a, b)   # noqa: E731  matrix
S = ()                            # scalar

# (id, expr, shapes, wrt, expected, assume)
IDENTITIES = [
    # --- 2.4.1 first-order: linear and bilinear forms -------------------------------------
    ("cookbook-69-linear", "x.T@a", {"x": V(), "a": V()}, "x", "a", {}),
    ("cookbook-69-linear-ax", "a.T@x", {"x": V(), "a": V()}, "x", "a", {}),
    ("cookbook-70-bilinear", "a.T@X@b", {"X": M(n, m), "a": V(n), "b": V(m)}, "X", "a@b.T", {}),
    ("cookbook-71-bilinear-T", "a.T@X.T@b", {"X": M(n, m), "a": V(m), "b": V(n)}, "X",
     "b@a.T", {}),
    ("cookbook-72-aXa", "a.T@X@a", {"X": M(), "a": V()}, "X", "a@a.T", {}),
    ("cookbook-61-inverse-bilinear", "a.T@inv(X)@b", {"X": M(), "a": V(), "b": V()}, "X",
     "-inv(X).T@a@b.T@inv(X).T", {"X": "invertible"}),
    # --- 2.4.2 second-order: quadratic forms ----------------------------------------------
    ("cookbook-77-bXTXc", "b.T@X.T@X@c", {"X": M(n, m), "b": V(m), "c": V(m)}, "X",
     "X@(b@c.T + c@b.T)", {}),
    ("cookbook-78-affine-bilinear", "(B@x + b).T@C@(D@x + d)",
     {"x": V(n), "B": M(m, n), "b": V(m), "C": M(m, p), "D": M(p, n), "d": V(p)}, "x",
     "B.T@C@(D@x + d) + D.T@C.T@(B@x + b)", {}),
    ("cookbook-79-quadratic", "x.T@B@x", {"x": V(), "B": M()}, "x", "(B + B.T)@x", {}),
    ("cookbook-80-quadratic-wrt-B", "x.T@B@x", {"x": V(), "B": M()}, "B", "x@x.T", {}),
    ("cookbook-81-bXTDXc", "b.T@X.T@D@X@c", {"X": M(n, m), "D": M(n, n), "b": V(m), "c": V(m)},
     "X", "D.T@X@b@c.T + D@X@c@b.T", {}),
    ("cookbook-82-affine-quadratic", "(X@b + c).T@D@(X@b + c)",
     {"X": M(n, m), "b": V(m), "c": V(n), "D": M(n, n)}, "X", "(D + D.T)@(X@b + c)@b.T", {}),
    ("cookbook-84-weighted-residual", "(x - A@s).T@W@(x - A@s)",
     {"x": V(n), "A": M(n, m), "s": V(m), "W": M(n, n)}, "s", "-2*(A.T@W@(x - A@s))",
     {"W": "symmetric"}),
    ("cookbook-86-weighted-residual-x", "(x - A@s).T@W@(x - A@s)",
     {"x": V(n), "A": M(n, m), "s": V(m), "W": M(n, n)}, "x", "2*(W@(x - A@s))",
     {"W": "symmetric"}),
    ("cookbook-89-Ax-minus-b", "norm(A@x - b)**2", {"A": M(m, n), "x": V(n), "b": V(m)}, "x",
     "2*(A.T@(A@x - b))", {}),
    # --- 2.1.1 determinant -------------------------------------------------------------------
    ("cookbook-49-det", "det(X)", {"X": M()}, "X", "det(X)*inv(X).T", {"X": "invertible"}),
    ("cookbook-51-det-AXB", "det(A@X@B)", {"A": M(), "X": M(), "B": M()}, "X",
     "det(A@X@B)*inv(X).T", {"A": "invertible", "X": "invertible", "B": "invertible"}),
    ("cookbook-52-det-XTAX", "det(X.T@A@X)", {"X": M(n, 2), "A": M()}, "X",
     "2*det(X.T@A@X)*(A@X@inv(X.T@A@X))", {"A": "symmetric"}),
    ("cookbook-53-det-XTAX-general", "det(X.T@A@X)", {"X": M(n, 2), "A": M()}, "X",
     "det(X.T@A@X)*(A@X@inv(X.T@A@X) + A.T@X@inv(X.T@A@X).T)", {}),
    ("cookbook-54-logdet-XTX", "logdet(X.T@X)", {"X": M(n, 2)}, "X", "2*(X@inv(X.T@X))", {}),
    ("cookbook-57-logdet", "logdet(X)", {"X": M()}, "X", "inv(X).T", {"X": "invertible"}),
    ("cookbook-57-logdet-spd", "logdet(S)", {"S": M()}, "S", "inv(S).T", {"S": "spd"}),
    ("cookbook-58-det-power", "det(X)**2", {"X": M()}, "X", "2*det(X)**2*inv(X).T",
     {"X": "invertible"}),
    # --- 2.2 inverse --------------------------------------------------------------------------
    ("cookbook-63-tr-AinvXB", "tr(A@inv(X)@B)", {"A": M(m, n), "X": M(), "B": M(n, m)}, "X",
     "-(inv(X)@B@A@inv(X)).T", {"X": "invertible"}),
    ("cookbook-64-tr-inv-sum", "tr(inv(X + A))", {"X": M(), "A": M()}, "X",
     "-(inv(X + A).T@inv(X + A).T)", {"X": "spd", "A": "spd"}),
    ("cookbook-124-tr-inv", "tr(inv(X))", {"X": M()}, "X", "-(inv(X)@inv(X)).T",
     {"X": "invertible"}),
    # --- 2.5 traces ---------------------------------------------------------------------------
    ("cookbook-100-tr-XA", "tr(X@A)", {"X": M(n, m), "A": M(m, n)}, "X", "A.T", {}),
    ("cookbook-101-tr-AXB", "tr(A@X@B)", {"A": M(p, n), "X": M(n, m), "B": M(m, p)}, "X",
     "A.T@B.T", {}),
    ("cookbook-102-tr-AXTB", "tr(A@X.T@B)", {"A": M(p, m), "X": M(n, m), "B": M(n, p)}, "X",
     "B@A", {}),
    ("cookbook-103-tr-XTA", "tr(X.T@A)", {"X": M(n, m), "A": M(n, m)}, "X", "A", {}),
    ("cookbook-104-tr-AXT", "tr(A@X.T)", {"X": M(n, m), "A": M(n, m)}, "X", "A", {}),
    ("cookbook-106-tr-X2", "tr(X@X)", {"X": M()}, "X", "2*X.T", {}),
    ("cookbook-107-tr-X2B", "tr(X@X@B)", {"X": M(), "B": M()}, "X", "(X@B + B@X).T", {}),
    ("cookbook-108-tr-XTBX", "tr(X.T@B@X)", {"X": M(n, m), "B": M()}, "X", "B@X + B.T@X", {}),
    ("cookbook-109-tr-BXXT", "tr(B@X@X.T)", {"X": M(n, m), "B": M()}, "X", "B@X + B.T@X", {}),
    ("cookbook-111-tr-XBXT", "tr(X@B@X.T)", {"X": M(n, m), "B": M(m, m)}, "X",
     "X@B.T + X@B", {}),
    ("cookbook-113-tr-XTXB", "tr(X.T@X@B)", {"X": M(n, m), "B": M(m, m)}, "X",
     "X@B.T + X@B", {}),
    ("cookbook-114-tr-AXBX", "tr(A@X@B@X)", {"A": M(), "X": M(), "B": M()}, "X",
     "A.T@X.T@B.T + B.T@X.T@A.T", {}),
    ("cookbook-115-tr-XTX", "tr(X.T@X)", {"X": M(n, m)}, "X", "2*X", {}),
    ("cookbook-116-tr-BTXTCXB", "tr(B.T@X.T@C@X@B)", {"X": M(n, m), "B": M(m, p), "C": M()},
     "X", "C.T@X@B@B.T + C@X@B@B.T", {}),
    ("cookbook-117-tr-XTBXC", "tr(X.T@B@X@C)", {"X": M(n, m), "B": M(), "C": M(m, m)}, "X",
     "B@X@C + B.T@X@C.T", {}),
    ("cookbook-118-tr-AXBXTC", "tr(A@X@B@X.T@C)",
     {"A": M(p, n), "X": M(n, m), "B": M(m, m), "C": M(n, p)}, "X",
     "A.T@C.T@X@B.T + C@A@X@B", {}),
    ("cookbook-119-tr-AXBC-square", "tr((A@X@B + C)@(A@X@B + C).T)",
     {"A": M(p, n), "X": M(n, m), "B": M(m, p), "C": M(p, p)}, "X",
     "2*(A.T@(A@X@B + C)@B.T)", {}),
    ("cookbook-121-tr-X3", "tr(X@X@X)", {"X": M()}, "X", "3*(X@X).T", {}),
    ("cookbook-99-tr-X", "tr(X)", {"X": M()}, "X", "eye(n)", {}),
    ("cookbook-99-tr-scaled", "tr(c*X)", {"X": M(), "c": S}, "c", "tr(X)", {}),
    # --- 2.6 norms ----------------------------------------------------------------------------
    ("cookbook-129-frobenius-squared", "norm(X)**2", {"X": M(n, m)}, "X", "2*X", {}),
    ("cookbook-130-frobenius", "norm(X)", {"X": M(n, m)}, "X", "X/norm(X)", {}),
    ("cookbook-131-2norm-residual", "norm(x - a)", {"x": V(), "a": V()}, "x",
     "(x - a)/norm(x - a)", {}),
    # --- elementwise functions and Hadamard products ------------------------------------------
    ("elementwise-exp", "sum(exp(X))", {"X": M(n, m)}, "X", "exp(X)", {}),
    ("elementwise-log", "sum(log(X))", {"X": M(n, m)}, "X", "1/X", {"X": "positive"}),
    ("elementwise-sqrt", "sum(sqrt(x))", {"x": V()}, "x", "0.5/sqrt(x)", {"x": "positive"}),
    ("elementwise-sin-bilinear", "a.T@sin(X)@b", {"X": M(n, m), "a": V(n), "b": V(m)}, "X",
     "(a@b.T)*cos(X)", {}),
    ("elementwise-tanh", "sum(tanh(X@w))", {"X": M(n, m), "w": V(m)}, "w",
     "X.T@(1 - tanh(X@w)**2)", {}),
    ("elementwise-sigmoid", "sum(sigmoid(x))", {"x": V()}, "x",
     "sigmoid(x)*(1 - sigmoid(x))", {}),
    ("elementwise-abs", "sum(abs(X))", {"X": M(n, m)}, "X", "sign(X)", {}),
    ("elementwise-power", "sum(X**3)", {"X": M(n, m)}, "X", "3*X**2", {}),
    ("hadamard-linear", "sum(A*X)", {"A": M(n, m), "X": M(n, m)}, "X", "A", {}),
    ("hadamard-square", "sum((A*X)**2)", {"A": M(n, m), "X": M(n, m)}, "X", "2*(A*A*X)", {}),
    ("hadamard-bilinear", "a.T@(A*X*B)@b",
     {"a": V(n), "A": M(n, m), "X": M(n, m), "B": M(n, m), "b": V(m)}, "X", "(a@b.T)*A*B", {}),
    ("hadamard-division", "sum(A/X)", {"A": M(n, m), "X": M(n, m)}, "X", "-A/X**2",
     {"X": "positive"}),
    ("diag-quadratic", "tr(diag(x)@A@diag(x)@B)", {"x": V(), "A": M(), "B": M()}, "x",
     "(A*B.T)@x + (A.T*B)@x", {}),
    # --- ML objectives --------------------------------------------------------------------
    ("ml-least-squares", "norm(X@w - y)**2", {"X": M("N", "d"), "w": V("d"), "y": V("N")},
     "w", "2*(X.T@(X@w - y))", {}),
    ("ml-ridge", "norm(X@w - y)**2 + lam*norm(w)**2",
     {"X": M("N", "d"), "w": V("d"), "y": V("N"), "lam": S}, "w",
     "2*(X.T@(X@w - y)) + 2*lam*w", {"lam": "positive"}),
    ("ml-logistic", "sum(log(1 + exp(X@w))) - y.T@X@w",
     {"X": M("N", "d"), "w": V("d"), "y": V("N")}, "w", "X.T@(sigmoid(X@w) - y)", {}),
    ("ml-logistic-softplus", "sum(softplus(-y*(X@w)))",
     {"X": M("N", "d"), "w": V("d"), "y": V("N")}, "w",
     "-(X.T@(y*sigmoid(-y*(X@w))))", {}),
    ("ml-softmax-xent", "logsumexp(W@x) - y.T@W@x", {"W": M("C", "d"), "x": V("d"),
                                                       "y": V("C")}, "W",
     "(softmax(W@x) - y)@x.T", {}),
    ("ml-softmax-xent-rows", "sum(logsumexp(X@W)) - sum(Y*(X@W))",
     {"X": M("N", "d"), "W": M("d", "C"), "Y": M("N", "C")}, "W",
     "X.T@(softmax(X@W) - Y)", {}),
    ("ml-softmax-rows-weighted", "sum(A*softmax(X@W))",
     {"X": M("N", "d"), "W": M("d", "C"), "A": M("N", "C")}, "W", None, {}),
    ("ml-relu-net-W2", "sum((relu(X@W1)@W2 - Y)**2)",
     {"X": M("N", "d"), "W1": M("d", "h"), "W2": M("h", "k"), "Y": M("N", "k")}, "W2",
     "relu(X@W1).T@(2*(relu(X@W1)@W2 - Y))", {}),
    ("ml-relu-net-W1", "sum((relu(X@W1)@W2 - Y)**2)",
     {"X": M("N", "d"), "W1": M("d", "h"), "W2": M("h", "k"), "Y": M("N", "k")}, "W1",
     "X.T@((2*(relu(X@W1)@W2 - Y)@W2.T)*step(X@W1))", {}),
    ("ml-bias-broadcast", "sum(tanh(X@W + b.T))",
     {"X": M("N", "d"), "W": M("d", "k"), "b": V("k")}, "b",
     "(1 - tanh(X@W + b.T)**2).T@ones(N)", {}),
    ("ml-gaussian-loglik", "-0.5*c*logdet(S) - 0.5*tr(inv(S)@M)",
     {"S": M(), "M": M(), "c": S}, "S", "-0.5*c*inv(S) + 0.5*(inv(S)@M@inv(S))",
     {"S": "spd", "M": "spd", "c": "positive"}),
]

# id -> reason, for identities matcalc currently gets wrong (strict: a fix makes them fail)
KNOWN_BUGS = {}


def params():
    out = []
    for row in IDENTITIES:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[row[0]])] \
            if row[0] in KNOWN_BUGS else []
        out.append(pytest.param(*row, marks=marks, id=row[0]))
    return out


def test_table_is_large_and_ids_unique():
    assert len(IDENTITIES) >= 45
    assert len({row[0] for row in IDENTITIES}) == len(IDENTITIES)


@pytest.mark.parametrize("ident, expr, shapes, wrt, expected, assume", params())
def test_cookbook_identity(ident, expr, shapes, wrt, expected, assume):
    f = mc.parse(expr, shapes)
    d = mc.grad(f, wrt)
    text = mc.to_text(d.result)
    reparsed = mc.parse(text, shapes)
    want = mc.parse(expected, shapes) if expected is not None else None
    rng = np.random.default_rng(zlib.crc32(ident.encode()))
    for draw in range(2):
        values, sizes = random_values(shapes, rng, assume)
        wshape = concrete_shape(shapes[wrt], sizes)
        ours = as_array(mc.evaluate(d.result, values, sizes=dimension_sizes(f, values)), wshape)
        assert_gradient(f, wrt, d.result, values, rng=rng)
        if want is not None:
            assert_close(ours, as_array(mc.evaluate(want, values, sizes=dimension_sizes(f, values)), wshape),
                         what=f"{ident}: derived {text} vs expected {expected}")
        assert_close(as_array(mc.evaluate(reparsed, values, sizes=dimension_sizes(f, values)), wshape), ours,
                     what=f"{ident}: re-parsed text {text}")
