"""codegen over the whole identity tables: every Matrix Cookbook row of tests/test_cookbook.py and
every gradient entry of tests/data/public.json.

For each, `codegen.compile(f, wrt=[wrt])` must return the gradient that `mc.grad` derives, as
evaluated independently by `mc.evaluate` (float64, rtol 1e-6), at a random point that honours
the entry's `assume` (tests/checks.py), on two random size draws. The value must equal
`mc.evaluate(f)` too. An entry the generated code cannot handle is a strict xfail with the
reason (a fix makes it fail loudly, so the mark is then removed).
"""
import json
import pathlib
import zlib

import numpy as np
import pytest

import codegen
import matcalc as mc
from checks import as_array, assert_close, concrete_shape, random_values
from test_cookbook import IDENTITIES

RTOL = 1e-6
CORPUS = json.loads((pathlib.Path(__file__).parent / "data" / "public.json").read_text())

# (table, id) -> reason, for entries the generated code gets wrong or cannot emit
KNOWN_GAPS = {}


def rows():
    out = []
    for ident, expr, shapes, wrt, _expected, assume in IDENTITIES:
        out.append(("cookbook", ident, expr, shapes, wrt, assume))
    for e in CORPUS["gradients"]:
        shapes = {k: tuple(v) for k, v in e["shapes"].items()}
        out.append(("public", e["id"], e["expr"], shapes, e["wrt"], e.get("assume") or {}))
    params = []
    for table, ident, expr, shapes, wrt, assume in out:
        reason = KNOWN_GAPS.get((table, ident))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(expr, shapes, wrt, assume, id=f"{table}:{ident}", marks=marks))
    return params


def test_tables_are_covered():
    assert len(IDENTITIES) >= 45
    assert len(CORPUS["gradients"]) >= 40


@pytest.mark.parametrize("expr, shapes, wrt, assume", rows())
def test_generated_gradient_equals_derived_formula(expr, shapes, wrt, assume):
    f = mc.parse(expr, shapes)
    derived = mc.grad(f, wrt).result
    fn = codegen.compile(f, wrt=[wrt])
    rng = np.random.default_rng(zlib.crc32(expr.encode() + wrt.encode()))
    for _ in range(2):
        values, sizes = random_values(shapes, rng, assume)
        dims = mc.dimension_sizes(f, values)
        wshape = concrete_shape(shapes[wrt], sizes)
        value, grads = fn(**values)
        assert set(grads) == {wrt}
        assert np.shape(grads[wrt]) == np.shape(values[wrt]), "gradient not in the caller's shape"
        want = as_array(mc.evaluate(derived, values, sizes=dims), wshape)
        assert_close(as_array(grads[wrt], wshape), want, rtol=RTOL,
                     what=f"{expr} wrt {wrt}: generated vs mc.evaluate(mc.grad)")
        assert_close(as_array(value, ()), as_array(mc.evaluate(f, values, sizes=dims), ()),
                     rtol=RTOL, what=f"{expr}: generated value vs mc.evaluate")
