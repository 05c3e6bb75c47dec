"""Issue 14: matcalc's results are first-class SymPy citizens. On every result of the public
corpus (gradients, Jacobians, Hessians), str(), sympy.latex, sympy.pretty and
sympy.lambdify(..., "numpy") work, print matcalc's functions by their names (no
`Elementwise(sigmoid, ...)`), and the lambdified function equals mc.evaluate."""
import json
import pathlib
import re
import zlib

import numpy as np
import pytest
import sympy

import matcalc as mc
from matcalc.evaluate import dimension_sizes
from matcalc.sympy_printing import LambdifyPrinter
from checks import random_values

CORPUS = json.loads((pathlib.Path(__file__).parent / "data" / "public.json").read_text())
ENTRIES = [(kind, e) for kind in ("gradients", "jacobians", "hessians") for e in CORPUS[kind]]
DERIVE = {"gradients": mc.grad, "jacobians": mc.jacobian, "hessians": mc.hessian}
CLASS_NAMES = re.compile(r"Elementwise|EntrySum|LogDet|LogSumExp|Softmax|AsScalar|MatrixPower|"
                         r"EntryMax|Norm\(|Mean\(")


SYMPY_LACKS = re.compile(r"HadamardPower|Trace|Determinant")   # SymPy's, printed by MISSING


def params():
    out = []
    for kind, e in ENTRIES:
        out.append(pytest.param(kind, e, None, id=e["id"]))        # plain sympy.lambdify
        out.append(pytest.param(kind, e, LambdifyPrinter, id=e["id"] + "-LambdifyPrinter"))
    return out


def test_the_corpus_holds_the_classes_sympy_cannot_print_itself():
    """The plain-lambdify cases above cover SymPy's three classes (the former xfails)."""
    seen = set()
    for kind, e in ENTRIES:
        result = DERIVE[kind](mc.parse(e["expr"], {k: tuple(v) for k, v in e["shapes"].items()}),
                              e["wrt"]).result
        seen |= set(SYMPY_LACKS.findall(sympy.srepr(result)))
    assert seen == {"HadamardPower", "Trace", "Determinant"}


def test_sympy_numpy_printer_gains_only_the_methods_it_lacks():
    """Each of the three is matcalc's only where SymPy has none; SymPy's own methods stay."""
    from sympy.printing.numpy import NumPyPrinter
    from matcalc import sympy_printing
    for name, method in sympy_printing.MISSING.items():
        assert getattr(NumPyPrinter, name) is method or getattr(NumPyPrinter, name).__module__ \
            .startswith("sympy.")
    assert NumPyPrinter._print_HadamardProduct.__module__.startswith("sympy.")
    X, a = sympy.MatrixSymbol("X", 3, 3), sympy.Symbol("a")
    f = sympy.lambdify([X, a], sympy.HadamardPower(X, a) + sympy.Trace(X) * sympy.Determinant(X)
                       * sympy.OneMatrix(3, 3), "numpy")
    M = np.eye(3) + 1.0
    np.testing.assert_allclose(f(M, 2.5), M ** 2.5 + np.trace(M) * np.linalg.det(M))


@pytest.mark.parametrize("kind, entry, printer", params())
def test_sympy_prints_and_lambdifies_every_result(kind, entry, printer):
    shapes = {k: tuple(v) for k, v in entry["shapes"].items()}
    f = mc.parse(entry["expr"], shapes)
    result = DERIVE[kind](f, entry["wrt"]).result
    for printed in (str(result), sympy.latex(result), sympy.pretty(result)):
        assert not CLASS_NAMES.search(printed), printed
    rng = np.random.default_rng(zlib.crc32(entry["id"].encode()))
    values, sizes = random_values(shapes, rng, entry.get("assume"))
    named = result.free_symbols | {d for s in result.atoms(sympy.MatrixSymbol) for d in s.shape}
    dims = {d: sympy.Integer(sizes[d.name]) for d in named
            if isinstance(d, sympy.Symbol) and d.name in sizes and d.name not in shapes}
    concrete = result.xreplace(dims)         # SymPy's printer needs numeric identity sizes
    symbols = sorted((s for s in concrete.atoms(sympy.MatrixSymbol, sympy.Symbol)
                      if s.name in shapes), key=lambda s: s.name)
    arrays = [np.asarray(values[s.name], dtype=float).reshape(
        tuple(int(d) for d in s.shape) if isinstance(s, sympy.MatrixSymbol) else ())
        for s in symbols]
    fn = sympy.lambdify(symbols, concrete, "numpy", printer=printer)
    got = np.asarray(fn(*arrays), dtype=float)
    want = np.asarray(mc.evaluate(result, values, sizes=dimension_sizes(f, values)), dtype=float)
    np.testing.assert_allclose(got.reshape(want.shape) if got.size == want.size else got, want,
                               rtol=1e-9, atol=1e-12)
