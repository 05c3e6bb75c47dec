"""Issue 14: users' own notation, shell and habits. CLI cases run the installed `matcalc`
console script in a subprocess, as a user would."""
import json
import shutil
import subprocess

import numpy as np
import pytest

import matcalc as mc
from matcalc.notation.matrixcalculus import translate
from matcalc.notation.parse import source_of

MATCALC = shutil.which("matcalc")
needs_script = pytest.mark.skipif(MATCALC is None, reason="the matcalc console script is not installed")


def run(*argv, stdin=None):
    return subprocess.run([MATCALC, *argv], capture_output=True, text=True, input=stdin)


# ---- matrixcalculus.org's syntax ---------------------------------------------------------------
@pytest.mark.parametrize("text, notation", [
    ("x'*A*x", "x.T @ A @ x"),
    ("tr(X*A*X')", "tr(X @ A @ X.T)"),
    ("X^-1", "inv(X)"),
    ("A^3", "matrix_power(A, 3)"),
    ("x.^2 .* y", "x**2 * y"),
    ("exp(-x)./y", "exp(-x) / y"),
    ("a*x'*x + norm2(x)", "a * x.T @ x + norm(x)"),
    ("sum(log(vector(1) + exp(X*w)))", "sum(log(ones(n) + exp(X @ w)))"),
    ("(A*B)'", "(A @ B).T"),
])
def test_matrixcalculus_syntax_is_translated(text, notation):
    assert translate(text).text == notation


def test_mc_letter_conventions_are_announced_and_declared_shapes_win():
    t = translate("a*x'*A*x")
    assert t.assumed == {"a": (), "x": ("n",), "A": ("n", "n")}
    assert "assuming a: scalar, x: n x 1, A: n x n" in t.note()
    assert translate("X*w", {"X": ("N", "d"), "w": ("d",)}).assumed == {}


def test_mc_parse_derives_like_the_notation():
    f = mc.parse("x'*A*x", syntax="mc")
    assert mc.to_text(mc.grad(f, "x").result) == "(A + A.T)@x"
    assert source_of(f).hints[0].startswith("read as: x.T @ A @ x")


# ---- errors that teach --------------------------------------------------------------------------
SHAPES = {"x": ("n",), "A": ("n", "n"), "B": ("n", "n"), "X": ("n", "m")}


@pytest.mark.parametrize("text, says", [
    ("x'*A*x", "the transpose is written .T"),
    ("x^2", "the elementwise power is written **"),
    ("x.T*A", "did you mean @"),
    ("trace(A)", "did you mean tr?"),
    ("Tr(A)", "did you mean tr?"),
    ("sigmod(A)", "did you mean sigmoid"),
    ("norm2(A)", "takes a vector"),
    ("norm(x, -1)", "positive number"),
    ("clip(x, 1)", "clip() takes 3 arguments"),
])
def test_errors_teach(text, says):
    with pytest.raises(mc.MatcalcError) as e:
        mc.parse(text, SHAPES)
    assert says in str(e.value)


def test_tr_of_an_elementwise_product_of_squares_is_noted():
    assert "elementwise" in source_of(mc.parse("tr(A*B)", SHAPES)).hints[0]
    assert source_of(mc.parse("tr(A@B)", SHAPES)).hints == ()


# ---- the functions users reach for --------------------------------------------------------------
@pytest.mark.parametrize("text, wrt", [
    ("sum(max(0.2*x, x))", "x"), ("max(x)", "x"), ("min(A)", "A"), ("sum(clip(x, -1, 1))", "x"),
    ("norm(x, 3)", "x"), ("norm1(A)", "A"), ("norm2(x)", "x"), ("sum(minimum(A, B))", "B"),
])
def test_new_functions_derive_and_check(text, wrt):
    d = mc.grad(mc.parse(text, SHAPES), wrt)
    assert d.check().ok


def test_leaky_relu_written_as_max_is_leaky_relu():
    f = mc.parse("sum(max(0.2*x, x))", {"x": ("n",)})
    g = mc.evaluate(mc.grad(f, "x").result, {"x": np.array([-2.0, 3.0])}).ravel()
    assert np.allclose(g, [0.2, 1.0])


