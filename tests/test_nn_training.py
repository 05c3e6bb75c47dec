"""Generated training steps and prediction (issue 11, points 4 and 5): each optimiser's update
against a reference written here by hand, the learning-rate decays, predict against an
independent evaluation of the network's output, Glorot and He initial weights, the command
line's --optimizer, and the examples that train with generated code only."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import codegen
import matcalc as mc
from matcalc import cli, nn
from matcalc.codegen.optimizers import DECAYS, OPTIMIZERS
from matcalc.errors import MatcalcError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


# ---- references, written from the papers' formulas, not from optimizers.py -------------------
def sgd(p, g, state, lr, t, o):
    return p - lr * g, state


def momentum(p, g, state, lr, t, o):
    velocity = o.get("momentum", 0.9) * state.get("velocity", 0.0) + lr * g   # seed 003, 4.4
    return p - velocity, {"velocity": velocity}


def rmsprop(p, g, state, lr, t, o):
    rho, eps = o.get("rho", 0.9), o.get("eps", 1e-7)
    ms = rho * state.get("ms", 0.0) + (1 - rho) * g ** 2
    return p - lr * g / (np.sqrt(ms) + eps), {"ms": ms}


def adam(p, g, state, lr, t, o):
    b1, b2, eps = o.get("beta1", 0.9), o.get("beta2", 0.999), o.get("eps", 1e-8)
    m = b1 * state.get("m", 0.0) + (1 - b1) * g
    v = b2 * state.get("v", 0.0) + (1 - b2) * g ** 2
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), {"m": m, "v": v}


REFERENCES = {"sgd": sgd, "momentum": momentum, "rmsprop": rmsprop, "adam": adam}
RATES = {"none": lambda lr, final, steps, k: lr,
         "linear": lambda lr, final, steps, k: lr + (final - lr) * min(k, steps) / steps,
         "exponential": lambda lr, final, steps, k: lr * (final / lr) ** (min(k, steps) / steps)}

OPTIONS = {"sgd": {}, "momentum": {"momentum": 0.8}, "rmsprop": {"rho": 0.95, "eps": 1e-6},
           "adam": {"beta1": 0.8, "beta2": 0.99, "eps": 1e-7}}


def xor_net(**kw):
    return nn.from_spec("dense(2,3) relu dense(3,1)", loss="mse", **kw)


def reference_run(name, options, lr, decay, params, gradients, weights, weight_decay=0.0,
                  final_lr=None, decay_steps=None):
    """The parameters after len(gradients) updates, by the references above."""
    params = {k: v.copy() for k, v in params.items()}
    state = {k: {} for k in params}
    for k, grads in enumerate(gradients):
        rate = RATES[decay](lr, final_lr, decay_steps, k)
        for p in params:
            value = params[p]
            if p in weights:
                value = value - rate * weight_decay * value      # decoupled (AdamW) decay
            params[p], state[p] = REFERENCES[name](value, grads[p], state[p], rate, k + 1, options)
    return params


def random_arrays(rng, shapes):
    return {p: rng.standard_normal(s) for p, s in shapes.items()}


@pytest.mark.parametrize("name", list(OPTIMIZERS), ids=list(OPTIMIZERS))
@pytest.mark.parametrize("decay", list(DECAYS), ids=list(DECAYS))
def test_each_update_equals_its_reference_over_several_steps(name, decay):
    net = xor_net()
    schedule = {} if decay == "none" else {"decay": decay, "final_lr": 0.002, "decay_steps": 3}
    fn = codegen.compile(net, optimizer=name, lr=0.05, weight_decay=0.1, **schedule,
                         **OPTIONS[name])
    rng = np.random.default_rng(7)
    shapes = net.parameter_shapes()
    params = random_arrays(rng, shapes)
    gradients = [random_arrays(rng, shapes) for _ in range(5)]
    state = fn.init_state(params)
    ours = params
    for step, grads in enumerate(gradients):
        ours, state = fn.update(ours, grads, state, step)
    expected = reference_run(name, OPTIONS[name], 0.05, decay, params, gradients, {"W1", "W2"},
                             0.1, schedule.get("final_lr"), schedule.get("decay_steps"))
    for p in params:
        np.testing.assert_allclose(ours[p], expected[p], rtol=1e-13, atol=1e-15, err_msg=p)


@pytest.mark.parametrize("name", list(OPTIMIZERS), ids=list(OPTIMIZERS))
def test_defaults_and_untouched_arguments(name):
    """The optimiser's own defaults; update returns new dicts and changes none of its arguments;
    float32 parameters stay float32."""
    fn = codegen.compile(xor_net(), optimizer=name)
    rng = np.random.default_rng(3)
    shapes = xor_net().parameter_shapes()
    params = {p: v.astype(np.float32) for p, v in random_arrays(rng, shapes).items()}
    grads = {p: v.astype(np.float32) for p, v in random_arrays(rng, shapes).items()}
    copies = {p: v.copy() for p, v in params.items()}
    state = fn.init_state(params)
    new, new_state = fn.update(params, grads, state, 0)
    new, _ = fn.update(new, grads, new_state, 1)
    for p in params:
        np.testing.assert_array_equal(params[p], copies[p])
        assert new[p].dtype == np.float32 and new[p].shape == params[p].shape
    assert all(np.all(v == 0) for s in state.values() for v in s.values())
    lr = OPTIMIZERS[name].lr
    expected = reference_run(name, {}, lr, "none", params, [grads, grads], set())
    for p in params:
        np.testing.assert_allclose(new[p], expected[p], rtol=1e-5)


def test_each_rule_is_commented_by_its_formula():
    for name, o in OPTIMIZERS.items():
        src = codegen.numpy_source(xor_net(), optimizer=name, weight_decay=0.01)
        for formula, code in o.rule:
            assert f"# {formula}\n        {code}\n" in src
        assert "# p = p - lr*weight_decay*p" in src and "DECAYED = ('W1', 'W2')" in src
    src = codegen.numpy_source(xor_net(), optimizer="sgd", decay="linear", final_lr=0.0,
                               decay_steps=10)
    assert f"# {DECAYS['linear'].formula}\n    return {DECAYS['linear'].code}\n" in src


def test_training_a_network_with_generated_code_only():
    fn = codegen.compile(xor_net(), optimizer="adam", lr=0.05)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    Y = np.array([[0], [1], [1], [0]], float)
    params = nn.init.parameters(xor_net(), np.random.default_rng(0), "he")
    state = fn.init_state(params)
    losses = []
    for step in range(300):
        loss, grads = fn.value_and_grad(X=X, Y=Y, **params)
        params, state = fn.update(params, grads, state, step)
        losses.append(loss)
    assert losses[-1] < 1e-3 < losses[0]
    np.testing.assert_array_equal(fn.predict(X, **params)[:, 0] > 0.5, [False, True, True, False])


def test_an_expression_module_gets_an_update_over_its_variables():
    f = mc.parse("sum((X @ w - y) ** 2)", {"X": ("N", "d"), "w": ("d",), "y": ("N",)})
    fn = codegen.compile(f, wrt=["w"], optimizer="momentum", lr=0.01)
    rng = np.random.default_rng(2)
    X, w_true = rng.standard_normal((20, 3)), rng.standard_normal(3)
    params, state = {"w": np.zeros(3)}, fn.init_state({"w": np.zeros(3)})
    for step in range(500):
        _, grads = fn(X=X, y=X @ w_true, **params)
        params, state = fn.update(params, grads, state, step)
    np.testing.assert_allclose(params["w"], w_true, rtol=1e-6)
    assert "def predict" not in fn.source


# ---- predict -------------------------------------------------------------------------------
NETS = {
    "dense": ("dense(2,3) relu dense(3,1)", "sse", None),
    "softmax-ce": ("dense(4,6) tanh dense(6,3) softmax", "ce", None),
    "dropout": ("dense(4,6) relu dropout(0.5) dense(6,2)", "softmax_ce", None),
    "layernorm": ("dense(4,6) layernorm(6) sigmoid dense(6,2)", "mse", None),
    "cnn": ("conv2d(1,3,3,stride=2,padding=1) relu maxpool(2) flatten dense(12,2)", "softmax_ce",
            (1, 8, 8)),
}


@pytest.mark.parametrize("key", list(NETS), ids=list(NETS))
def test_predict_is_the_output_before_the_loss(key):
    """predict(X, params) equals the output expression evaluated independently (dropout's mask
    at 1 - p, which makes the layer the identity), and the generated forward's loss is the loss
    of predict's output."""
    spec, loss, example = NETS[key]
    net = nn.from_spec(spec, loss=loss, input=example)
    fn = codegen.compile(net)
    rng = np.random.default_rng(11)
    params = nn.init.parameters(net, rng)
    params.update({p: rng.standard_normal(s) for p, s in net.parameter_shapes().items()
                   if len(s) == 1})
    N, D = 5, int(net.X.shape[1])
    X = rng.standard_normal((N, D))
    y_pred = fn.predict(X, **params)
    masks = {m: np.full((N, int(s.shape[1])), 0.5) for m, s in net.inputs.items()}
    expected = mc.evaluate(net.output_expr, {"X": X, **masks, **params})
    np.testing.assert_allclose(y_pred, expected, rtol=1e-12, atol=1e-14)
    Y = rng.random(y_pred.shape)
    value, _ = fn(X=X, Y=Y, **masks, **params)
    loss_of_prediction = mc.evaluate(net.loss.build(mc.parse("P", {"P": (net.batch, Y.shape[1])}),
                                                    net.Y), {"P": y_pred, "Y": Y})
    np.testing.assert_allclose(value, loss_of_prediction, rtol=1e-10)
    assert "Y" not in re.search(r"def predict\((.*)\)", fn.source).group(1)


