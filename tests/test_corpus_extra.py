"""Every entry of tests/data/extra_corpus.json, our own corpus in the public corpus's format
(Matrix Cookbook ch. 2, Zhang's differential identification, SymPy's derivative tests,
matrixcalculus.org's examples, ML objectives; gradients, Jacobians and Hessians), run as the
judge runs it: mc.parse, mc.grad / mc.jacobian / mc.hessian, mc.to_text. The answer, and its
text parsed back, must equal the entry's `expected` and finite differences at random points
honouring `assume` (gradients also autograd, through checks.assert_gradient).

Every `expected` was checked with the shared verify_corpus.py before it was written here.
Sizes are 3..5, as in verify_corpus.py (whose smallest is 3: an n x 2 matrix X then has more rows
than columns), and points where an expression leaves its domain (the square root of a negative
inner product) are drawn again, as verify_corpus.py does.
"""
import json
import pathlib
import re
import zlib

import numpy as np
import pytest

import matcalc as mc
from matcalc.evaluate import dimension_sizes
from checks import (as_array, assert_close, assert_gradient, concrete_shape, fd_jacobian,
                    random_sizes, random_values, richardson, scalar_function)
from test_corpus import shapes_of

CORPUS = json.loads((pathlib.Path(__file__).parent / "data" / "extra_corpus.json").read_text())
KINDS = {"gradients": mc.grad, "jacobians": mc.jacobian, "hessians": mc.hessian}
TRIALS = 2
DRAWS = 50
# the functions of the corpus notation (/work/shared/NOTATION.md), and the three the judge also
# reads in an answer (step, sign, ones): an answer in matcalc's extensions (kron, vec,
# commutation, matrix_power, ...) is one the judge cannot read
CORPUS_FUNCTIONS = {"tr", "det", "logdet", "inv", "sum", "norm", "exp", "log", "sin", "cos",
                    "tanh", "sigmoid", "relu", "softplus", "sqrt", "abs", "step", "sign",
                    "softmax", "logsumexp", "diag", "eye", "ones"}

# id -> reason for known matcalc bugs (strict xfail: fixing the bug makes the test fail loudly)
KNOWN_BUGS = {}


def params():
    out = []
    for kind in KINDS:
        for e in CORPUS[kind]:
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[e["id"]])] \
                if e["id"] in KNOWN_BUGS else []
            out.append(pytest.param(kind, e, id=e["id"], marks=marks))
    return out


def test_extra_corpus_is_large_and_new():
    ids = [e["id"] for kind in KINDS for e in CORPUS[kind]]
    assert len(ids) >= 80 and len(set(ids)) == len(ids)
    assert all(CORPUS[kind] for kind in KINDS)
    public = json.loads((pathlib.Path(__file__).parent / "data" / "public.json").read_text())
    seen = {(kind, e["expr"], e["wrt"]) for kind in KINDS for e in public[kind]}
    assert not seen & {(kind, e["expr"], e["wrt"]) for kind in KINDS for e in CORPUS[kind]}


def fd_hessian(func, x, h=1e-2):
    """Second central differences of the scalar func at the column x, Richardson-extrapolated."""
    n = x.shape[0]
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            def d(hh):
                def at(si, sj):
                    y = x.copy()
                    y[i, 0] += si * hh
                    y[j, 0] += sj * hh
                    return func(y)
                return (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * hh * hh)
            H[i, j] = H[j, i] = richardson(d, h)
    return H


def valid_point(f, exprs, shapes, assume, rng):
    """values, sizes at which f and every expression in exprs evaluate to finite numbers."""
    for _ in range(DRAWS):
        values, sizes = random_values(shapes, rng, assume, random_sizes(shapes, rng, low=3))
        dims = dimension_sizes(f, values)
        with np.errstate(all="ignore"):
            if all(np.all(np.isfinite(np.asarray(mc.evaluate(e, values, sizes=dims), float)))
                   for e in [f, *exprs]):
                return values, sizes
    raise AssertionError(f"no point in the domain of {mc.to_text(f)} in {DRAWS} draws")


@pytest.mark.parametrize("kind, entry", params())
def test_extra_corpus_entry(kind, entry):
    shapes = shapes_of(entry)
    wrt = entry["wrt"]
    f = mc.parse(entry["expr"], shapes)
    expected = mc.parse(entry["expected"], shapes)
    result = KINDS[kind](f, wrt).result
    text = mc.to_text(result)
    reparsed = mc.parse(text, shapes)
    names = set(re.findall(r"(?<![\w.])[A-Za-z_]\w*", text)) - set(shapes)   # not .T, not 1e-3
    names -= {d for shp in shapes.values() for d in shp if isinstance(d, str)}
    assert names <= CORPUS_FUNCTIONS, f"{text} is outside the corpus notation"
    rng = np.random.default_rng(zlib.crc32(entry["id"].encode()))
    for trial in range(TRIALS):
        values, sizes = valid_point(f, [result, expected], shapes, entry.get("assume"), rng)
        dims = dimension_sizes(f, values)
        x = values[wrt]
        if kind == "gradients":
            shape = concrete_shape(shapes[wrt], sizes)
        elif kind == "jacobians":
            shape = (np.size(mc.evaluate(f, values, sizes=dims)), np.size(x))
        else:
            shape = (np.size(x), np.size(x))
        ours = as_array(mc.evaluate(result, values, sizes=dims), shape)
        what = f"{entry['id']} trial {trial}: ours {text}"
        assert_close(ours, as_array(mc.evaluate(expected, values, sizes=dims), shape),
                     what=f"{what} vs expected {entry['expected']}")
        assert_close(as_array(mc.evaluate(reparsed, values, sizes=dims), shape), ours,
                     what=f"{what} re-parsed")
        if kind == "gradients":
            assert_gradient(f, wrt, result, values, rng=rng)
        elif kind == "jacobians":
            fd = fd_jacobian(lambda v: mc.evaluate(f, {**values, wrt: v}, sizes=dims), x)
            assert_close(ours, fd, 1e-6, 1e-9, what=f"{what} vs finite differences")
        else:
            func = scalar_function(f, wrt, values)
            atol = 1e-8 * (1.0 + abs(func(x)))
            assert_close(ours, fd_hessian(func, x), 1e-6, atol, what=f"{what} vs finite differences")
