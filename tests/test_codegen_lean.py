"""Lean generated NumPy (issue 15): dead intermediates deleted at their last use, relu's mask
read from the activation with relu run in place, and float32 kept through every line.

The `del` test reads the generated source with `ast`: in each function, every name a line
assigns that the function neither returns nor saves is deleted right after the last line that
reads it, and no line reads a name after its `del`. The dtype test runs each generated function
on float32 inputs and inspects every local of every generated frame when it returns
(sys.setprofile): no float64 array anywhere, over the cookbook and public corpus, networks and
the derived Jacobian / Hessian / HVP modules.
"""
import ast
import json
import pathlib
import sys
import zlib

import numpy as np
import pytest

import codegen
import matcalc as mc
from checks import random_values
from matcalc import nn
from test_cookbook import IDENTITIES

CORPUS = json.loads((pathlib.Path(__file__).parent / "data" / "public.json").read_text())
GRADIENTS = [(expr, shapes, wrt, assume) for _, expr, shapes, wrt, _, assume in IDENTITIES] + [
    (e["expr"], {k: tuple(v) for k, v in e["shapes"].items()}, e["wrt"], e.get("assume") or {})
    for e in CORPUS["gradients"]]
EXTRA = [("sum(X)", {"X": ("n", "m")}, "X", {}),
         ("sum(relu(X @ W1) @ W2)", {"X": ("N", 5), "W1": (5, 4), "W2": (4, 3)}, "W2", {}),
         ("3*tr(A) + sum(A)", {"A": ("n", "n")}, "A", {}),
         ("tr(A @ X) + 2*sum(X)", {"A": ("n", "n"), "X": ("n", "n")}, "X", {})]
NETS = ["dense(6,5) relu dense(5,5) relu dense(5,3)", "dense(6,5) tanh dense(5,3)",
        "dense(6,5,bias=false) sigmoid dense(5,3,bias=false)"]


# ---- del of dead intermediates -----------------------------------------------------------------
def function_defs(src):
    return {node.name: node for node in ast.parse(src).body if isinstance(node, ast.FunctionDef)}


def is_prologue(stmt):
    """The lines that bind the arguments, their sizes and dtype (dims = {}, X = _mc_bind(...),
    N = dims['N'][0], dtype = np.result_type(...)): bindings, not intermediates."""
    text = ast.unparse(stmt.value)
    return text == "{}" or text.startswith(("_mc_bind(", "dims[", "np.result_type(", "int("))


def assert_autograd(net, values, grads, dtype):
    """Each parameter's gradient, in the inputs' dtype, against autograd's of the network's loss
    evaluated independently (float64 values)."""
    import autograd
    import autograd.numpy as anp
    from matcalc.api import evaluate
    for name in net.parameters:
        ag = autograd.grad(lambda v: evaluate(net.loss_expr, {**values, name: v}, xp=anp))(
            values[name])
        assert grads[name].dtype == dtype, name
        tol = 1e-10 if dtype == np.float64 else 2e-3
        np.testing.assert_allclose(np.reshape(grads[name], np.shape(ag)), ag, rtol=tol,
                                   atol=tol * np.max(np.abs(ag)), err_msg=name)


