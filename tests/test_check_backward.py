"""check_backward and `matcalc check-backward` (audit/, issue 12): the first wrong line of a
hand-written backward pass.

The seed programs as printed (seed 001's XOR program with its wrong Relu.backward, and the
corrected copy; seed 000's NumPy network), then each common mistake planted into a right
backward pass, one line at a time: the report must name the right intermediate and the right
kind of mistake."""
import pathlib

import pytest

import matcalc as mc
from matcalc import nn
from matcalc.cli import main

DATA = pathlib.Path(__file__).parent / "data"
EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
XOR = nn.from_spec("dense(2,3) relu dense(3,1)", loss="mse")
MLP = nn.from_spec("dense(4,3) relu dense(3,2)", loss="mse")
SEED000 = nn.from_spec("dense(1000,100,bias=false) relu dense(100,10,bias=false)", loss="sse")
TIED = mc.grad(mc.parse("sum((W @ tanh(W @ x) - y)**2)", {"W": ("n", "n"), "x": ("n",),
                                                           "y": ("n",)}), "W")
SOFTMAX = mc.grad(mc.parse("sum((softmax(W @ x) - y)**2)", {"W": ("m", "n"), "x": ("n",),
                                                             "y": ("m",)}), "W")


def test_seed001_as_printed_names_the_relu_backward():
    report = mc.check_backward(DATA / "seed001_xor.py", XOR)
    assert not report.ok
    assert report.culprit == ("grad_h", "elementwise factor")
    text = str(report)
    assert "first wrong: grad_h differs" in text
    assert "Relu.backward, line 41" in text and "return np.where(X > 0, X, 0) * grad" in text
    assert "dh_relu = step(h)*dh" in text and "relu'(X) = step(X)" in text
    assert "so grad_h = grad_h_relu*step(h)" in text
    names = [f.quantity.name for f in report.findings if f.ok]
    assert names == ["h", "h_relu", "y_pred", "grad_b2", "grad_W2", "grad_h_relu"]
    assert repr(report).endswith("first wrong grad_h (elementwise factor)>") and "\n" not in repr(report)


def test_seed001_corrected_is_right():
    report = mc.check_backward(DATA / "seed001_xor_fixed.py", XOR)
    assert report.ok and report.culprit is None
    assert str(report).endswith("all gradients right")
    assert all(f.ok for f in report.findings if f.quantity.name != "grad_y_pred")


def test_seed000_as_printed_is_right():
    report = mc.check_backward(EXAMPLES / "seed000_numpy.py", SEED000, function="forward_backward")
    assert report.ok
    assert [f.quantity.name for f in report.findings if f.ok] == [
        "h", "h_relu", "y_pred", "grad_y_pred", "grad_W2", "grad_h_relu", "grad_h", "grad_W1"]


def test_a_function_object_runs_from_its_file():
    import seed000_numpy
    assert mc.check_backward(seed000_numpy.forward_backward, SEED000).ok


def test_forward_then_backward_from_what_forward_saved():
    report = mc.check_backward(DATA / "backward_split.py", MLP)     # found: forward, backward
    assert report.ok, str(report)
    assert [f.quantity.name for f in report.findings if f.yours is None] == ["grad_h_relu"]


