"""Every printed line of every kind of derivation is a true equation (issue 10, point 1).

For a gradient (written out, and over named intermediates), a Jacobian through vec, a Hessian,
an HVP and a network's backprop, each row the derivation prints is evaluated on both sides at a
random point (tests/equations.py says how each kind of row is taken), and no two consecutive
rows are the same. The references are central differences of the function as typed, through the
independent evaluator.
"""
import numpy as np
import pytest

import matcalc as mc
from matcalc import nn
from matcalc.core import ops
from matcalc.nn.unrolled import unrolled
from matcalc.printing.text import to_text

from checks import random_values
from equations import check_rows

GRADIENTS = [
    ("x.T@A@x", {"x": ("n",), "A": ("n", "n")}, ["x"], {}),
    ("0.5*x.T@A@x", {"x": ("n",), "A": ("n", "n")}, ["x"], {}),
    ("sum(sigmoid(X@w))", {"X": ("N", "d"), "w": ("d",)}, ["w"], {}),
    ("tr(X@A@X.T)", {"X": ("n", "m"), "A": ("m", "m")}, ["X"], {}),
    ("sum((X@w - y)**2) + lam*sum(w**2)", {"X": ("N", "d"), "w": ("d",), "y": ("N",), "lam": ()},
     ["w"], {}),
    ("-sum(y*log(softmax(z)))", {"z": ("n",), "y": ("n",)}, ["z"], {}),
    ("logdet(X)", {"X": ("n", "n")}, ["X"], {"X": "invertible"}),
    ("sum(tanh(W2@tanh(W1@x + b1) + b2)**2)",
     {"W1": ("h", "n"), "W2": ("k", "h"), "x": ("n",), "b1": ("h",), "b2": ("k",)},
     ["W1", "W2", "b1"], {}),
    # shared subexpressions: derived over named intermediates
    ("sum(exp(X@w)) + sum(exp(X@w)*(X@w))", {"X": ("N", "d"), "w": ("d",)}, ["w"], {}),
    ("sum(((X - mean(X))/sqrt(mean((X - mean(X))**2) + 1))**2 * (X - mean(X)))",
     {"X": ("n", "m")}, ["X"], {}),
]

JACOBIANS = [
    ("softmax(x)", {"x": ("n",)}, "x", {}),
    ("X@X", {"X": ("n", "n")}, "X", {}),
    ("A@x", {"A": ("m", "n"), "x": ("n",)}, "x", {}),
    ("sigmoid(W@x)", {"W": ("m", "n"), "x": ("n",)}, "W", {}),
    ("A@X@B", {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "q")}, "X", {}),
]

HESSIANS = [
    ("x.T@A@x", {"x": ("n",), "A": ("n", "n")}, "x", {}),
    ("sum(log(1 + exp(-(X@w))))", {"X": ("N", "d"), "w": ("d",)}, "w", {}),
    ("sum(tanh(A@x))", {"A": ("m", "n"), "x": ("n",)}, "x", {}),
]

HVPS = [
    ("logdet(X)", {"X": ("n", "n")}, "X", {"X": "invertible"}),
    ("tr(X@A@X.T)", {"X": ("n", "m"), "A": ("m", "m")}, "X", {}),
    ("sum(sigmoid(X@w))", {"X": ("N", "d"), "w": ("d",)}, "w", {}),
]


def point(shapes, assume, seed, variables):
    rng = np.random.default_rng(seed)
    values, sizes = random_values(shapes, rng, assume=assume,
                                  sizes={d: int(rng.integers(2, 4)) for d in
                                         sorted({d for s in shapes.values() for d in s
                                                 if isinstance(d, str)})})
    direction = {x: rng.standard_normal(np.shape(values[x])) if np.ndim(values[x]) else
                 float(rng.standard_normal()) for x in variables}
    return values, sizes, direction


