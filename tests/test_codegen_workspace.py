"""The opt-in workspace (codegen/workspace.py, issue 15 point 2): every intermediate written with
out= into buffers made once per input sizes and dtype and reused call after call.

Checked here against the module without the workspace (the same values and gradients, in
float64 and float32, for networks and the cookbook and public corpus gradients): two consecutive
calls with different inputs (the second is right, and the first's results are overwritten:
they are views into the same buffers), a new batch size (new buffers, right values), the
source (out= on the lines, the buffers made in one place), and the errors for the backends and
modules that have no workspace.
"""
import ast
import json
import pathlib
import zlib

import numpy as np
import pytest

import codegen
import matcalc as mc
from checks import random_values
from matcalc import nn
from matcalc.errors import MatcalcError
from test_cookbook import IDENTITIES

CORPUS = json.loads((pathlib.Path(__file__).parent / "data" / "public.json").read_text())
GRADIENTS = [(expr, shapes, wrt, assume) for _, expr, shapes, wrt, _, assume in IDENTITIES] + [
    (e["expr"], {k: tuple(v) for k, v in e["shapes"].items()}, e["wrt"], e.get("assume") or {})
    for e in CORPUS["gradients"]] + [
    # a coefficient that is a number but no Float, -2*log(2) (fuzz probe: TypeError in workspace)
    ("min(2 * x.T * log(2))", {"x": ("n",)}, "x", {}),
    ("sum(x * log(2))**2 + sum(x*tanh(1))", {"x": ("n",)}, "x", {})]
NETS = [("dense(6,5) relu dense(5,5) relu dense(5,3)", "sse"),
        ("dense(6,5) tanh dense(5,5) tanh dense(5,3)", "sse"),
        ("dense(6,5) relu dense(5,5) sigmoid dense(5,3)", "softmax_ce"),
        ("dense(6,5,bias=false) softplus dense(5,3,bias=false)", "mse")]
DTYPES = [np.float64, np.float32]


def rtol(dtype):
    return 1e-10 if dtype == np.float64 else 2e-4


def net_values(net, N, dtype, seed):
    rng = np.random.default_rng(seed)
    values = {"X": rng.standard_normal((N, int(net.X.shape[1]))),
              "Y": rng.random((N, int(net.Y.shape[1])))}
    values["Y"] /= values["Y"].sum(axis=1, keepdims=True)
    for name, p in net.parameters.items():
        shape = tuple(int(d) for d in p.shape)
        values[name] = rng.standard_normal(shape[:1] if shape[1] == 1 else shape)   # biases (n,)
    return {k: v.astype(dtype) for k, v in values.items()}


def copied(result):
    value, grads = result
    return np.array(value), {k: np.array(g) for k, g in grads.items()}


