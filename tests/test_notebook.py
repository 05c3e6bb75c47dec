"""Rich display in a real Jupyter kernel: a notebook built here creates each object and displays
it; the outputs must carry the MIME types the objects offer, and the notebook exported by
nbconvert as HTML must hold the derivations, readable, without a traceback.

The kernel is this interpreter (a kernelspec written to a temporary JUPYTER_PATH), so the test
runs the matcalc under test whatever kernels the machine has installed.
"""
import html
import json
import re
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
nbconvert = pytest.importorskip("nbconvert")
pytest.importorskip("ipykernel")

KERNEL = "matcalc-test-python"

SETUP = """\
import matcalc as mc, codegen
from matcalc import nn
f = mc.parse("tr(X @ A @ X.T)", {"X": ("n", "m"), "A": ("m", "m")})
d = mc.grad(f, "X")
net = nn.Sequential([nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 3)], loss=nn.SoftmaxCrossEntropy())
bp = net.backprop()
"""

# (source of a cell, the MIME types its output must carry, text its HTML must hold)
CELLS = [
    ("d", {"text/html", "text/latex", "text/plain"}, "X@(A + A.T)"),
    ("d.steps[2]", {"text/html", "text/latex", "text/plain"}, "product rule"),
    ("mc.hessian(mc.parse('sum(log(1 + exp(X @ w)))', {'X': ('N', 'd'), 'w': ('d',)}), 'w')",
     {"text/html", "text/latex", "text/plain"}, "sigmoid"),
    ("bp", {"text/html", "text/latex", "text/plain"}, "grad_h_relu"),
    ("net", {"text/html", "text/markdown", "text/plain"}, "h_relu = relu(h)"),
    ("d.check()", {"text/html", "text/markdown", "text/plain"}, "relative error"),
    ("codegen.compile(f, wrt=['X'])", {"text/html", "text/markdown", "text/plain"},
     "def value_and_grad("),
]


def visible(fragment):
    """The text of HTML: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """A kernelspec for sys.executable in a temporary JUPYTER_PATH; IPython and Jupyter runtime
    files go to tmp_path too."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "matcalc test (this interpreter)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return tmp_path


@pytest.fixture
def executed(kernel_env):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)] + [nbformat.v4.new_code_cell(src)
                                                     for src, _, _ in CELLS]
    nb.cells.append(nbformat.v4.new_code_cell("import sys; sys.executable"))
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=60,
                                     resources={"metadata": {"path": str(kernel_env)}})
    client.execute()
    return nb


def test_notebook_outputs_and_html_export(executed):
    python = executed.cells[-1].outputs[0]["data"]["text/plain"]
    assert python == repr(sys.executable)                # the kernel is this interpreter
    for cell, (source, mimetypes, text) in zip(executed.cells[1:], CELLS):
        assert [o["output_type"] for o in cell.outputs] == ["execute_result"], source
        data = cell.outputs[0]["data"]
        assert set(data) == mimetypes, source
        assert text in visible(data["text/html"]), source
        assert "\n" not in data["text/plain"] and len(data["text/plain"]) <= 120, source
        if "text/latex" in data:
            assert data["text/latex"].startswith("$$") and data["text/latex"].endswith("$$")

    body, _ = nbconvert.HTMLExporter().from_notebook_node(executed)
    seen = visible(body)
    assert "Traceback" not in seen
    assert seen.count(r"\begin{aligned}") >= 3          # gradient, Hessian and backprop
    for src, _, text in CELLS:
        assert text in seen, src
    assert r"\frac{\partial f}{\partial X}" in seen
    assert "the derivation as text" in seen
    for words in re.findall(r"\\text\{([^{}]*)\}", seen):
        assert "\\_" not in words, words