# (what, file, against, the right line, the planted line, the intermediate, the kind)
PLANTED = [
    ("missing transpose", "backward_mlp.py", MLP, "grad_W2 = h_relu.T @ grad_y_pred",
     "grad_W2 = grad_y_pred.T @ h_relu", "grad_W2", "transpose"),
    ("wrong side of a product", "backward_mlp.py", MLP, "grad_h_relu = grad_y_pred @ W2.T",
     "grad_h_relu = grad_y_pred.T @ W2", "grad_h_relu", "shape"),
    ("missing mask", "backward_mlp.py", MLP, "grad_h = grad_h_relu * (h > 0)",
     "grad_h = grad_h_relu", "grad_h", "missing mask"),
    ("the input for the mask", "backward_mlp.py", MLP, "grad_h = grad_h_relu * (h > 0)",
     "grad_h = grad_h_relu * np.maximum(h, 0)", "grad_h", "elementwise factor"),
    ("missing factor 2", "backward_mlp.py", MLP, "grad_y_pred = 2.0 * (y_pred - Y) / Y.size",
     "grad_y_pred = (y_pred - Y) / Y.size", "grad_y_pred", "factor"),
    ("missing factor 1/N", "backward_mlp.py", MLP, "grad_y_pred = 2.0 * (y_pred - Y) / Y.size",
     "grad_y_pred = 2.0 * (y_pred - Y)", "grad_y_pred", "factor"),
    ("bias gradient not summed over the batch", "backward_mlp.py", MLP,
     "grad_b2 = grad_y_pred.sum(axis=0)", "grad_b2 = grad_y_pred", "grad_b2", "not summed"),
    ("a sign", "backward_mlp.py", MLP, "grad_W1 = X.T @ grad_h", "grad_W1 = -X.T @ grad_h",
     "grad_W1", "sign"),
    ("weight used twice, not accumulated", "backward_tied.py", TIED,
     "grad_W = grad_W + grad_a @ x.T", "grad_W = grad_a @ x.T", "grad_W", "missing term"),
    ("softmax Jacobian treated as diagonal", "backward_softmax.py", SOFTMAX,
     "grad_z = p * (grad_p - np.sum(p * grad_p))", "grad_z = grad_p * p * (1 - p)", "grad_z",
     "diagonal Jacobian"),
]


@pytest.mark.parametrize("name, against", [("backward_mlp.py", MLP), ("backward_tied.py", TIED),
                                           ("backward_softmax.py", SOFTMAX)])
def test_the_right_passes_the_mistakes_are_planted_into_pass(name, against):
    report = mc.check_backward(DATA / name, against)
    assert report.ok and report.culprit is None, str(report)


@pytest.mark.parametrize("what, name, against, right, planted, intermediate, kind", PLANTED,
                         ids=[p[0] for p in PLANTED])
def test_a_planted_mistake_is_named(tmp_path, what, name, against, right, planted,
                                    intermediate, kind):
    source = (DATA / name).read_text()
    assert source.count(right) == 1
    wrong = tmp_path / name
    wrong.write_text(source.replace(right, planted))
    report = mc.check_backward(wrong, against)
    assert report.culprit == (intermediate, kind), str(report)
    assert planted in str(report)


SEED001_NAMES = """import numpy as np


def train_step(o0, train_y, W1, b1, W2, b2):
    a1 = o0 @ W1 + b1.T
    o1 = np.maximum(a1, 0)
    a2 = o1 @ W2 + b2.T
    grad_a2 = 2 * (a2 - train_y) / train_y.size
    dW2 = o1.T @ grad_a2
    db2 = grad_a2.sum(axis=0)
    grad_o1 = grad_a2 @ W2.T
    delta = grad_o1 * (a1 > 0)
    dW1 = o0.T @ delta
    db1 = delta.sum(axis=0)
"""


def test_names_are_mapped_and_values_matched(tmp_path):
    """Seed 001's own names (a1, o1, a2 for the layer outputs, o0 and train_y for X and Y) are
    matched by value or mapped; their gradients by the usual spellings (grad_a2, dW2); a name of
    its own (delta) with mapping=."""
    path = tmp_path / "renamed.py"
    path.write_text(SEED001_NAMES)
    report = mc.check_backward(path, MLP, mapping={"delta": "grad_h", "o0": "X", "train_y": "Y"})
    assert report.ok, str(report)
    assert "(o1)" in str(report) and "(delta)" in str(report) and "(dW1)" in str(report)


def test_only_definitions_of_the_file_run(tmp_path):
    marker = tmp_path / "ran"
    program = tmp_path / "program.py"
    program.write_text((DATA / "backward_mlp.py").read_text()
                       + f"\nopen({str(marker)!r}, 'w').write('top level ran')\n")
    assert mc.check_backward(program, MLP).ok
    assert not marker.exists()