# ---- the command line ---------------------------------------------------------------------------
@needs_script
def test_version_and_python_dash_m():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("matcalc ") and mc.__version__ in r.stdout
    import sys
    r = subprocess.run([sys.executable, "-m", "matcalc", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and "matcalc-diffid" in r.stdout


@needs_script
def test_expression_from_stdin_and_file(tmp_path):
    r = run("grad", "-", "--wrt", "X", "--shape", "X=n,n", stdin="logdet(X)\n")
    assert r.stdout.strip() == "inv(X).T"
    path = tmp_path / "f.txt"
    path.write_text("tr(X @ A @ X.T)\n")
    r = run("grad", f"@{path}", "--wrt", "X", "--shape", "X=n,m", "--shape", "A=m,m")
    assert r.stdout.strip() == "X@(A + A.T)"


@needs_script
def test_formats():
    base = ["grad", "tr(X @ A @ X.T)", "--wrt", "X", "--shape", "X=n,m", "--shape", "A=m,m"]
    assert run(*base, "--format", "latex", "--result-only").stdout.strip() == "X (A + A^{T})"
    assert run(*base, "--format", "numpy").stdout.strip() == "X @ (A + A.T)"
    data = json.loads(run(*base, "--format", "json", "--check").stdout)
    assert data["results"]["X"]["text"] == "X@(A + A.T)"
    assert data["results"]["X"]["shape"] == ["n", "m"]
    assert data["check"]["ok"] is True
    assert all({"rule", "identity", "before", "after"} <= set(s) for s in data["steps"])
    assert data["shapes"] == {"A": ["m", "m"], "X": ["n", "m"]}


@needs_script
def test_format_numpy_is_one_expression_needing_only_numpy():
    """Generated modules call their _sigmoid helper; one printed expression spells it inline."""
    r = run("grad", "sum(log(1 + exp(X@w))) - y.T@X@w", "--wrt", "w", "--shape", "X=N,d",
            "--shape", "w=d", "--shape", "y=N", "--format", "numpy")
    assert r.stdout.strip() == "X.T @ (np.exp(-np.logaddexp(0.0, -(X @ w))) - y)"


@needs_script
def test_json_shapes_include_the_assumed_ones():
    data = json.loads(run("grad", "sum(x**a) + tr(A)", "--wrt", "x", "--shape", "A=n,n",
                          "--format", "json").stdout)
    assert data["shapes"] == {"A": ["n", "n"], "a": [], "x": ["n", "1"]}


@needs_script
def test_syntax_mc_shows_the_translation():
    r = run("grad", "x'*A*x", "--wrt", "x", "--syntax", "mc")
    assert r.returncode == 0 and r.stdout.strip() == "(A + A.T)@x"
    assert "read as: x.T @ A @ x (assuming x: n x 1, A: n x n)" in r.stderr


@needs_script
@pytest.mark.parametrize("argv, says", [
    (["gard", "tr(X)"], "did you mean grad?"),
    (["grad", "tr(X)", "--wrt", "X", "--shape", "X=nxn"], "write X=n,n"),
    (["grad", "tr(X)", "--wrt", "X", "--shape", "X=n,n", "--shape", "X=m,m"], "given twice"),
    (["grad", "tr(A@B@C@D)", "--wrt", "A"], "--shape A=n,m"),
    (["grad", "x.T*A", "--wrt", "x", "--shape", "x=n", "--shape", "A=n,n"], "did you mean @"),
])
def test_cli_errors_teach_in_one_line(argv, says):
    r = run(*argv)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and says in r.stderr


@needs_script
def test_tr_hint_on_stderr():
    r = run("grad", "tr(A*B)", "--wrt", "A", "--shape", "A=n,n", "--shape", "B=n,n")
    assert r.returncode == 0 and "elementwise" in r.stderr


# ---- progress, help ---------------------------------------------------------------------------
class _Terminal:
    def __init__(self):
        self.written = []

    def isatty(self):
        return True

    def write(self, s):
        self.written.append(s)

    def flush(self):
        pass


def test_progress_line_only_on_a_terminal_and_only_after_the_delay(monkeypatch):
    import io
    import time
    from matcalc import progress
    monkeypatch.setattr(progress, "DELAY", 0.05)
    tty = _Terminal()
    with progress.Progress("deriving", tty):
        time.sleep(0.2)
    assert tty.written[0].startswith("\rmatcalc: deriving ... ") and tty.written[-1] == "\r\033[K"
    pipe = io.StringIO()
    with progress.Progress("deriving", pipe):
        time.sleep(0.2)
    assert pipe.getvalue() == ""
    quick = _Terminal()
    monkeypatch.setattr(progress, "DELAY", 5.0)
    with progress.Progress("deriving", quick):
        pass
    assert quick.written == []


@needs_script
def test_help_topics():
    assert run("help", "notation").stdout.startswith("# The matcalc notation")
    assert "matrixcalculus.org" in run("help", "cheatsheet").stdout
    assert "--syntax" in run("help", "grad").stdout
    r = run("help", "notatoin")
    assert r.returncode == 2 and "did you mean notation?" in r.stderr


@needs_script
@pytest.mark.parametrize("argv, result, assumed", [
    (["grad", "x.T@A@x", "--wrt", "x", "--shape", "x=n"], "(A + A.T)@x", "assuming A: n x n"),
    (["grad", "sum(log(1 + exp(X @ w))) - y.T @ X @ w", "--wrt", "w", "--shape", "X=N,d"],
     "X.T@(sigmoid(X@w) - y)", "assuming w: d x 1, y: N x 1"),
    (["grad", "logdet(X)", "--wrt", "X"], "inv(X).T", "assuming X: n x n"),
])
def test_missing_shapes_are_inferred_and_announced(argv, result, assumed):
    r = run(*argv)
    assert r.returncode == 0 and r.stdout.strip() == result
    assert assumed in r.stderr


def test_inference_prefers_what_the_expression_fixes():
    from matcalc.notation.infer import infer_shapes
    assert infer_shapes("tr(X@A@X.T)", {"X": ("n", "m")}) == {"A": ("m", "m")}
    assert infer_shapes("x.T@A@x", {"x": ("n",)}) == {"A": ("n", "n")}
    assert infer_shapes("tr(X)", {"X": ("n", "n")}) == {}


def test_the_unrelated_matcalc_distribution_is_named_when_installed(monkeypatch):
    from importlib import metadata
    from matcalc import __main__ as entry

    class Other:
        version = "1.0.0"

    monkeypatch.setattr(metadata, "distribution",
                        lambda name: Other() if name == "matcalc" else None)
    note = entry.shadowing_note()
    assert "unrelated distribution 'matcalc' 1.0.0" in note and "pip uninstall matcalc" in note

    def missing(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(metadata, "distribution", missing)
    assert entry.shadowing_note() == ""


def test_a_dimension_is_a_number_in_the_notation():
    """sum(x)/n divides by the size of x (issue 14: mean and division by a dimension); the
    check runs against the text as typed, whose evaluator reads n off the values' shapes."""
    import numpy as np
    import matcalc as mc
    from matcalc import codegen
    shapes = {"x": ("n",)}
    f = mc.parse("sum((x - sum(x)/n)**2)/n", shapes)
    d = mc.grad(f, "x")
    report = d.check()
    assert report.ok and report.against.endswith("as typed, by an independent evaluator")
    x = np.array([1.0, 2.0, 4.0, 7.0])
    want = 2 * (x - x.mean()) / 4
    np.testing.assert_allclose(np.ravel(mc.evaluate(d.result, {"x": x})), want)
    value, grads = codegen.compile(f, wrt=["x"])(x=x)
    np.testing.assert_allclose(value, np.var(x))
    np.testing.assert_allclose(grads["x"], want)


@needs_script
def test_dividing_by_a_dimension_on_the_command_line():
    r = run("grad", "mean((X@w - y)**2)", "--wrt", "w", "--shape", "X=N,d", "--shape", "w=d",
            "--shape", "y=N", "--format", "numpy")
    assert r.stdout.strip() == "2.0 * (1.0 / N) * (X.T @ (X @ w - y))"
    r = run("grad", "sum((X@w - y)**2)/N", "--wrt", "w", "--shape", "X=N,d", "--shape", "w=d",
            "--shape", "y=N", "--check")
    assert r.returncode == 0 and "ok" in r.stdout and "as typed" in r.stdout
