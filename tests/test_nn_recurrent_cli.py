"""Recurrent nets from a layer spec and on the command line (issue 11): `rnn(N_IN,N_HIDDEN)`,
`gru(...)`, `lstm(...)` and one dense read-out, `--input T,features` (T a name or a number);
--steps, --latex (the same for every T), --check against the unrolled loss by the independent
evaluator, `codegen --net ... --optimizer adam` writing the loop module that trains, and one-line
errors that name the layer and what it was given."""
import importlib.util

import numpy as np
import pytest

from checks import braces_balanced
from matcalc import nn
from matcalc.cli import main
from matcalc.errors import MatcalcError, ParseError, ShapeError
from matcalc.nn import sequence


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_spec_with_a_cell_is_a_recurrent_model():
    model = nn.from_spec("gru(3,5) dense(5,2)", loss="mse", input=("T", 3))
    assert isinstance(model, nn.Recurrent) and isinstance(model.cell, nn.GRU)
    assert (model.cell.n_in, model.cell.n_hidden, model.n_out) == (3, 5, 2)
    assert model.loss.name == "mse"
    assert nn.input_shape("T,8") == ("T", 8) and nn.input_shape("12,8") == (12, 8)
    with pytest.raises(MatcalcError, match="T of a sequence may be a name"):
        nn.input_shape("T,x")


def test_the_gradients_on_the_command_line(capsys):
    code, out, err = run(capsys, "net", "rnn(3,4) dense(4,2)", "--input", "T,3")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "Wy: 2*(h_T.T@(h_T@Wy + by.T - Y))"
    assert "Wx: sum over t = 1..T of x_t.T@(grad_h_t*(1 - tanh(x_t@Wx + h_prev@Wh + bh.T)**2))" in lines
    assert lines[-1] == "grad_h_(t-1): (grad_h_t*(1 - tanh(x_t@Wx + h_prev@Wh + bh.T)**2))@Wh.T"


@pytest.mark.parametrize("spec, steps", [("rnn(3,4) dense(4,2)", "T"), ("gru(3,4) dense(4,2)", "7"),
                                         ("lstm(3,4) dense(4,2)", "7")], ids=["rnn", "gru", "lstm"])
def test_check_against_the_unrolled_loss(capsys, spec, steps):
    code, out, _ = run(capsys, "net", spec, "--input", f"{steps},3", "--loss", "mse", "--check")
    checks = [l for l in out.splitlines() if l.startswith("check ")]
    assert code == 0 and len(checks) == len(nn.from_spec(spec).parameter_shapes())
    assert all(l.endswith(": ok") for l in checks)
    assert f"(N=3, T={5 if steps == 'T' else steps})" in checks[0] and "unrolled" in checks[0]


def test_check_fails_when_the_recursion_is_wrong(monkeypatch):
    """The check is not vacuous: a recursion that passes the adjoint back unchanged
    (grad_h_{t-1} = grad_h_t, the step's Jacobian forgotten) disagrees with the unrolled loss."""
    model = nn.from_spec("gru(3,4) dense(4,2)")
    assert sequence.check(model, steps=4).ok
    monkeypatch.setitem(model.step_derivation.results, "h_prev", model.adjoints["h"])
    report = sequence.check(model, steps=4)
    assert not report.ok and report.errors["Wy"] < 1e-6 and report.errors["Wz"] > 1e-3


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_steps_and_latex_are_the_same_for_every_t(capsys, cell):
    outputs = {}
    for view in ("--steps", "--latex"):
        for steps in ("3", "30"):
            code, outputs[view, steps], _ = run(capsys, "net", f"{cell}(2,3) dense(3,1)", "--input",
                                                f"{steps},2", view)
            assert code == 0
        assert outputs[view, "3"] == outputs[view, "30"]
    tex = outputs["--latex", "3"]
    assert tex.startswith(r"\begin{aligned}") and braces_balanced(tex)
    assert r"\nabla_{W} &= \sum_{t=1}^{T} \frac{\partial s_{t}}{\partial W}" in tex
    assert r"\nabla_{h_{t-1}} &= \frac{\partial s_{t}}{\partial h_{\mathrm{prev}}}" in tex
    assert "h_{t} &=" in tex and "@" not in tex
    assert ("c_{t} &=" in tex) == (cell == "lstm")
    assert "a generic step t" in outputs["--steps", "3"]


def test_latex_note_layouts_and_tex_file(capsys, tmp_path):
    model = nn.Recurrent(nn.LSTM(2, 3), n_out=1)
    assert model.latex("right").count("&&") >= 3 and r"\overset{(1)}{=}" in model.latex("tags")
    path = tmp_path / "lstm.tex"
    code, out, _ = run(capsys, "net", "lstm(2,3) dense(3,1)", "--input", "T,2", "--tex", str(path))
    assert code == 0 and out == f"wrote {path}\n"
    assert "Backprop through time: lstm(2,3) dense(3,1)" in path.read_text()


