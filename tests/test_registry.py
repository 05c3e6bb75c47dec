"""The function registry (matcalc/core/functions.py), checked record by record.

For every function of the notation: its rule against finite differences (on a matrix and on a
scalar argument), the identity its docstring states against what the rule builds, its NumPy
spelling against its array evaluation, its array evaluation against the independent reference
evaluator (matcalc/reference.py, which has its own definition of every function), the round
trip parse(to_text(e)) == e, and that its LaTeX uses only standard amsmath commands (KaTeX and
MathJax render them). A new record is checked by adding it; nothing else to list.
"""
import re

import numpy as np
import pytest

import matcalc as mc
from matcalc import reference
from matcalc.core import functions, ops
from matcalc.core.nodes import Differential, ScalarDifferential

from rule_lab import P, SHAPES, differential_error, function_sample, point

RECORDS = sorted(functions.FUNCTIONS.values(), key=lambda r: r.name)
ELEMENTWISE = [r for r in RECORDS if r.kind == "elementwise"]
AMSMATH = {"left", "right", "operatorname", "mathrm", "mathbf", "frac", "sqrt", "sigma", "tanh",
           "exp", "log", "sin", "cos", "tan", "arctan", "arcsin", "arccos", "det", "odot",
           "oslash", "circ", "otimes", "lVert", "rVert", "times", "text", "lambda", "cdot", "max"}


def ids(record):
    return record.name


@pytest.mark.parametrize("record", RECORDS, ids=ids)
def test_rule_matches_finite_differences(record):
    assert differential_error(function_sample(record), record.domain) < 1e-6


@pytest.mark.parametrize("record", ELEMENTWISE, ids=ids)
def test_rule_on_a_scalar_argument(record):
    assert differential_error(function_sample(record, scalar=True), record.domain) < 1e-6


@pytest.mark.parametrize("record", RECORDS, ids=ids)
def test_identity_is_what_the_rule_builds(record):
    if record.kind == "elementwise":
        X = mc.parse("X", {"X": ("n", "m")})
        built = record.rule(X, functions.apply(record.notation, X))
        stated = f"{record.name}'(X) = {text(built)}"
    else:                     # the docstring's own placeholder: d(logdet(A)), d(softmax(z)), ...
        name = re.match(r"d\(\w+\((\w+)\)\)", record.identity).group(1)
        shape = ("n",) if name.islower() else ("N", "C") if name == "Z" else ("n", "n")
        node = functions.apply(record.notation, mc.parse(name, {name: shape}))
        built = record.rule(node, lambda c: Differential(c) if ops.is_matrix(c) else ScalarDifferential(c))
        stated = f"d({record.notation}({name})) = {text(built)}"
    assert record.identity == stated


def text(e):
    """The notation, with a zero matrix written 0 as the identities write it."""
    return "0" if ops.is_zero(e) else mc.to_text(e)


@pytest.mark.parametrize("record", RECORDS, ids=ids)
def test_numpy_spelling_equals_the_array_evaluation(record):
    rng = np.random.default_rng(11)
    at = point(rng, record.domain)
    node = function_sample(record)
    arg = at[node.arg.name]
    namespace = {"np": np, "x": arg, "a": arg + 1.0, "b": 1.0}
    if record.helper:
        exec(record.helper, namespace)            # the helper a generated module defines
    spelled = eval(record.spell(record.numpy, "x", "x"), namespace)
    np.testing.assert_allclose(spelled, record.array(np, arg), rtol=1e-12)
    # an argument printed as a sum must stay one argument wherever the template puts it
    spelled = eval(record.spell(record.numpy, "a - b", "(a - b)"), namespace)
    np.testing.assert_allclose(spelled, record.array(np, arg), rtol=1e-12)


@pytest.mark.parametrize("record", RECORDS, ids=ids)
def test_array_evaluation_equals_the_independent_reference(record):
    rng = np.random.default_rng(12)
    at = point(rng, record.domain)
    node = function_sample(record)
    text = mc.to_text(node)
    want = reference.evaluate_text(text, SHAPES, at)
    got = mc.evaluate(node, at)
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-12)
    assert record.notation in reference.FUNCTIONS


@pytest.mark.parametrize("record", RECORDS, ids=ids)
def test_round_trip(record):
    samples = [function_sample(record), ops.scale(2, function_sample(record))]
    if record.kind == "elementwise":
        samples += [function_sample(record, scalar=True),
                    ops.matmul(ops.transpose(function_sample(record)), P("X"))]
    for e in samples:
        assert mc.parse(mc.to_text(e), SHAPES) == e, mc.to_text(e)


@pytest.mark.parametrize("record", RECORDS, ids=ids)
def test_latex_uses_standard_amsmath_only(record):
    e = function_sample(record)
    texts = [mc.latex(e)]
    if record.kind == "elementwise":
        X = P("Z")
        texts.append(mc.latex(record.rule(X, e)))
    for tex in texts:
        commands = set(re.findall(r"\\([A-Za-z]+)", tex))
        assert commands <= AMSMATH, (tex, commands - AMSMATH)
        assert tex.count("{") == tex.count("}")


def test_every_function_has_a_builder():
    for name in functions.names():
        assert callable(getattr(mc, name))