def check_releases(fn):
    """The liveness contract of one generated function (see the module docstring)."""
    args = {a.arg for a in fn.args.args}
    body = fn.body
    returned = set()
    last_read, assigned, deleted = {}, {}, {}
    for i, stmt in enumerate(body):
        if isinstance(stmt, ast.Return):
            returned = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
            continue
        if isinstance(stmt, ast.Delete):
            for t in stmt.targets:
                assert t.id not in deleted, f"{t.id} deleted twice"
                deleted[t.id] = i
            continue
        for n in ast.walk(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                assert n.id not in deleted, f"line {i} reads {n.id} after its del"
                last_read[n.id] = i
        if isinstance(stmt, ast.Assign) and not is_prologue(stmt):
            for t in stmt.targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        assigned.setdefault(n.id, i)
    for name, i in assigned.items():
        if name in args or name in returned:
            assert name not in deleted, f"{fn.name} deletes {name}, which it returns"
            continue
        assert name in deleted, f"{fn.name}: {name} is never deleted"
        end = max(last_read.get(name, i), i)
        between = [s for s in body[end + 1:deleted[name]] if not isinstance(s, ast.Delete)]
        assert not between, f"{fn.name}: {name} is deleted {len(between)} lines after its last use"


SOURCES = {
    "deep relu net": lambda: codegen.numpy_source(nn.from_spec(" relu ".join(["dense(8,8)"] * 6))),
    "deep tanh net": lambda: codegen.numpy_source(nn.from_spec(" tanh ".join(["dense(8,8)"] * 6))),
    "softmax classifier": lambda: codegen.numpy_source(
        nn.from_spec("dense(6,5) relu dense(5,3)", loss="softmax_ce")),
    "seed 000 parsed": lambda: codegen.numpy_source(
        mc.parse("sum((relu(x @ w1) @ w2 - y) ** 2)",
                 {"x": ("N", 7), "w1": (7, 5), "w2": (5, 3), "y": ("N", 3)}), wrt=["w1", "w2"]),
    "logistic regression": lambda: codegen.numpy_source(
        mc.parse("sum(log(1 + exp(X @ w))) - y.T @ X @ w", {"X": ("N", "d"), "w": ("d",), "y": ("N",)}),
        wrt=["w"]),
}


@pytest.mark.parametrize("make", SOURCES.values(), ids=list(SOURCES))
def test_dead_intermediates_are_deleted_after_their_last_use(make):
    src = make()
    defs = function_defs(src)
    for name in ("forward", "backward", "value_and_grad"):
        check_releases(defs[name])
    assert "del " in src


def test_a_late_del_is_caught():
    src = "def backward(a):\n    t = a * 2.0\n    u = t + 1.0\n    v = u * a\n    del t\n    del u\n    return v\n"
    with pytest.raises(AssertionError, match="t is deleted 1 lines after"):
        check_releases(function_defs(src)["backward"])
    src = "def backward(a):\n    t = a * 2.0\n    u = t + 1.0\n    return u\n"
    with pytest.raises(AssertionError, match="t is never deleted"):
        check_releases(function_defs(src)["backward"])


def test_relu_keeps_only_its_activation():
    net = nn.from_spec(" relu ".join(["dense(8,8)"] * 4))
    src = codegen.numpy_source(net)
    defs = function_defs(src)
    saved = [a.arg for a in defs["backward"].args.args]
    assert not any(name.startswith("Z") for name in saved), saved     # Z1.. are not kept
    assert "A1 = np.maximum(Z1, 0.0, out=Z1)" in src and "(A1 > 0)" in src, src
    # the bias is added into the product's new buffer, the residual into the output's
    assert "Z1 = X @ W1\n    Z1 = np.add(Z1, b1.T, out=Z1)" in src, src
    assert "y_pred_minus_Y = np.subtract(y_pred, Y, out=y_pred)" in src, src


def test_in_place_forms_compute_the_same_values():
    """The in-place statements (out=) give the gradients of the plain formulas, and leave the
    caller's arrays untouched, through a network with every form in it."""
    net = nn.from_spec("dense(6,5) relu dense(5,5) tanh dense(5,3)")
    fn = codegen.compile(net)
    rng = np.random.default_rng(7)
    values = {"X": rng.standard_normal((4, 6)), "Y": rng.standard_normal((4, 3))}
    for name, p in net.parameters.items():
        values[name] = rng.standard_normal(tuple(int(d) for d in p.shape))
    before = {k: v.copy() for k, v in values.items()}
    loss, grads = fn(**values)
    for k, v in values.items():
        np.testing.assert_array_equal(v, before[k])
    d = mc.grad(net.loss_expr, list(net.parameters.values()))
    sizes = {"N": 4}
    for name, G in d.results.items():
        want = mc.evaluate(G, values, sizes=sizes)
        np.testing.assert_allclose(np.reshape(grads[name], np.shape(want)), want, rtol=1e-10)


# ---- float32 end to end ------------------------------------------------------------------------
def float64_locals(call):
    """[(function, name)] of the float64 arrays any generated function holds when it returns."""
    found = []

    def profile(frame, event, arg):
        if event == "return" and frame.f_code.co_filename == "<matcalc codegen>" \
                and not frame.f_code.co_name.startswith("_mc"):
            for name, value in list(frame.f_locals.items()) + [("<returned>", arg)]:
                for v in (value if isinstance(value, (tuple, list)) else
                          value.values() if isinstance(value, dict) else (value,)):
                    if getattr(v, "dtype", None) == np.float64:
                        found.append((frame.f_code.co_name, name))
    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return sorted(set(found))


def as_float32(values):
    return {k: np.asarray(v, np.float32) if np.ndim(v) else np.float32(v) for k, v in values.items()}


@pytest.mark.parametrize("expr, shapes, wrt, assume", GRADIENTS + EXTRA,
                         ids=[f"{g[0]} wrt {g[2]}" for g in GRADIENTS + EXTRA])
def test_float32_stays_float32_in_every_line(expr, shapes, wrt, assume):
    fn = codegen.compile(mc.parse(expr, shapes), wrt=[wrt])
    rng = np.random.default_rng(zlib.crc32(expr.encode()))
    values = as_float32(random_values(shapes, rng, assume)[0])
    assert float64_locals(lambda: fn(**values)) == []


@pytest.mark.parametrize("spec", NETS)
def test_network_float32_stays_float32_in_every_line(spec):
    net = nn.from_spec(spec)
    fn = codegen.compile(net)
    rng = np.random.default_rng(0)
    values = {"X": rng.standard_normal((4, 6)), "Y": rng.standard_normal((4, 3))}
    for name, p in net.parameters.items():
        values[name] = rng.standard_normal(tuple(int(d) for d in p.shape))
    assert float64_locals(lambda: fn(**as_float32(values))) == []


@pytest.mark.parametrize("kind", ["jacobian", "hessian", "hvp"])
def test_derived_modules_stay_float32(kind):
    shapes = {"X": ("N", "d"), "w": ("d",), "y": ("N",)}
    f = mc.parse("sum(log(1 + exp(X @ w))) - y.T @ X @ w", shapes)
    d = {"jacobian": lambda: mc.jacobian(mc.parse("tanh(X @ w)", shapes), "w"),
         "hessian": lambda: mc.hessian(f, "w"), "hvp": lambda: mc.hvp(f, "w")}[kind]()
    fn = codegen.compile(d)
    rng = np.random.default_rng(1)
    values = {"X": rng.standard_normal((5, 3)), "w": rng.standard_normal(3), "y": rng.random(5)}
    if kind == "hvp":
        values.update({name: rng.standard_normal(3) for name in fn.source.split("def hvp(")[1]
                       .split(")")[0].replace(" ", "").split(",") if name not in values})
    assert float64_locals(lambda: fn(**as_float32(values))) == []


def test_a_float64_line_is_caught():
    namespace = {"__name__": "probe"}
    exec(compile("import numpy as np\ndef backward(a):\n    t = a * np.ones(a.shape)\n    return t\n",
                 "<matcalc codegen>", "exec"), namespace)
    assert float64_locals(lambda: namespace["backward"](np.ones(3, np.float32))) == \
        [("backward", "<returned>"), ("backward", "t")]


def test_a_name_copied_is_not_split_into_a_sum():
    """grad_b = t1 (t1 = Y.T @ u + v, computed in forward) stays a copy of the name: the
    product-then-add split applies to lines that print a sum, not to a name that holds one."""
    f = mc.parse("b.T @ (Y.T @ u + v)", {"Y": ("n", "m"), "b": ("m",), "u": ("n",), "v": ("m",)})
    fn = codegen.compile(f, wrt=["b"])
    rng = np.random.default_rng(2)
    Y, b, u, v = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.random(4), rng.standard_normal(3)
    value, grads = fn(Y=Y, b=b, u=u, v=v)
    np.testing.assert_allclose(grads["b"], Y.T @ u + v, rtol=1e-12)
    np.testing.assert_allclose(value, b @ (Y.T @ u + v), rtol=1e-12)


def test_a_named_product_is_not_overwritten_by_a_sum():
    """t1 = XXT - c*A.T and t2 = XXT + ... both read the named product XXT: neither may add into
    its buffer (found by tests/test_trust.py's hypothesis cases)."""
    text = "sum(min(X @ X.T, (y.T @ x * A.T)) * ((A - B) * B))"
    shapes = {"A": ("n", "n"), "B": ("n", "n"), "X": ("n", "m"), "x": ("n",), "y": ("n",)}
    f = mc.parse(text, shapes)
    fn = codegen.compile(f, wrt=["A", "X"])
    rng = np.random.default_rng(0)
    values = {"A": rng.standard_normal((3, 3)), "B": rng.standard_normal((3, 3)),
              "X": rng.standard_normal((3, 2)), "x": rng.standard_normal(3), "y": rng.standard_normal(3)}
    value, grads = fn(**values)
    np.testing.assert_allclose(value, mc.evaluate(f, values), rtol=1e-12)
    d = mc.grad(f, ["A", "X"])
    for name in ("A", "X"):
        np.testing.assert_allclose(grads[name], mc.evaluate(d.results[name], values), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_column_sums_are_a_product_with_a_ones_row(dtype):
    """A bias gradient, the column sums of G, is `(np.ones((1, N), dtype=dtype) @ G).T` (a
    matrix-vector product, 2-4x faster than G.sum(axis=0)); in the inputs' dtype, and equal to
    autograd's gradient of the loss written in autograd.numpy."""
    import autograd
    import autograd.numpy as anp
    net = nn.from_spec("dense(6,5) tanh dense(5,3)", loss="sse")
    fn = codegen.compile(net)
    assert "grad_b1 = (np.ones((1, N), dtype=dtype) @ grad_h).T" in fn.source, fn.source
    rng = np.random.default_rng(5)
    values = {"X": rng.standard_normal((9, 6)), "Y": rng.standard_normal((9, 3)),
              "W1": rng.standard_normal((6, 5)), "b1": rng.standard_normal(5),
              "W2": rng.standard_normal((5, 3)), "b2": rng.standard_normal(3)}

    def loss_of(b1, b2):
        a = anp.tanh(anp.dot(values["X"], values["W1"]) + b1)
        return anp.sum((anp.dot(a, values["W2"]) + b2 - values["Y"]) ** 2)
    expected = autograd.grad(loss_of, argnum=(0, 1))(values["b1"], values["b2"])
    _, grads = fn(**{k: v.astype(dtype) for k, v in values.items()})
    for name, g in zip(("b1", "b2"), expected):
        assert grads[name].dtype == dtype and grads[name].shape == g.shape
        np.testing.assert_allclose(grads[name], g, rtol=1e-10 if dtype == np.float64 else 1e-4,
                                   atol=1e-4 if dtype == np.float32 else 0)


# ---- a derivative's steps in one private buffer (passes.private_buffers) -------------------
def test_a_derivative_chain_runs_in_one_private_buffer():
    """g * (1 - A*A) becomes t = A * A; t = 1.0 - t (in place); g * t, only when the chain's
    value is read by that one line: where two lines read it, no line may write into it."""
    from sympy import HadamardProduct
    from matcalc.core import ops
    from matcalc.codegen.numpy_printer import NumpyPrinter
    from matcalc.codegen.passes import private_buffers
    from matcalc.codegen.schedule import Line
    A, G1, G2 = (ops.matrix_symbol(n, 3, 4) for n in ("A", "G1", "G2"))
    chain = ops.sub(ops.ones(3, 4), ops.hadamard(A, A))          # 1 - A*A
    names = {A: "A", G1: "G1", G2: "G2"}
    counter = iter(range(1, 100))

    def fresh(node):
        return f"t{next(counter)}"
    one = [Line("x", HadamardProduct(G1, chain))]
    out = private_buffers(one, dict(names), NumpyPrinter(dict(names), {}), fresh)
    assert [line.target for line in out] == ["t1", "t2", "x"], out
    two = [Line("x", HadamardProduct(G1, chain)), Line("y", HadamardProduct(G2, chain))]
    out = private_buffers(two, dict(names), NumpyPrinter(dict(names), {}), fresh)
    assert [line.target for line in out] == ["x", "y"], out


@pytest.mark.parametrize("spec", ["dense(6,5) tanh dense(5,5) tanh dense(5,3)",
                                  "dense(6,5) sigmoid dense(5,3)",
                                  "dense(6,5) softplus dense(5,4) tanh dense(4,3)"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_private_buffers_give_autograds_gradients(spec, dtype):
    """With the derivative chains in private buffers, the gradients equal autograd's of the
    loss evaluated independently (mc.evaluate on autograd.numpy), the caller's arrays are not
    written, and float32 in gives float32 out."""
    net = nn.from_spec(spec, loss="sse")
    fn = codegen.compile(net)
    if "tanh" in spec:
        assert "np.subtract(1.0, t" in fn.source, fn.source
    rng = np.random.default_rng(11)
    values = {"X": rng.standard_normal((7, 6)), "Y": rng.standard_normal((7, 3))}
    for name, p in net.parameters.items():
        values[name] = rng.standard_normal(tuple(int(d) for d in p.shape))
    given = {k: v.astype(dtype) for k, v in values.items()}
    before = {k: v.copy() for k, v in given.items()}
    loss, grads = fn(**given)
    for k, v in given.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    assert_autograd(net, values, grads, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_relu_against_one_zeros_array(dtype):
    """Relus of one shape run against one zeros array made per call (np.maximum of two arrays
    is NumPy's vector loop), which no line writes into and which is deleted after the last
    relu; one relu alone keeps np.maximum(h, 0.0, out=h). The gradients are autograd's of the
    loss evaluated independently, in the inputs' dtype."""
    net = nn.from_spec("dense(6,5) relu dense(5,5) relu dense(5,5) relu dense(5,3)", loss="sse")
    fn = codegen.compile(net)
    forward = function_defs(fn.source)["forward"]
    text = ast.unparse(forward)
    assert "zeros = np.zeros((N, 5), dtype=dtype)" in text, text
    for k in (1, 2, 3):
        assert f"A{k} = np.maximum(Z{k}, zeros, out=Z{k})" in text, text
    assert "out=zeros" not in fn.source
    check_releases(forward)                           # deleted after its last use
    single = codegen.numpy_source(nn.from_spec("dense(6,5) relu dense(5,3)", loss="sse"))
    assert "zeros =" not in single and "np.maximum(h, 0.0, out=h)" in single, single
    rng = np.random.default_rng(2)
    values = {"X": rng.standard_normal((7, 6)), "Y": rng.standard_normal((7, 3))}
    for name, p in net.parameters.items():
        values[name] = rng.standard_normal(tuple(int(d) for d in p.shape))
    for _ in range(2):                                # a second call: the zeros are zeros again
        loss, grads = fn(**{k: v.astype(dtype) for k, v in values.items()})
    assert_autograd(net, values, grads, dtype)


def test_value_and_grad_is_one_program():
    """value_and_grad runs forward's lines then backward's as one function, so a saved
    activation is deleted (or written into) after its last use in backward: its peak memory
    (tracemalloc) is below forward + backward(**saved)'s, where saved holds every activation,
    and below hand-written NumPy's; the answers are forward + backward's."""
    import tracemalloc
    net = nn.from_spec("dense(64,256) tanh dense(256,256) tanh dense(256,64)", loss="sse")
    fn = codegen.compile(net)
    body = ast.unparse(function_defs(fn.source)["value_and_grad"])
    assert "forward(" not in body and "del A1" in body, body
    rng = np.random.default_rng(4)
    values = {"X": rng.standard_normal((128, 64)), "Y": rng.standard_normal((128, 64))}
    for name, p in net.parameters.items():
        shape = tuple(int(d) for d in p.shape)
        values[name] = rng.standard_normal(shape[:1] if shape[1] == 1 else shape)  # biases (n,)

    def split():
        loss, saved = fn.forward(**values)
        return loss, fn.backward(**saved)

    def hand():
        X, Ws, bs = values["X"], [values[f"W{k}"] for k in (1, 2, 3)], [values[f"b{k}"] for k in (1, 2, 3)]
        A = [X]
        for k in range(2):
            A.append(np.tanh(A[-1] @ Ws[k] + bs[k]))
        diff = A[-1] @ Ws[2] + bs[2] - values["Y"]
        loss, g, grads = np.sum(diff * diff), 2.0 * diff, {}
        for k in (2, 1, 0):
            grads[f"W{k + 1}"], grads[f"b{k + 1}"] = A[k].T @ g, g.sum(axis=0)
            if k:
                g = (g @ Ws[k].T) * (1.0 - A[k] * A[k])
        return loss, grads

    def peak(call):
        call()
        tracemalloc.start()
        call()
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top
    one, two, by_hand = peak(lambda: fn(**values)), peak(split), peak(hand)
    assert one < 0.9 * two and one < 0.8 * by_hand, (one, two, by_hand)
    loss, grads = fn(**values)
    split_loss, split_grads = split()
    reference = hand()
    assert np.isclose(loss, split_loss) and np.isclose(loss, reference[0])
    for k, name in enumerate(net.parameters):
        np.testing.assert_allclose(np.ravel(grads[name]), np.ravel(split_grads[k]), rtol=1e-12)
        np.testing.assert_allclose(np.ravel(grads[name]), np.ravel(reference[1][name]), rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_a_sum_of_products_is_a_dot(dtype):
    """sum(A * B) and sum(A**2) of full operands are np.vdot(A, B) (BLAS's dot, no array A * B):
    the values and gradients are autograd's of the text evaluated independently, in the inputs'
    dtype; a product with a broadcast operand keeps np.sum."""
    import autograd
    import autograd.numpy as anp
    from matcalc.api import evaluate
    cases = [("sum((X @ W - Y) ** 2)", {"X": ("N", 4), "W": (4, 3), "Y": ("N", 3)}, "W",
              "value = np.vdot(t1, t1)"),
             ("sum(tanh(X @ W) * Y)", {"X": ("N", 4), "W": (4, 3), "Y": ("N", 3)}, "W", "np.vdot("),
             ("sum((X @ W) * b.T)", {"X": ("N", 4), "W": (4, 3), "b": (3,)}, "W", "np.sum(")]
    rng = np.random.default_rng(8)
    for text, shapes, wrt, shown in cases:
        f = mc.parse(text, shapes)
        fn = codegen.compile(f, wrt=[wrt])
        forward = ast.unparse(function_defs(fn.source)["forward"])
        assert shown in forward, forward
        values = {k: rng.standard_normal([6 if d == "N" else d for d in shape])
                  for k, shape in shapes.items()}
        value, grads = fn(**{k: v.astype(dtype) for k, v in values.items()})
        assert np.asarray(value).dtype == dtype and grads[wrt].dtype == dtype
        tol = 1e-10 if dtype == np.float64 else 1e-4
        np.testing.assert_allclose(value, evaluate(f, values), rtol=tol)
        ag = autograd.grad(lambda v: evaluate(f, {**values, wrt: v}, xp=anp))(values[wrt])
        np.testing.assert_allclose(grads[wrt], ag, rtol=tol, atol=tol)
