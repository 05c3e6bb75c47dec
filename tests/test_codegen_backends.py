"""codegen for other array libraries (codegen/backends.py): the same module over JAX, PyTorch
and the array API standard (array-api-compat) gives the NumPy module's values and gradients,
and, for Jacobians, Hessians and HVPs, the NumPy module's result and HIPS autograd's of the
function evaluated independently (mc.evaluate over autograd.numpy); it keeps float32 as float32
in every local, and reads like the NumPy one. A backend whose library is not installed is
skipped, naming the library."""
import importlib
import json
import pathlib
import sys
import zlib

import numpy as np
import pytest

import codegen
import matcalc as mc
from checks import random_values
from test_codegen_derived import CASES as DERIVED_CASES, LOGISTIC, autograd_reference, draw, shapes_of
from test_codegen_vec import CASES as VEC_CASES, SIZES as VEC_SIZES
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
    if isinstance(value, float):                   # a Python number stays one
        return value
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
def test_source_imports_only_its_library_and_writes_in_place_only_in_torch(backend):
    src = codegen.numpy_source(nn.from_spec(NETS[0][0]), backend=backend)
    assert "import numpy" not in src and "np." not in src.replace("jnp.", "")
    assert BACKENDS[backend].imports[-1] in src
    if backend != "torch":
        assert "out=" not in src                    # JAX arrays are immutable; no out= in the standard
        return
    # torch writes into dead buffers of its own, as the NumPy module does (passes.in_place)
    for line in ("Z1 = torch.add(Z1, b1.T, out=Z1)", "A1 = torch.clamp_min(Z1, 0.0, out=Z1)",
                 "A2 = torch.sigmoid(Z2)", "grad_Z1 = torch.mul(grad_A1, (A1 > 0), out=grad_A1)",
                 "y_pred_minus_Y = torch.sub(y_pred, Y, out=y_pred)"):
        assert line in src, line


@pytest.mark.parametrize("spec, loss", NETS, ids=[n[0] for n in NETS])
def test_torch_in_place_leaves_the_arguments_alone(spec, loss):
    """Tensors share memory with the caller's arrays (torch.from_numpy): the in-place lines
    write only into buffers the module made, and predict equals NumPy's."""
    library("torch")
    import torch
    net = nn.from_spec(spec, loss=loss)
    values = net_values(net)
    tensors = {k: torch.from_numpy(v.copy()) for k, v in values.items()}
    fn = codegen.compile(net, backend="torch")
    assert "out=" in fn.source
    fn(**tensors)
    for k, v in values.items():
        np.testing.assert_array_equal(tensors[k].numpy(), v, err_msg=k)
    args = {k: v for k, v in tensors.items() if k != "Y"}
    np.testing.assert_allclose(fn.predict(**args).numpy(),
                               codegen.compile(net).predict(**{k: values[k] for k in args}), rtol=1e-12)
    for k, v in values.items():
        np.testing.assert_array_equal(tensors[k].numpy(), v, err_msg=k)


def test_numpy_is_the_default_backend():
    net = nn.from_spec(NETS[0][0])
    assert codegen.numpy_source(net, backend="numpy") == codegen.numpy_source(net)


def test_unknown_backend_is_a_clear_error():
    net = nn.from_spec(NETS[0][0])
    with pytest.raises(MatcalcError, match="unknown backend 'cupy'; backends: numpy, jax, torch, array_api"):
        codegen.numpy_source(net, backend="cupy")


def test_cli_backend_option(capsys):
    from matcalc.cli import main
    assert main(["codegen", "--net", "dense(4,3) relu dense(3,2)", "--backend", "torch"]) == 0
    src = capsys.readouterr().out
    assert "import torch" in src and "torch.clamp_min(" in src
    assert main(["codegen", "sum(exp(X @ w))", "--wrt", "w", "--shape", "X=N,d", "--shape", "w=d",
                 "--kind", "hessian", "--backend", "jax"]) == 0
    src = capsys.readouterr().out
    assert "import jax.numpy as jnp" in src and "def hessian(X, w):" in src and "np." not in \
        src.replace("jnp.", "")


