"""Every gradient identity of the public corpus (tests/data/public.json, a copy of
/work/shared/corpus/public.json): matcalc's gradient equals the expected expression numerically
and matches finite differences and autograd at random points honouring `assume`.

Variables are unstructured: a symbol drawn symmetric is still differentiated entry by entry, so
our gradient must equal finite differences at the drawn point (the expected form may only agree
at such points, which is why both are evaluated at the same point). The "jacobians" and
"hessians" lists are tested elsewhere.
"""
import json
import pathlib
import zlib

import numpy as np
import pytest

import matcalc as mc
from matcalc.evaluate import dimension_sizes
from checks import as_array, assert_close, assert_gradient, concrete_shape, random_values

CORPUS = json.loads((pathlib.Path(__file__).parent / "data" / "public.json").read_text())
GRADIENTS = CORPUS["gradients"]

# id -> reason for known matcalc bugs (strict xfail: fixing the bug makes the test fail loudly)
KNOWN_BUGS = {}


def params():
    out = []
    for e in GRADIENTS:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[e["id"]])] \
            if e["id"] in KNOWN_BUGS else []
        out.append(pytest.param(e, id=e["id"], marks=marks))
    return out


def shapes_of(entry):
    return {k: tuple(v) for k, v in entry["shapes"].items()}


def test_corpus_is_the_shared_copy():
    assert len(GRADIENTS) >= 40
    assert len({e["id"] for e in GRADIENTS}) == len(GRADIENTS)


@pytest.mark.parametrize("entry", params())
def test_corpus_gradient(entry):
    shapes = shapes_of(entry)
    f = mc.parse(entry["expr"], shapes)
    expected = mc.parse(entry["expected"], shapes)
    d = mc.grad(f, entry["wrt"])
    text = mc.to_text(d.result)
    reparsed = mc.parse(text, shapes)
    rng = np.random.default_rng(zlib.crc32(entry["id"].encode()))
    for trial in range(2):
        values, sizes = random_values(shapes, rng, entry.get("assume"))
        wshape = concrete_shape(shapes[entry["wrt"]], sizes)
        ours = as_array(mc.evaluate(d.result, values, sizes=dimension_sizes(f, values)), wshape)
        want = as_array(mc.evaluate(expected, values, sizes=dimension_sizes(f, values)), wshape)
        assert_close(ours, want, what=f"{entry['id']} trial {trial}: ours {text} vs expected")
        assert_close(as_array(mc.evaluate(reparsed, values, sizes=dimension_sizes(f, values)), wshape), ours,
                     what=f"re-parsed {text}")
        assert_gradient(f, entry["wrt"], d.result, values, rng=rng)