@pytest.mark.parametrize("text,shapes,wrt,assume", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_every_line_of_a_gradient_derivation_is_true(text, shapes, wrt, assume):
    d = mc.grad(mc.parse(text, shapes), wrt)
    values, sizes, direction = point(shapes, assume, 1, wrt)
    n = check_rows(d.lines(), values, sizes, d.variables, direction, text, shapes)
    assert n >= 3


def test_shared_subexpressions_are_derived_over_names():
    text, shapes, wrt, _ = GRADIENTS[-2]
    d = mc.grad(mc.parse(text, shapes), wrt)
    assert d.named is not None
    assert any(r.role == "definition" for r in d.lines())


@pytest.mark.parametrize("text,shapes,wrt,assume", JACOBIANS, ids=[j[0] for j in JACOBIANS])
def test_every_line_of_a_jacobian_derivation_is_true(text, shapes, wrt, assume):
    d = mc.jacobian(mc.parse(text, shapes), wrt)
    values, sizes, direction = point(shapes, assume, 2, [wrt])
    assert check_rows(d.lines(), values, sizes, d.variables, direction, text, shapes) >= 2


@pytest.mark.parametrize("text,shapes,wrt,assume", HESSIANS, ids=[h[0] for h in HESSIANS])
def test_every_line_of_a_hessian_derivation_is_true(text, shapes, wrt, assume):
    d = mc.hessian(mc.parse(text, shapes), wrt)
    values, sizes, direction = point(shapes, assume, 3, [wrt])
    rows = d.lines()
    assert rows[1].role == "gradient"               # the gradient is stated first
    assert check_rows(rows, values, sizes, d.variables, direction, text, shapes) >= 3


@pytest.mark.parametrize("text,shapes,wrt,assume", HVPS, ids=[h[0] for h in HVPS])
def test_every_line_of_an_hvp_derivation_is_true(text, shapes, wrt, assume):
    d = mc.hvp(mc.parse(text, shapes), wrt)
    values, sizes, direction = point(shapes, assume, 4, [wrt])
    values[d.direction.name] = direction[wrt]       # the direction V of the HVP
    assert check_rows(d.lines(), values, sizes, d.variables, direction, text, shapes) >= 3


def shapes_of(f):
    out = {}
    for name, s in ops.free_variables(f).items():
        if not ops.is_matrix(s):
            out[name] = ()
        elif s.shape[1] == 1:
            out[name] = (str(s.shape[0]),)
        else:
            out[name] = (str(s.shape[0]), str(s.shape[1]))
    return out


@pytest.mark.parametrize("cell,T", [("rnn", 3), ("gru", 2), ("lstm", 2)])
def test_every_line_of_an_unrolled_recurrent_cell_is_true(cell, T):
    f, wrt = unrolled(cell, T)
    d = mc.grad(f, wrt)
    assert d.named is not None
    shapes = shapes_of(f)
    values, sizes, direction = point(shapes, {}, 5, wrt)
    text = to_text(f)
    assert check_rows(d.lines(), values, sizes, d.variables, direction, text, shapes) > 10


def test_every_line_of_a_network_backprop_is_true():
    net = nn.Sequential([nn.Dense(4, 3, bias=True), nn.Tanh(), nn.Dense(3, 2, bias=False)],
                        loss=nn.SumSquaredError(), batch="N")
    bp = net.backprop()
    shapes = {"X": ("N", 4), "Y": ("N", 2), **{p: tuple(s.shape) for p, s in
                                               net.parameters.items()}}
    shapes = {k: tuple(int(d) if getattr(d, "is_Integer", False) or isinstance(d, int) else str(d)
                       for d in v) for k, v in shapes.items()}
    params = list(net.parameters)
    values, sizes, direction = point(shapes, {}, 6, params)
    rows = [r for r in bp.rows if not r.heading]
    assert check_rows(rows, values, sizes, list(net.parameters.values()), direction) > 6


@pytest.mark.parametrize("kind,role", [("gradient", "differential"), ("named", "read off"),
                                       ("named", "differential"), ("jacobian", "differential"),
                                       ("jacobian", "jacobian"), ("hessian", "hessian"),
                                       ("hvp", "hvp")])
def test_a_false_line_is_caught(kind, role):
    """The check can fail: one row of the given role, doubled on its right side, is reported."""
    from dataclasses import replace
    if kind == "named":
        text, shapes, wrt, assume = GRADIENTS[-2]
        d = mc.grad(mc.parse(text, shapes), wrt)
    else:
        table = {"gradient": GRADIENTS[2], "jacobian": JACOBIANS[3], "hessian": HESSIANS[1],
                 "hvp": HVPS[2]}[kind]
        text, shapes, wrt, assume = table
        d = {"gradient": mc.grad, "jacobian": mc.jacobian, "hessian": mc.hessian,
             "hvp": mc.hvp}[kind](mc.parse(text, shapes), wrt)
    wrt = [wrt] if isinstance(wrt, str) else wrt
    values, sizes, direction = point(shapes, assume, 7, wrt)
    if kind == "hvp":
        values[d.direction.name] = direction[wrt[0]]
    rows = d.lines()
    k = max(i for i, r in enumerate(rows) if r.role == role)
    rows[k] = replace(rows[k], rhs=ops.scale(2, rows[k].rhs))
    with pytest.raises(AssertionError):
        check_rows(rows, values, sizes, d.variables, direction, text, shapes)


def test_the_first_seeds_route_reads_off_the_jacobian_and_transposes_it():
    from matcalc.cli import main
    import io
    import contextlib
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["grad", "tr(W@A)", "--wrt", "W", "--shape", "W=n,m", "--shape", "A=m,n",
                     "--steps", "--route", "jacobian"])
    out = buf.getvalue().splitlines()
    assert code == 0
    assert out[0].startswith("Convention (the first seed's route): df = tr(J@dX)  =>  J")
    assert "=> df = tr(J@dW) with J = A   [read off the Jacobian" in out[-2]
    assert out[-1].startswith("=> df/dW = J.T = A.T")
    default = mc.grad(mc.parse("tr(W@A)", {"W": ("n", "m"), "A": ("m", "n")}), "W").text()
    assert default.splitlines()[0].startswith("Convention: df = tr(G.T@dX)  =>  df/dX = G")
    assert "=> df/dW = A.T" in default


def test_the_jacobian_route_in_latex_reads_off_j_then_transposes():
    d = mc.grad(mc.parse("tr(W@A)", {"W": ("n", "m"), "A": ("m", "n")}), "W")
    tex = d.latex(route="jacobian")
    assert "J &= A" in tex and r"\frac{\partial f}{\partial W} &= A^{T}" in tex
    assert "the first seed" in tex and "the first seed" not in d.latex()
    with pytest.raises(mc.MatcalcError):
        d.latex(route="hessian")