def test_predict_checks_its_inputs():
    fn = codegen.compile(xor_net())
    params = nn.init.parameters(xor_net(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="X must have shape"):
        fn.predict(np.zeros((4, 3)), **params)


# ---- initialisation ------------------------------------------------------------------------
@pytest.mark.parametrize("scheme, variance", [("glorot", 2 / (300 + 500)), ("he", 2 / 300)])
def test_initial_weights_have_their_variance(scheme, variance):
    W = getattr(nn.init, scheme)((300, 500), np.random.default_rng(0))
    assert W.shape == (300, 500) and abs(W.mean()) < 1e-3
    assert abs(W.var() / variance - 1) < 0.02


def test_initial_parameters_by_role():
    net = nn.from_spec("dense(4,6) layernorm(6) relu dense(6,2)", loss="mse")
    params = nn.init.parameters(net, np.random.default_rng(0), "he")
    assert {p: v.shape for p, v in params.items()} == net.parameter_shapes()
    assert np.all(params["gamma2"] == 1) and np.all(params["beta2"] == 0)
    assert np.all(params["b1"] == 0) and np.std(params["W1"]) > 0
    rnn = nn.Recurrent(nn.LSTM(3, 4), n_out=2)
    assert set(nn.init.parameters(rnn, np.random.default_rng(0))) == set(rnn.parameters)
    with pytest.raises(MatcalcError, match="unknown initialisation 'xavier'"):
        nn.init.parameters(net, np.random.default_rng(0), "xavier")
    with pytest.raises(MatcalcError, match="two positive integers"):
        nn.init.glorot((3,), np.random.default_rng(0))


# ---- bad options: one line, naming the option ---------------------------------------------
@pytest.mark.parametrize("options, message", [
    ({"optimizer": "adamw"}, "unknown optimizer 'adamw'; choose from sgd, momentum, rmsprop, "
                             "adam; did you mean adam?"),
    ({"optimizer": "sgd", "lr": 0}, "lr must be a number > 0, got 0"),
    ({"optimizer": "sgd", "lr": float("nan")}, "lr must be a number > 0, got nan"),
    ({"optimizer": "adam", "beta1": 1.0}, r"beta1 must be a number in \[0, 1\), got 1.0"),
    ({"optimizer": "rmsprop", "eps": 0}, "eps must be a number > 0, got 0"),
    ({"optimizer": "sgd", "beta1": 0.5}, "'beta1' is not an option of sgd"),
    ({"optimizer": "sgd", "decay": "cosine"}, "unknown learning-rate decay 'cosine'"),
    ({"optimizer": "sgd", "decay": "linear"}, "linear learning-rate decay needs final_lr and "
                                              "decay_steps"),
    ({"optimizer": "sgd", "final_lr": 0.1}, "final_lr and decay_steps need a learning-rate decay"),
    ({"optimizer": "sgd", "decay": "exponential", "final_lr": 0, "decay_steps": 5},
     "final_lr must be a number > 0, got 0"),
    ({"optimizer": "sgd", "decay": "linear", "final_lr": 0, "decay_steps": 2.5},
     "decay_steps must be a positive integer, got 2.5"),
    ({"optimizer": "sgd", "weight_decay": -1}, "weight_decay must be a number >= 0, got -1"),
    ({"lr": 0.1}, "lr: options of an optimiser; give optimizer="),
    ({"optimizer": "sgd", "backend": "torch"}, "update is generated for NumPy only"),
])
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(MatcalcError, match=message) as e:
        codegen.numpy_source(xor_net(), **options)
    assert "\n" not in str(e.value)


# ---- the command line ----------------------------------------------------------------------
def test_the_command_line_writes_a_training_module(tmp_path):
    out = tmp_path / "train.py"
    code = cli.main(["codegen", "--net", "dense(2,3) relu dense(3,1)", "--loss", "mse",
                     "--optimizer", "adam", "--lr", "0.05", "--beta2", "0.99", "--lr-decay",
                     "exponential", "--final-lr", "0.005", "--decay-steps", "100",
                     "--decoupled-weight-decay", "0.001", "-o", str(out)])
    assert code == 0
    namespace = {}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    assert namespace["BETA2"] == 0.99 and namespace["DECAYED"] == ("W1", "W2")
    assert namespace["learning_rate"](100) == pytest.approx(0.005)
    params = nn.init.parameters(xor_net(), np.random.default_rng(0))
    state = namespace["init_state"](params)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    Y = np.array([[0], [1], [1], [0]], float)
    losses = []
    for step in range(200):
        loss, grads = namespace["value_and_grad"](X, params["W1"], params["b1"], params["W2"],
                                                  params["b2"], Y)
        params, state = namespace["update"](params, grads, state, step)
        losses.append(loss)
    assert losses[-1] < 0.1 * losses[0]


@pytest.mark.parametrize("argv, message", [
    (["--optimizer", "adamw"], "invalid choice: 'adamw'"),
    (["--optimizer", "sgd", "--lr", "-1"], "lr must be a number > 0, got -1.0"),
    (["--optimizer", "sgd", "--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
    (["--lr", "0.1"], "--lr: options of --optimizer"),
    (["--optimizer", "momentum", "--beta1", "0.5"], "'beta1' is not an option of momentum"),
    (["--optimizer", "sgd", "--lr-decay", "linear"], "needs final_lr and decay_steps"),
    (["--optimizer", "sgd", "--lr-decay", "linear", "--final-lr", "0", "--decay-steps", "0"],
     "decay_steps must be a positive integer, got 0"),
])
def test_bad_command_line_options_exit_2_with_one_line(argv, message, capsys):
    code = cli.main(["codegen", "--net", "dense(2,3) relu dense(3,1)", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_the_command_line_lists_equal_the_tables():
    assert tuple(cli.OPTIMIZERS) == tuple(OPTIMIZERS)
    assert tuple(cli.DECAYS) == tuple(DECAYS)


# ---- the examples train with generated code only ------------------------------------------
def run_example(name):
    r = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_seed001_xor_example_trains_with_generated_update():
    out = run_example("codegen_xor.py")
    assert "def update(params, grads, state, step):" in out
    losses = [float(v) for v in re.findall(r"^\s+\d+\s+([0-9.]+)$", out, re.M)]
    assert len(losses) >= 2 and losses == sorted(losses, reverse=True)
    assert "training done" in out and re.search(r"0  0      0 .* 0\n", out)


def test_seed004_classifier_example_trains_with_generated_update():
    out = run_example("nn_mnist_like.py")
    losses = [float(v) for v in re.findall(r"mean loss = ([0-9.]+)", out)]
    assert len(losses) == 5 and losses == sorted(losses, reverse=True)
    assert float(re.search(r"held-out accuracy: ([0-9.]+)", out).group(1)) > 0.5


# ---- recurrent networks --------------------------------------------------------------------
@pytest.mark.parametrize("cell", [nn.RNN, nn.GRU, nn.LSTM], ids=lambda c: c.__name__)
def test_recurrent_predict_update_and_gradient_shapes(cell):
    """predict_sequence equals the read-out of the recursion's last state; every gradient has
    its argument's shape; update is the reference Adam with weight decay on the matrices."""
    model = nn.Recurrent(cell(2, 3), n_out=2)
    namespace = {}
    exec(compile(model.numpy_source(optimizer="adam", lr=0.01, weight_decay=0.5), "rnn.py", "exec"),
         namespace)
    rng = np.random.default_rng(4)
    params = nn.init.parameters(model, rng)
    params.update({p: rng.standard_normal(s) for p, s in model.parameter_shapes().items()
                   if len(s) == 1})
    X, Y = rng.standard_normal((4, 5, 2)), rng.standard_normal((5, 2))
    h_T = model.forward_states({"X": X, **params})[-1]["h"]
    np.testing.assert_allclose(namespace["predict_sequence"](X, **params),
                               h_T @ params["Wy"] + params["by"], rtol=1e-12)
    _, grads = namespace["value_and_grad_sequence"](X, Y, **params)
    assert {p: g.shape for p, g in grads.items()} == {p: v.shape for p, v in params.items()}
    state = namespace["init_state"](params)
    new, state = namespace["update"](params, grads, state, 0)
    new, _ = namespace["update"](new, grads, state, 1)
    expected = reference_run("adam", {}, 0.01, "none", params, [grads, grads],
                             set(model.weight_names()), 0.5)
    for p in params:
        np.testing.assert_allclose(new[p], expected[p], rtol=1e-13, err_msg=p)
    assert "bh" not in model.weight_names() and "Wy" in model.weight_names()