def test_cli_seed001_and_the_fixed_copy(capsys):
    spec = ["--net", "dense(2,3) relu dense(3,1)", "--loss", "mse"]
    assert main(["check-backward", str(DATA / "seed001_xor.py")] + spec) == 1
    out = capsys.readouterr().out
    assert "first wrong: grad_h differs" in out and "Relu.backward" in out
    assert main(["check-backward", str(DATA / "seed001_xor_fixed.py")] + spec) == 0
    assert capsys.readouterr().out.strip().endswith("all gradients right")
    assert main(["check-backward", str(DATA / "seed001_xor.py"), "--latex"] + spec) == 1
    out = capsys.readouterr().out
    assert r"\boxed{" in out and "first wrong line: grad" in out
    assert out.startswith(r"\begin{aligned}") and out.strip().endswith(r"\end{aligned}")


def test_cli_expression_mode(capsys):
    assert main(["check-backward", str(DATA / "backward_tied.py"), "--expr",
                 "sum((W @ tanh(W @ x) - y)**2)", "--wrt", "W", "--shape", "W=n,n",
                 "--shape", "x=n", "--shape", "y=n"]) == 0
    assert "all gradients right" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--net", "dense(2,3)", "--expr", "x"], "--net SPEC or --expr EXPR"),
    ([], "--net SPEC or --expr EXPR"),
    (["--net", "dense(2,3) relu dense(3,1)", "--function", "nothing"], "no function 'nothing'"),
    (["--net", "dense(2,3) relu dense(3,1)", "--map", "x"], "bad --map"),
    (["--net", "dense(2,3) relu dense(3,1)", "--map", "q=grad_q"], "no quantity grad_q"),
    (["--net", "dense(2,3) relu dense(3,1)", "--layer", "relu=Nothing"], "no class Nothing"),
])
def test_cli_bad_input_is_one_line_with_exit_2(capsys, argv, message):
    assert main(["check-backward", str(DATA / "backward_mlp.py")] + argv) in (1, 2)
    captured = capsys.readouterr()
    assert message in captured.err + captured.out
    assert "Traceback" not in captured.err


def test_a_file_that_does_not_parse_is_one_line(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("def f(X:\n    return X\n")
    assert main(["check-backward", str(broken), "--net", "dense(2,3)"]) == 2
    assert "broken.py: syntax error at line 1" in capsys.readouterr().err


def test_missing_file_and_time_limit(tmp_path, capsys):
    assert main(["check-backward", str(tmp_path / "none.py"), "--net", "dense(2,3)"]) == 2
    assert "no such file" in capsys.readouterr().err.lower()
    slow = tmp_path / "slow.py"
    slow.write_text("def forward_backward(X, Y, W1, b1):\n    while True:\n        pass\n")
    assert main(["check-backward", str(slow), "--net", "dense(2,3)", "--timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not finish within 1 s" in err


def test_the_marked_derivations_render_in_katex_and_mathjax(capsys):
    """The --latex outputs of a wrong backward pass and a wrong formula typeset (KaTeX and
    MathJax 3 with errors on, through tests/katex/render.js, as tests/test_katex.py does)."""
    import json
    import shutil
    import subprocess
    katex = pathlib.Path(__file__).parent / "katex"
    if shutil.which("node") is None or not (katex / "node_modules" / "katex").is_dir():
        pytest.skip("node or the katex npm package is absent (npm install --prefix tests/katex)")
    main(["check-backward", str(DATA / "seed001_xor.py"), "--net", "dense(2,3) relu dense(3,1)",
          "--latex"])
    main(["grad", "x.T @ A @ x", "--wrt", "x", "--shape", "x=n", "--shape", "A=n,n",
          "--expect", "A@x", "--latex"])
    outputs = capsys.readouterr().out.split("\\end{aligned}\n")[:2]
    formulas = [o + "\\end{aligned}" for o in outputs]
    assert all(r"\boxed{" in f for f in formulas)
    r = subprocess.run(["node", str(katex / "render.js")], input=json.dumps(formulas),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for result in json.loads(r.stdout):
        assert result["katex"] is None, result["katex"]
        assert result["mathjax"] in (None, "absent"), result["mathjax"]