# ---- Jacobians, Hessians and HVPs ----------------------------------------------------------------
# every case of test_codegen_derived (the public corpus's Jacobians and Hessians, classic
# objectives, HVPs) and the Jacobians through vec of test_codegen_vec (kron, column stacking,
# commutation matrices, a diagonal of vec)
DERIVED = [(cid, kind, text, shapes_of(shapes), wrt, assume)
           for cid, kind, text, shapes, wrt, assume in DERIVED_CASES] + \
          [(f"vec {text}", "jacobian", text, shapes, wrt, {}) for text, shapes, wrt, _ in VEC_CASES]


def derived_values(case, d, rng, dtype=np.float64):
    cid, kind, text, shapes, wrt, assume = case
    if cid.startswith("vec "):
        values = {k: rng.standard_normal(tuple(VEC_SIZES[s] for s in v)) for k, v in shapes.items()}
        if text == "inv(X)":
            values["X"] = values["X"] + 3 * np.eye(3)
    else:
        values = draw({k: (list(v) if v is not None else None) for k, v in shapes.items()}, assume, rng)
    if kind == "hvp":
        values[d.direction.name] = rng.standard_normal(np.shape(values[wrt]))
    return {k: (np.asarray(v, dtype) if np.ndim(v) else float(v)) for k, v in values.items()}


