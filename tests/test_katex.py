"""Every derivation of a small corpus renders in KaTeX (throwOnError) and MathJax 3 (TeX input
with base and ams only, errors thrown), in each layout of the notes, and so does every identity a
rule can cite: the corpus gradients, Jacobians and Hessians that matcalc derives, HVPs and
networks (tests/typeset_corpus.py). Rendering runs once through tests/katex/render.js; the tests
skip when node or the npm packages are absent (`npm install --prefix tests/katex`)."""
import json
import pathlib
import shutil
import subprocess

import pytest

from matcalc.printing.identity import identity_latex, identity_parts
from matcalc.printing.latex import NOTE_LAYOUTS
from typeset_corpus import derivations, rules

HERE = pathlib.Path(__file__).parent / "katex"
if shutil.which("node") is None or not (HERE / "node_modules" / "katex").is_dir():
    pytest.skip("node or the katex npm package is absent (npm install --prefix tests/katex)",
                allow_module_level=True)

FORMULAS = {}
for name, d in derivations():
    for notes in NOTE_LAYOUTS:
        FORMULAS[f"{name}-{notes}"] = d.latex(notes)
for name, rule in rules():
    FORMULAS[f"identity {name}"] = identity_latex(rule.identity)
    FORMULAS[f"identity {name} (script)"] = r"{\scriptstyle " + \
        r";\quad ".join(identity_parts(rule.identity, script=True)) + "}"


@pytest.fixture(scope="module")
def rendered():
    names = list(FORMULAS)
    r = subprocess.run(["node", str(HERE / "render.js")], input=json.dumps([FORMULAS[n] for n in names]),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return dict(zip(names, json.loads(r.stdout)))


def test_the_corpus_is_large():
    assert len(FORMULAS) > 250


@pytest.mark.parametrize("name", list(FORMULAS))
def test_katex_renders(rendered, name):
    assert rendered[name]["katex"] is None, rendered[name]["katex"]


@pytest.mark.parametrize("name", list(FORMULAS))
def test_mathjax3_renders(rendered, name):
    if rendered[name]["mathjax"] == "absent":
        pytest.skip("mathjax-full is not installed")
    assert rendered[name]["mathjax"] is None, rendered[name]["mathjax"]


def test_the_renderers_reject_what_is_not_latex():
    """The check can fail: an undefined command is an error in both renderers."""
    r = subprocess.run(["node", str(HERE / "render.js")], input=json.dumps([r"\begin{aligned} a &= \nope \end{aligned}"]),
                       capture_output=True, text=True, timeout=120)
    (result,) = json.loads(r.stdout)
    assert "nope" in result["katex"] and result["mathjax"] in ("absent",) or "nope" in result["mathjax"]
