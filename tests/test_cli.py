"""The command line: real output of the README commands, one-line errors with exit code 2."""
import subprocess
import sys

import pytest

from matcalc.cli import main


def run(*argv):
    return subprocess.run([sys.executable, "-m", "matcalc.cli", *argv], capture_output=True, text=True)


def test_grad_prints_the_human_form():
    r = run("grad", "tr(X @ A @ X.T)", "--wrt", "X", "--shape", "X=n,m", "--shape", "A=m,m")
    assert r.returncode == 0
    assert r.stdout.strip() == "X@(A + A.T)"


def test_grad_logistic_regression():
    r = run("grad", "sum(log(1 + exp(X @ w))) - y.T @ X @ w", "--wrt", "w", "--shape", "X=N,d",
            "--shape", "w=d", "--shape", "y=N")
    assert r.stdout.strip() == "X.T@(sigmoid(X@w) - y)"


def test_steps_and_latex(capsys):
    assert main(["grad", "logdet(X)", "--wrt", "X", "--shape", "X=n,n", "--steps"]) == 0
    out = capsys.readouterr().out
    assert "tr(inv(X)@dX)" in out and "inv(X).T" in out and "transposed Jacobian" in out
    assert main(["grad", "logdet(X)", "--wrt", "X", "--shape", "X=n,n", "--latex"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\\begin{aligned}") and out.strip().endswith("\\end{aligned}")


def test_check_reports_small_error(capsys):
    assert main(["grad", "x.T @ A @ x", "--wrt", "x", "--shape", "x=n", "--shape", "A=n,n",
                 "--check"]) == 0
    assert "relative error" in capsys.readouterr().out


def test_several_variables(capsys):
    assert main(["grad", "tr(A @ B)", "--wrt", "A", "--wrt", "B", "--shape", "A=n,m",
                 "--shape", "B=m,n"]) == 0
    assert capsys.readouterr().out.splitlines() == ["A: B.T", "B: A.T"]


@pytest.mark.parametrize("argv, message", [
    (["grad", "tr(X @@ A)", "--wrt", "X", "--shape", "X=n,n", "--shape", "A=n,n"], "column 7"),
    (["grad", "X @ A", "--wrt", "X", "--shape", "X=n,m", "--shape", "A=n,m"], "n x m @ n x m"),
    (["grad", "__import__('os').system('id')", "--wrt", "X", "--shape", "X=n,n"], "parse error"),
    (["grad", "tr(X)", "--wrt", "Y", "--shape", "X=n,n"], "Y does not occur"),
    (["grad", "foo(X)", "--wrt", "X", "--shape", "X=n,n"], "unknown function 'foo'"),
    (["grad", "tr(X)", "--wrt", "X", "--shape", "X=n,m"], "square"),
    (["grad", "tr(X)", "--wrt", "X", "--shape", "X"], "bad --shape"),
    (["grad", "(" * 10000 + "X" + ")" * 10000, "--wrt", "X", "--shape", "X=n,n"], "nested"),
    (["nonsense"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message):
    r = run(*argv)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert message in lines[0]
    assert "Traceback" not in r.stderr


def test_check_with_sizes_as_numbers_uses_the_independent_evaluator(capsys):
    assert main(["grad", "tr(X@A)", "--wrt", "X", "--shape", "X=3,3", "--shape", "A=3,3",
                 "--check"]) == 0
    assert "as typed, by an independent evaluator: ok" in capsys.readouterr().out


def test_codegen_workspace_flag(tmp_path, capsys):
    """`matcalc codegen ... --workspace` writes the module whose intermediates go into reused
    buffers (codegen.numpy_source(..., workspace=True)): the same source, and a module whose
    gradients equal the plain module's; the kinds and backends without a workspace are refused
    in one line."""
    import importlib.util

    import numpy as np

    import codegen
    from matcalc import nn
    spec = "dense(4,3) relu dense(3,2)"
    out = tmp_path / "ws_net.py"
    assert main(["codegen", "--net", spec, "--workspace", "--name", "ws_net", "-o", str(out)]) == 0
    source = out.read_text()
    assert source == codegen.numpy_source(nn.from_spec(spec, loss="sse"), name="ws_net",
                                          workspace=True)
    assert "def _mc_workspace(" in source and "out=buf" in source
    plain_out = tmp_path / "plain_net.py"
    assert main(["codegen", "--net", spec, "-o", str(plain_out)]) == 0
    assert "_mc_workspace" not in plain_out.read_text()
    modules = []
    for path in (out, plain_out):
        loaded = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(loaded)
        loaded.loader.exec_module(module)
        modules.append(module)
    rng = np.random.default_rng(0)
    values = {"X": rng.standard_normal((5, 4)), "Y": rng.standard_normal((5, 2)),
              "W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal(3),
              "W2": rng.standard_normal((3, 2)), "b2": rng.standard_normal(2)}
    (ws_loss, ws_grads), (loss, grads) = (m.value_and_grad(**values) for m in modules)
    assert np.isclose(ws_loss, loss)
    for name, g in grads.items():
        np.testing.assert_allclose(ws_grads[name], g, rtol=1e-12, err_msg=name)
    assert main(["codegen", "sum(X @ w)", "--wrt", "w", "--shape", "X=n,3", "--shape", "w=3",
                 "--workspace"]) == 0
    assert "def _mc_workspace(" in capsys.readouterr().out
    for argv, words in ((["--backend", "jax"], "backend 'jax'"), (["--kind", "hessian"], "hessian")):
        r = run("codegen", "sum(X @ w)", "--wrt", "w", "--shape", "X=n,3", "--shape", "w=3",
                "--workspace", *argv)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