def assert_same(got, expected, dtype):
    value, grads = got
    np.testing.assert_allclose(value, expected[0], rtol=rtol(dtype))
    assert set(grads) == set(expected[1])
    for name, g in expected[1].items():
        assert grads[name].shape == g.shape and grads[name].dtype == g.dtype, name
        np.testing.assert_allclose(grads[name], g, rtol=rtol(dtype), atol=rtol(dtype) * 1e-2,
                                   err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("spec, loss", NETS, ids=[n[0] for n in NETS])
def test_network_equals_the_module_without_workspace(spec, loss, dtype):
    net = nn.from_spec(spec, loss=loss)
    plain, ws = codegen.compile(net), codegen.compile(net, workspace=True)
    first, second = net_values(net, 7, dtype, 1), net_values(net, 7, dtype, 2)
    r1 = ws(**first)
    assert_same(r1, plain(**first), dtype)
    kept = copied(r1)
    r2 = ws(**second)                          # the same buffers: right for the second inputs
    assert_same(r2, plain(**second), dtype)
    for name in r1[1]:                         # and the first call's results are overwritten
        assert np.shares_memory(r1[1][name], r2[1][name]), name
    assert any(not np.array_equal(r1[1][n], kept[1][n]) for n in kept[1])
    bigger = net_values(net, 11, dtype, 3)     # a new batch size: new buffers, right values
    r3 = ws(**bigger)
    assert_same(r3, plain(**bigger), dtype)
    assert not any(np.shares_memory(r3[1][n], r2[1][n]) for n in ("W1", "X") if n in r3[1])
    assert_same(ws(**second), plain(**second), dtype)    # back to the first size: its buffers


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("expr, shapes, wrt, assume", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_corpus_gradient_equals_the_module_without_workspace(expr, shapes, wrt, assume, dtype):
    f = mc.parse(expr, shapes)
    plain, ws = codegen.compile(f, wrt=[wrt]), codegen.compile(f, wrt=[wrt], workspace=True)
    rng = np.random.default_rng(zlib.crc32(expr.encode()))
    calls = []
    for _ in range(2):
        values, _ = random_values(shapes, rng, assume)
        calls.append({k: np.asarray(v, dtype=dtype) for k, v in values.items()})
    tol = 1e-8 if dtype == np.float64 else 2e-3
    for values in calls:                       # two calls in a row: the second reuses the buffers
        got, expected = ws(**values), plain(**values)
        np.testing.assert_allclose(got[0], expected[0], rtol=tol, atol=tol)
        for name, g in expected[1].items():
            assert got[1][name].shape == np.shape(g) and got[1][name].dtype == g.dtype, name
            np.testing.assert_allclose(got[1][name], g, rtol=tol, atol=tol * np.max(np.abs(g)),
                                       err_msg=name)


def test_source_writes_every_intermediate_into_the_workspace():
    net = nn.from_spec("dense(6,5) tanh dense(5,5) relu dense(5,3)", loss="sse")
    src = codegen.numpy_source(net, workspace=True)
    assert "_mc_workspace(dtype, N)" in src and "def _mc_workspace(dtype, N):" in src
    body = src[src.index("def backward("):src.index("def value_and_grad(")]
    lines = [ln.strip() for ln in body.splitlines()[2:] if "=" in ln and not ln.strip().startswith("#")]
    computed = [ln for ln in lines if not ln.startswith(("buf", "return"))]
    assert computed and all("out=buf" in ln for ln in computed), computed
    assert "np.greater(A2, 0.0, out=" in body            # relu's mask in a bool buffer
    assert "np.subtract(1.0, t" in body                  # tanh': 1 - A*A, no temporary array


def test_backward_reuses_dead_forward_buffers():
    """Buffers are shared by values whose lives do not overlap: fewer buffers than values."""
    net = nn.from_spec(" tanh ".join(["dense(8,8)"] * 6), loss="sse")
    src = codegen.numpy_source(net, workspace=True)
    creation = src[src.index("def _mc_workspace("):]
    assert creation.count("np.empty(") < src.count("out=buf") / 2


def test_no_workspace_without_numpy_or_for_derived_modules():
    f = mc.parse("sum(X @ w)", {"X": ("n", 3), "w": (3,)})
    with pytest.raises(MatcalcError, match="backend 'jax'"):
        codegen.numpy_source(f, wrt=["w"], backend="jax", workspace=True)
    with pytest.raises(MatcalcError, match="hessian"):
        codegen.numpy_source(mc.hessian(f, "w"), workspace=True)


def constant_buffers(src):
    """{position in the workspace tuple: "ones" | "zeros"} from the module's _mc_workspace."""
    fn = next(node for node in ast.parse(src).body
              if isinstance(node, ast.FunctionDef) and node.name == "_mc_workspace")
    made = next(node for node in ast.walk(fn) if isinstance(node, ast.Tuple) and len(node.elts) > 1
                and all(isinstance(e, ast.Call) for e in node.elts))
    return {i: e.func.attr for i, e in enumerate(made.elts) if e.func.attr in ("ones", "zeros")}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_constant_buffers_are_read_and_never_written(dtype):
    """relu is np.maximum(Z, zeros, out=...) and a bias gradient np.matmul(ones, G, out=...):
    the ones and zeros are workspace buffers made once, that no line writes (no out= names
    them) and that still hold ones and zeros after calls; the gradients are autograd's, from
    the loss written in autograd.numpy (an evaluation that shares nothing with codegen)."""
    import autograd
    import autograd.numpy as anp
    net = nn.from_spec("dense(6,5) relu dense(5,5) tanh dense(5,3)", loss="sse")
    fn = codegen.compile(net, workspace=True)
    src = fn.source
    constants = constant_buffers(src)
    assert sorted(constants.values()) == ["ones", "zeros"], src
    idents = [ln.split(" = workspace")[0].split(", ") for ln in src.splitlines()
              if ln.strip().startswith("buf") and ln.endswith("= workspace")][0]
    idents = [i.strip() for i in idents]
    names = {idents[i]: kind for i, kind in constants.items()}
    for name, kind in names.items():
        assert f"out={name}" not in src, name
    assert any(f"np.maximum(Z1, {n}, out=" in src for n, k in names.items() if k == "zeros"), src
    assert any(f"np.matmul({n}, grad_Z1, out=" in src for n, k in names.items() if k == "ones"), src
    for seed in (1, 2):
        values = net_values(net, 7, dtype, seed)
        loss, grads = fn(**values)

        def loss_of(params):
            a = values["X"]
            for k, act in ((1, lambda z: anp.maximum(z, 0.0)), (2, anp.tanh), (3, None)):
                a = anp.dot(a, params[f"W{k}"]) + params[f"b{k}"]
                a = act(a) if act else a
            return anp.sum((a - values["Y"]) ** 2)
        params = {k: np.asarray(v, np.float64) for k, v in values.items() if k not in ("X", "Y")}
        expected = autograd.grad(loss_of)(params)
        for name, g in expected.items():
            assert grads[name].dtype == dtype, name
            np.testing.assert_allclose(grads[name], g, rtol=rtol(dtype) * 10, atol=rtol(dtype),
                                       err_msg=name)
    for buffers in fn.value_and_grad.__globals__["_mc_workspaces"].values():
        for i, kind in constants.items():
            assert np.all(buffers[i] == (1.0 if kind == "ones" else 0.0)), kind
