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
