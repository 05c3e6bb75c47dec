"""codegen for other array libraries (codegen/backends.py): the same module over JAX, PyTorch
and the array API standard (array-api-compat) gives the NumPy module's values and gradients,
keeps float32 as float32, and reads like the NumPy one. A backend whose library is not
installed is skipped, naming the library."""
import importlib
import json
import pathlib
import zlib

import numpy as np
import pytest

import codegen
import matcalc as mc
from checks import random_values
from matcalc import nn
from matcalc.codegen.backends import BACKENDS
from matcalc.errors import MatcalcError

CORPUS = json.loads((pathlib.Path(__file__).parent / "data" / "public.json").read_text())
EXPRESSIONS = [(e["expr"], {k: tuple(v) for k, v in e["shapes"].items()}, e["wrt"], e.get("assume") or {})
               for e in CORPUS["gradients"]]
NETS = [("dense(6,5) relu dense(5,5) sigmoid dense(5,3)", "sse"),
        ("dense(6,5) tanh dense(5,3)", "softmax_ce"),
        ("dense(6,5,bias=false) softplus dense(5,3,bias=false)", "mse")]
OTHERS = ["jax", "torch", "array_api"]


def library(backend):
    """The backend's array module (skipping the test when its library is not installed)."""
    name = BACKENDS[backend].library
    try:
        importlib.import_module(name)
    except ImportError:
        pytest.skip(f"{name} is not installed (backend {backend!r})")
    if backend == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
    return name


def to_backend(backend, value):
    if backend == "jax":
        import jax.numpy as jnp
        return jnp.asarray(value)
    if backend == "torch":
        import torch
        return torch.from_numpy(np.array(value))
    return np.asarray(value)                       # array_api: NumPy arrays through the compat layer


def to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach()
    return np.asarray(value)


def compare(fn_numpy, fn_other, values, backend, rtol=1e-9):
    value, grads = fn_numpy(**values)
    other_value, other_grads = fn_other(**{k: to_backend(backend, v) for k, v in values.items()})
    np.testing.assert_allclose(to_numpy(other_value), value, rtol=rtol)
    assert set(other_grads) == set(grads)
    for name, g in grads.items():
        got = to_numpy(other_grads[name])
        assert got.shape == np.shape(g), name
        np.testing.assert_allclose(got, g, rtol=rtol, atol=1e-12, err_msg=name)


def net_values(net, dtype=np.float64):
    rng = np.random.default_rng(5)
    values = {"X": rng.standard_normal((4, 6)), "Y": rng.random((4, 3))}
    values["Y"] /= values["Y"].sum(axis=1, keepdims=True)
    for name, p in net.parameters.items():
        values[name] = rng.standard_normal(tuple(int(d) for d in p.shape))
    return {k: v.astype(dtype) for k, v in values.items()}


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("spec, loss", NETS, ids=[n[0] for n in NETS])
def test_network_equals_numpy(backend, spec, loss):
    library(backend)
    net = nn.from_spec(spec, loss=loss)
    compare(codegen.compile(net), codegen.compile(net, backend=backend), net_values(net), backend)


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("expr, shapes, wrt, assume", EXPRESSIONS, ids=[e[0] for e in EXPRESSIONS])
def test_corpus_gradient_equals_numpy(backend, expr, shapes, wrt, assume):
    library(backend)
    f = mc.parse(expr, shapes)
    values, _ = random_values(shapes, np.random.default_rng(zlib.crc32(expr.encode())), assume)
    values = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    compare(codegen.compile(f, wrt=[wrt]), codegen.compile(f, wrt=[wrt], backend=backend), values,
            backend, rtol=1e-7)


@pytest.mark.parametrize("backend", OTHERS)
def test_float32_stays_float32(backend):
    library(backend)
    net = nn.from_spec(NETS[0][0])
    fn = codegen.compile(net, backend=backend)
    values = {k: to_backend(backend, v) for k, v in net_values(net, np.float32).items()}
    loss, grads = fn(**values)
    assert str(loss.dtype).endswith("float32")
    assert all(str(g.dtype).endswith("float32") for g in grads.values()), \
        {k: g.dtype for k, g in grads.items()}


@pytest.mark.parametrize("backend", OTHERS)
def test_source_imports_only_its_library_and_writes_nothing_in_place(backend):
    src = codegen.numpy_source(nn.from_spec(NETS[0][0]), backend=backend)
    assert "import numpy" not in src and "np." not in src.replace("jnp.", "")
    assert "out=" not in src
    assert BACKENDS[backend].imports[-1] in src


def test_numpy_is_the_default_backend():
    net = nn.from_spec(NETS[0][0])
    assert codegen.numpy_source(net, backend="numpy") == codegen.numpy_source(net)


def test_unknown_backend_and_derived_modules_are_clear_errors():
    net = nn.from_spec(NETS[0][0])
    with pytest.raises(MatcalcError, match="unknown backend 'cupy'; backends: numpy, jax, torch, array_api"):
        codegen.numpy_source(net, backend="cupy")
    f = mc.parse("sum(exp(X @ w))", {"X": ("N", "d"), "w": ("d",)})
    with pytest.raises(MatcalcError, match="hessian module is generated for NumPy only"):
        codegen.numpy_source(mc.hessian(f, "w"), backend="jax")


def test_cli_backend_option(capsys):
    from matcalc.cli import main
    assert main(["codegen", "--net", "dense(4,3) relu dense(3,2)", "--backend", "torch"]) == 0
    src = capsys.readouterr().out
    assert "import torch" in src and "torch.clamp_min(" in src
    assert main(["codegen", "sum(exp(X @ w))", "--wrt", "w", "--shape", "X=N,d", "--shape", "w=d",
                 "--kind", "hessian", "--backend", "jax"]) == 2
    assert "generated for NumPy only" in capsys.readouterr().err