@pytest.mark.parametrize("argv, message", [
    (["lstm(8,16) dense(16,2)", "--input", "T,4"],
     "lstm(8,16) expects 8 features per step, got T x 4 (T x features) (layer 1)"),
    (["lstm(8,16) dense(10,2)", "--input", "T,8"],
     "dense(10,2) expects 10 inputs, got 16 features, the hidden state of lstm(8,16) (layer 2)"),
    (["gru(8,16) dense(16,1)", "--input", "1,28,28"],
     "gru(8,16) needs sequences (--input T,8), got 1 x 28 x 28 (C x H x W)"),
    (["rnn(8,16) relu dense(16,1)"], "relu (layer 2): after rnn(8,16) a recurrent net takes one dense"),
    (["lstm(8,16)"], "lstm(8,16) needs a dense read-out of its last hidden state"),
    (["dense(8,16) lstm(16,4) dense(4,1)"], "lstm(16,4) (layer 2): a recurrent cell comes first"),
    (["gru(8,16) gru(16,16) dense(16,1)"], "stacked cells are not supported"),
    (["lstm(8,16) dense(16,1,bias=false)"], "the read-out of a recurrent net has a bias"),
    (["lstm(8) dense(16,1)"], "lstm needs two sizes, lstm(N_IN, N_HIDDEN), got 1"),
    (["lstn(8,16) dense(16,1)"], "unknown layer 'lstn'; did you mean lstm?"),
    (["gur(8,16) dense(16,1)"], "did you mean gru?"),
    (["simplernn(8,16) dense(16,1)"], "did you mean rnn?"),
    (["dense(8,16) dense(16,1)", "--input", "T,8"], "--input T,features is for recurrent nets"),
    (["lstm(8,16) dense(16,1)", "--loss", "ce"], "use --loss softmax_ce"),
    (["lstm(8,16) dense(16,1)", "--weight-decay", "0.1"], "--decoupled-weight-decay"),
], ids=lambda v: v[0] if isinstance(v, list) else "")
def test_errors_are_one_line_naming_the_layer(capsys, argv, message):
    code, out, err = run(capsys, "net", *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_codegen_writes_a_loop_module_that_trains_with_adam(capsys, tmp_path):
    path = tmp_path / "train.py"
    code, out, err = run(capsys, "codegen", "--net", "lstm(2,8) dense(8,1)", "--input", "T,2",
                         "--optimizer", "adam", "--lr", "0.02", "-o", str(path))
    assert code == 0 and out == f"wrote {path}\n", err
    source = path.read_text()
    assert "for t in reversed(range(T)):" in source and "def update(params, grads, state, step)" in source
    spec = importlib.util.spec_from_file_location("train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    model = nn.from_spec("lstm(2,8) dense(8,1)")
    params = {n: 0.3 * rng.standard_normal(s) for n, s in model.parameter_shapes().items()}
    state = module.init_state(params)
    X = rng.standard_normal((6, 16, 2))                 # T = 6 here, 9 below: T at run time
    Y = X[:2, :, :1].sum(axis=0)                         # the sum of the first two inputs
    losses = []
    for step in range(60):
        loss, grads = module.value_and_grad_sequence(X, Y, **params)
        params, state = module.update(params, grads, state, step)
        losses.append(loss)
    assert losses[-1] < 0.5 * losses[0]
    assert np.shape(module.predict_sequence(rng.standard_normal((9, 4, 2)), **params)) == (4, 1)


def test_codegen_of_a_recurrent_net_is_numpy_only(capsys):
    code, _, err = run(capsys, "codegen", "--net", "rnn(2,3) dense(3,1)", "--backend", "jax")
    assert code == 2 and "generated for NumPy only" in err


def test_parse_errors_of_cells_point_at_the_layer():
    with pytest.raises(ParseError, match="a size must be a positive integer"):
        nn.from_spec("rnn(0,3) dense(3,1)")
    with pytest.raises(ShapeError, match=r"rnn\(2,3\) expects 2 features per step, got 5 x 4"):
        nn.from_spec("rnn(2,3) dense(3,1)", input=(5, 4))


def test_the_web_page_and_check_backward_say_where_recurrent_nets_are(capsys, tmp_path):
    from matcalc.web.answer import network_answer

    class Job:
        net, loss, batch, check, code = "lstm(2,3) dense(3,1)", "sse", "N", False, False
    assert "matcalc net SPEC --input T,features" in network_answer(Job)["error"]["message"]
    script = tmp_path / "mine.py"
    script.write_text("def forward(X):\n    return X\n")
    code, _, err = run(capsys, "check-backward", str(script), "--net", "rnn(2,3) dense(3,1)")
    assert code == 2 and "recurrent nets (rnn, gru, lstm) are not supported" in err


@pytest.mark.parametrize("loss", ["sse", "mse", "softmax_ce", "bce", "mae", "huber"])
def test_check_holds_for_every_loss_and_a_numeric_batch(loss):
    model = nn.from_spec("gru(2,3) dense(3,2)", loss=loss, batch="6", input=(4, 2))
    report = sequence.check(model, steps=4)
    assert report.ok and report.sizes == {"N": 6, "T": 4}, str(report)