def autograd_vec(kind, f, values, wrt, direction):
    """autograd's Jacobian / Hessian / HVP of f, evaluated independently (mc.evaluate over
    autograd.numpy), in matcalc's convention: d vec F = J @ d vec X, columns stacked."""
    out = np.asarray(autograd_reference(kind, f, values, wrt, direction), float)
    if kind != "jacobian":
        return out
    F, x = np.asarray(mc.evaluate(f, values)), np.asarray(values[wrt])
    if F.ndim == 2 and x.ndim == 2:          # dF[i, j]/dX[k, l] -> row i + p*j, column k + n*l
        return out.transpose(1, 0, 3, 2).reshape(F.size, x.size)
    return out.reshape(F.size, x.size)


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("case", DERIVED, ids=[c[0] for c in DERIVED])
def test_derived_equals_numpy_and_autograd(backend, case):
    library(backend)
    cid, kind, text, shapes, wrt, assume = case
    f = mc.parse(text, shapes)
    d = {"jacobian": mc.jacobian, "hessian": mc.hessian, "hvp": mc.hvp}[kind](f, wrt)
    fn = codegen.compile(d, backend=backend)
    assert f"def {kind}(" in fn.source and BACKENDS[backend].imports[-1] in fn.source
    values = derived_values(case, d, np.random.default_rng(zlib.crc32(cid.encode())))
    expected = codegen.compile(d)(**values)
    got = to_numpy(fn(**{k: to_backend(backend, v) for k, v in values.items()}))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    auto = autograd_vec(kind, f, {k: v for k, v in values.items() if k != getattr(d.direction, "name", None)},
                        wrt, values.get(getattr(d.direction, "name", None)))
    np.testing.assert_allclose(got, auto.reshape(got.shape), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", OTHERS)
def test_jax_derived_is_jitted(backend):
    library(backend)
    d = mc.hessian(mc.parse(*LOGISTIC), "w")
    fn = codegen.compile(d, backend=backend)
    assert (backend == "jax") == hasattr(fn.entry, "lower")       # a jax.jit-compiled function
    assert fn.hessian.__name__ == "hessian"


@pytest.mark.parametrize("backend", OTHERS)
def test_gram_hessian_is_one_syrk_product_in_every_backend(backend):
    """The logistic Hessian X.T @ diag(s*(1 - s)) @ X as X_scaled.T @ X_scaled (gram.py), with no
    diagonal matrix formed, in every backend's spelling."""
    src = codegen.numpy_source(mc.hessian(mc.parse(*LOGISTIC), "w"), backend=backend)
    xp = BACKENDS[backend].xp
    body = src.split("def hessian(")[1].split("\ndef ")[0]
    assert f"X_scaled = {xp}.sqrt(Xw_sigmoid * (1.0 - Xw_sigmoid)) * X" in body
    assert "H = X_scaled.T @ X_scaled" in body
    assert "diagflat" not in body and ".eye(" not in body and body.count("@") == 2


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("text, shapes, wrt, marker", [
    ("(x - a)/norm(x - a)", {"x": ("n",), "a": ("n",)}, "x", "eye(n)/norm(x - a)"),
    ("softmax(x)", {"x": ("n",)}, "x", "diag(softmax(x))"),
], ids=["identity", "diag"])
def test_diagonal_terms_are_added_to_the_result(backend, text, shapes, wrt, marker):
    """A Jacobian eye(n)/r - u@u.T/r**3 adds its diagonal to the fresh result: in place where the
    library allows (NumPy, torch), by a new array in JAX (.at[].add) and the array API."""
    src = codegen.numpy_source(mc.jacobian(mc.parse(text, shapes), wrt), backend=backend)
    assert f"# the diagonal term {marker}" in src
    spelled = {"jax": "J = J.at[jnp.diag_indices(n)].add(", "torch": "torch.diagonal(J).add_(",
               "array_api": "J = J + "}[backend]
    assert spelled in src
    assert "diagflat" not in src


VEC_SPELLINGS = {"jax": ('.reshape(-1, 1, order="F")', "jnp.kron("),
                 "torch": (".T.reshape(-1, 1)", "[:, None, :, None] *"),
                 "array_api": ("xp.reshape(", "[:, None, :, None] *")}


@pytest.mark.parametrize("backend", OTHERS)
def test_vec_and_kron_spelled_for_the_library(backend):
    vec_src = codegen.numpy_source(mc.jacobian(mc.parse("exp(X)", {"X": ("n", "m")}), "X"), backend=backend)
    kron_src = codegen.numpy_source(mc.jacobian(mc.parse("A @ X @ B", {"A": ("p", "n"), "X": ("n", "m"),
                                                                        "B": ("m", "q")}), "X"), backend=backend)
    vec, kron = VEC_SPELLINGS[backend]
    assert vec in vec_src and kron in kron_src
    for src in (vec_src, kron_src):
        assert "np." not in src.replace("jnp.", "")
        if backend != "jax":
            assert 'order="F"' not in src


def float64_locals(call):
    """(function, local) of every float64 value a generated function holds (sys.setprofile; for
    JAX under jit the locals are tracers, traced on this first call)."""
    found = []

    def is_float64(v):     # a Python number that jax.jit traced is weakly typed: it promotes nothing
        weak = getattr(getattr(v, "aval", None), "weak_type", False)
        return str(getattr(v, "dtype", "")).endswith("float64") and not weak

    def profile(frame, event, arg):
        if event == "return" and frame.f_code.co_filename == "<matcalc codegen>" \
                and not frame.f_code.co_name.startswith("_mc"):
            for name, value in list(frame.f_locals.items()) + [("<returned>", arg)]:
                for v in (value if isinstance(value, (tuple, list)) else
                          value.values() if isinstance(value, dict) else (value,)):
                    if is_float64(v):
                        found.append((frame.f_code.co_name, name))
    sys.setprofile(profile)
    try:
        out = call()
    finally:
        sys.setprofile(None)
    return sorted(set(found)), out


FLOAT32_DERIVED = [c for c in DERIVED if c[0] in (
    "logistic", "ridge", "softmax", "logdet-hvp", "logistic-hvp-X", "jac-009", "vec A @ X @ B",
    "vec X.T", "vec exp(X)", "vec inv(X)", "relu-network")]


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("case", FLOAT32_DERIVED, ids=[c[0] for c in FLOAT32_DERIVED])
def test_derived_float32_stays_float32(backend, case):
    """float32 inputs: the result is float32, and so is every local of the generated function."""
    library(backend)
    cid, kind, text, shapes, wrt, assume = case
    d = {"jacobian": mc.jacobian, "hessian": mc.hessian, "hvp": mc.hvp}[kind](mc.parse(text, shapes), wrt)
    values = derived_values(case, d, np.random.default_rng(7), np.float32)
    fn = codegen.compile(d, backend=backend)
    found, out = float64_locals(lambda: fn(**{k: to_backend(backend, v) for k, v in values.items()}))
    assert str(out.dtype).endswith("float32"), out.dtype
    assert found == []
    np.testing.assert_allclose(to_numpy(out), codegen.compile(d)(**values), rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("backend", OTHERS)
def test_network_float32_in_every_local(backend):
    library(backend)
    net = nn.from_spec(NETS[1][0], loss=NETS[1][1])
    values = {k: to_backend(backend, v) for k, v in net_values(net, np.float32).items()}
    found, (loss, grads) = float64_locals(lambda: codegen.compile(net, backend=backend)(**values))
    assert found == [] and str(loss.dtype).endswith("float32")


def test_torch_parameters_record_no_autograd_graph():
    """Tensors with requires_grad (nn.Parameter) are read detached: the module computes the
    gradients itself, so torch records no graph (which cost 20% time on a deep net)."""
    library("torch")
    import torch
    net = nn.from_spec(NETS[1][0], loss=NETS[1][1])
    values = {k: to_backend("torch", v) for k, v in net_values(net).items()}
    params = {k: torch.nn.Parameter(v.clone()) if k not in ("X", "Y") else v for k, v in values.items()}
    loss, grads = codegen.compile(net, backend="torch")(**params)
    assert not loss.requires_grad and all(g.grad_fn is None and not g.requires_grad for g in grads.values())
    expected_loss, expected = codegen.compile(net)(**{k: v.numpy() for k, v in values.items()})
    np.testing.assert_allclose(loss.numpy(), expected_loss, rtol=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(g.numpy(), expected[name], rtol=1e-10, atol=1e-12)
    d = mc.hessian(mc.parse(*LOGISTIC), "w")
    X, w, y = (torch.nn.Parameter(torch.rand(*s, dtype=torch.float64)) for s in [(6, 3), (3,), (6,)])
    assert codegen.compile(d, backend="torch")(X=X, w=w, y=y).grad_fn is None


@pytest.mark.parametrize("case", DERIVED, ids=[c[0] for c in DERIVED])
def test_array_api_module_runs_on_torch_tensors(case):
    """The array API module takes its namespace from its inputs: torch tensors in, torch
    tensors out, the NumPy module's values (the Jacobians, Hessians, HVPs and the networks)."""
    library("array_api")
    library("torch")
    import torch
    cid, kind, text, shapes, wrt, assume = case
    d = {"jacobian": mc.jacobian, "hessian": mc.hessian, "hvp": mc.hvp}[kind](mc.parse(text, shapes), wrt)
    values = derived_values(case, d, np.random.default_rng(zlib.crc32(cid.encode())))
    got = codegen.compile(d, backend="array_api")(**{k: to_backend("torch", v) for k, v in values.items()})
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), codegen.compile(d)(**values), rtol=1e-9, atol=1e-12)
    if cid == DERIVED[0][0]:
        for spec, loss in NETS:
            net = nn.from_spec(spec, loss=loss)
            compare(codegen.compile(net), codegen.compile(net, backend="array_api"), net_values(net), "torch")


def test_torch_arguments_checked_on_the_fast_path():
    """Float tensors of the expected shape are taken as they are (a (n,) bias as an (n, 1)
    view); any other shape still falls to the checks that name the argument."""
    library("torch")
    import torch
    net = nn.from_spec("dense(6,5) relu dense(5,3)")
    fn = codegen.compile(net, backend="torch")
    values = {k: torch.from_numpy(v.ravel() if k.startswith("b") else v) for k, v in net_values(net).items()}
    assert values["b1"].shape == (5,)
    loss, grads = fn(**values)
    assert grads["b1"].shape == (5,) and grads["W1"].shape == (6, 5)
    expected_loss, expected = codegen.compile(net)(**{k: v.numpy() for k, v in values.items()})
    np.testing.assert_allclose(loss.numpy(), expected_loss, rtol=1e-12)
    np.testing.assert_allclose(grads["b1"].numpy(), expected["b1"], rtol=1e-10)
    with pytest.raises(ValueError, match=r"W2 must have shape \(5, 3\)"):
        fn(**dict(values, W2=torch.zeros(4, 3, dtype=torch.float64)))
    with pytest.raises(ValueError, match=r"Y must have shape \('N', 3\) \(N = 4\)"):
        fn(**dict(values, Y=torch.zeros(7, 3, dtype=torch.float64)))
    with pytest.raises(ValueError, match="b1 must have shape"):
        fn(**dict(values, b1=torch.zeros(6, dtype=torch.float64)))


@pytest.mark.parametrize("backend", ["numpy"] + OTHERS)
def test_functions_of_a_scalar_argument_keep_float32_and_run(backend):
    """exp(a), log(a) of a scalar given as a Python number: torch's functions take no number,
    and NumPy's make it float64; each module binds it in the arrays' float dtype."""
    if backend != "numpy":
        library(backend)
    f = mc.parse("sum(exp(a)*x + log(a)*x**2)", {"x": ("n",), "a": ()})
    fn = codegen.compile(f, wrt=["x", "a"], backend=backend)
    x = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    found, (value, grads) = float64_locals(lambda: fn(x=to_backend(backend, x), a=0.7))
    assert found == [] and str(value.dtype).endswith("float32"), (found, value.dtype)
    want = {"x": np.exp(0.7) + 2 * np.log(0.7) * x, "a": np.sum(x**2) / 0.7 + np.sum(x) * np.exp(0.7)}
    for k in want:
        np.testing.assert_allclose(to_numpy(grads[k]).reshape(np.shape(want[k])), want[k], rtol=1e-5)


CONSTANTS = [  # functions of numbers and gradients that are numbers (torch.sin(2.0) raised)
    ("sin(2)*sum(x) + sigmoid(1)*sum(x)", {"x": ("n",)}, "x"),
    ("sum(x*exp(1)) + tanh(0.5)*(x.T@u)", {"x": ("n",), "u": ("n",)}, "x"),
    ("3*sum(x) + log(2)", {"x": ("n",)}, "x"),
    # sigmoid of a zero matrix, named and broadcast (the trust fuzzer's seed 620038)
    ("((x.T@x)**2 - x.T)@sigmoid(relu(x)*(1.5 - 1.5))", {"x": ("n",)}, "x"),
]


@pytest.mark.parametrize("backend", ["numpy"] + OTHERS)
@pytest.mark.parametrize("expr, shapes, wrt", CONSTANTS, ids=[c[0] for c in CONSTANTS])
def test_constants_in_every_backend(backend, expr, shapes, wrt):
    library(backend)
    f = mc.parse(expr, shapes)
    values, _ = random_values(shapes, np.random.default_rng(11))
    values = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    compare(codegen.compile(f, wrt=[wrt]), codegen.compile(f, wrt=[wrt], backend=backend), values,
            backend, rtol=1e-9)
    # and the reference evaluator of the text agrees with the NumPy module's value and gradient
    from matcalc.reference import evaluate_text
    value, grads = codegen.compile(f, wrt=[wrt])(**values)
    np.testing.assert_allclose(value, float(np.asarray(evaluate_text(expr, shapes, values))), rtol=1e-12)
    # float32 in, float32 out: the constant gradient is made in the arguments' dtype
    value32, grads32 = codegen.compile(f, wrt=[wrt], backend=backend)(
        **{k: to_backend(backend, v.astype(np.float32)) for k, v in values.items()})
    assert str(grads32[wrt].dtype).endswith("float32"), grads32[wrt].dtype


@pytest.mark.parametrize("backend", ["numpy"] + OTHERS)
@pytest.mark.parametrize("expr", ["max(u.T**2)*sum(u)", "min(u) + sum(u*u)"])
def test_largest_entry_in_every_backend(backend, expr):
    """ismax's helper is written with where / ones_like / zeros_like, which every library has
    (it was .astype, which torch tensors lack, and named its argument A, which the array API's
    helper spelling does not expect)."""
    library(backend)
    shapes = {"u": ("n",)}
    f = mc.parse(expr, shapes)
    values = {"u": np.array([[0.3], [-0.9], [0.5], [0.1]])}
    compare(codegen.compile(f, wrt=["u"]), codegen.compile(f, wrt=["u"], backend=backend), values,
            backend)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_a_function_of_scalars_alone_takes_python_numbers(backend):
    """No array argument to take a dtype from: torch binds Python numbers as float64 tensors
    (torch.sin(0.3) fails). The array API needs an array to know its library."""
    library(backend)
    f = mc.parse("sin(a)*b + a**2", {"a": (), "b": ()})
    value, grads = codegen.compile(f, wrt=["a", "b"], backend=backend)(a=0.3, b=0.7)
    np.testing.assert_allclose(float(to_numpy(value)), np.sin(0.3) * 0.7 + 0.09, rtol=1e-7)
    np.testing.assert_allclose(float(to_numpy(grads["a"])), 0.7 * np.cos(0.3) + 0.6, rtol=1e-7)
    np.testing.assert_allclose(float(to_numpy(grads["b"])), np.sin(0.3), rtol=1e-7)
