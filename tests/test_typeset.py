"""Derivations typeset like a textbook: identities as mathematics, notes where they fit a page,
long sums broken over lines, and a standalone document that pdflatex compiles on A4 without an
overfull line (matcalc/printing/identity.py, latex.py's render_aligned, document.py)."""
import re
import shutil
import subprocess

import pytest
import sympy as sp

import matcalc as mc
from checks import braces_balanced
from matcalc.cli import main
from matcalc.derive.derivation import Derivation
from matcalc.printing.document import standalone
from matcalc.printing.identity import identity_latex, notes_in, prose_latex, translate
from matcalc.printing.latex import (NOTE_LAYOUTS, WIDTH, Note, latex, render_aligned,
                                    visible_width)
from typeset_corpus import derivations, rules, seed000

DERIVATIONS = derivations()
SEED_SPEC = "dense(1000,100,bias=false) relu dense(100,10,bias=false)"


def text_groups(tex):
    """The contents of every \\text{...} in tex (braces balanced)."""
    out = []
    for m in re.finditer(r"\\text\{", tex):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(tex[i], 0)
            i += 1
        out.append(tex[m.end():i - 1])
    return out


def balanced(tex):
    return braces_balanced(tex) and tex.count(r"\left") == tex.count(r"\right")


# -- identities ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, rule", rules(), ids=[n for n, _ in rules()])
def test_every_rule_identity_translates(name, rule):
    tex, reason = translate(rule.identity)
    assert reason is None, f"{name}: {rule.identity!r} falls back to \\text: {reason}"
    assert balanced(tex)
    assert not re.search(r"@|\.T\b|\*\*|=>|\binv\(|\bkron\(", tex), tex
    assert r"\text" not in tex or re.fullmatch(r".*\\text\{(with|for) \}.*", tex)


def test_no_identity_falls_back():
    """Every identity any rule, or any step of the corpus derivations, can cite is read as
    mathematics: the count of fallbacks to \\text is zero."""
    cited = {r.identity for _, r in rules()}
    for _, d in DERIVATIONS:
        if isinstance(d, Derivation):
            cited |= {s.identity for s in d.steps if s.rule not in ("differential", "simplify")}
    fallbacks = {text: translate(text)[1] for text in cited if translate(text)[1] is not None}
    assert len(cited) > 60
    assert fallbacks == {}


@pytest.mark.parametrize("text, expected", [
    ("tr(G.T@A@dW) = tr((A.T@G).T@dW)",
     r"\operatorname{tr}(G^{T} A\,\mathrm{d}W) = \operatorname{tr}((A^{T} G)^{T}\,\mathrm{d}W)"),
    ("d(A@B) = dA@B + A@dB", r"\mathrm{d}(A B) = \mathrm{d}A\,B + A\,\mathrm{d}B"),
    ("vec(A@dX@B) = kron(B.T, A)@vec(dX)",
     r"\operatorname{vec}(A\,\mathrm{d}X\,B) = (B^{T} \otimes A) \operatorname{vec}(\mathrm{d}X)"),
    ("d(inv(A)) = -(inv(A)@dA@inv(A))", r"\mathrm{d}(A^{-1}) = -(A^{-1}\,\mathrm{d}A\,A^{-1})"),
    ("inv(A@B)", r"(A B)^{-1}"),
    ("sigmoid'(X) = sigmoid(X)*(1 - sigmoid(X))",
     r"\sigma'(X) = \sigma\left(X\right) \odot (1 - \sigma\left(X\right))"),
    ("d(a*b) = a*db + b*da", r"\mathrm{d}(a b) = a\,\mathrm{d}b + b\,\mathrm{d}a"),
    ("df = tr(G.T@dX)  =>  df/dX = G",
     r"\mathrm{d}f = \operatorname{tr}(G^{T}\,\mathrm{d}X) \;\Rightarrow\; \frac{\partial f}{\partial X} = G"),
    ("sum(dX) = ones(n*m).T@vec(dX)",
     r"\operatorname{sum}\left(\mathrm{d}X\right) = \mathbf{1}_{n m}^{T} \operatorname{vec}(\mathrm{d}X)"),
    ("d(A**p) = p*A**(p - 1)*dA", r"\mathrm{d}(A^{\circ p}) = p A^{\circ (p - 1)} \odot \mathrm{d}A"),
    ("g*tr(dX) = tr((g*eye(n)).T@dX)",
     r"g \operatorname{tr}(\mathrm{d}X) = \operatorname{tr}((g I_{n})^{T}\,\mathrm{d}X)"),
    ("vec(dX.T) = commutation(n, m)@vec(dX)",
     r"\operatorname{vec}(\mathrm{d}X^{T}) = K_{n,m} \operatorname{vec}(\mathrm{d}X)"),
    ("d vec F = J@d vec X  =>  J",
     r"\mathrm{d}\operatorname{vec} F = J\,\mathrm{d}\operatorname{vec} X \;\Rightarrow\; J"),
    ("H[V] = d(g) with dX := V", r"H[V] = \mathrm{d}g \quad \text{with } \mathrm{d}X := V"),
    ("d(h) = dX; d(tr(A)) = tr(dA)",
     r"\mathrm{d}h = \mathrm{d}X;\quad \mathrm{d}\operatorname{tr}(A) = \operatorname{tr}(\mathrm{d}A)"),
    ("relu'(X) = step(X)", r"\operatorname{relu}'(X) = \operatorname{step}\left(X\right)"),
    ("sqrt'(X) = (1/sqrt(X))/2", r"\left(\sqrt{\cdot}\right)'(X) = (1/\sqrt{X})/2"),
    ("N x 100", r"N \times 100"),
    ("d(W@x) = J@dx  =>  J (p x n)",
     r"\mathrm{d}(W x) = J\,\mathrm{d}x \;\Rightarrow\; J (p \times n)"),
])
def test_identity_spelling(text, expected):
    assert identity_latex(text) == expected


def test_prose_is_words_with_a_reason():
    tex, reason = translate("take the differential of both sides")
    assert tex == r"\text{take the differential of both sides}"
    assert "word" in reason


def test_script_style_writes_the_spaces_out():
    """Script style drops the spaces around = and +, so a note set small writes them."""
    assert identity_latex("d(A + B) = dA + dB") == r"\mathrm{d}(A + B) = \mathrm{d}A + \mathrm{d}B"
    assert Note("linearity", "d(A + B) = dA + dB")
    from matcalc.printing.identity import identity_parts
    assert identity_parts("d(A + B) = dA + dB", script=True) == \
        [r"\mathrm{d}(A\, + \,B)\; = \;\mathrm{d}A\, + \,\mathrm{d}B"]


def test_network_notes_are_read_as_notes():
    assert notes_in("product rule: d(A@B) = dA@B + A@dB; relu': relu'(X) = step(X)") == \
        [Note("product rule", "d(A@B) = dA@B + A@dB"), Note("relu'", "relu'(X) = step(X)")]
    assert notes_in("dL = tr(grad_h.T @ dh)") == [Note("", "dL = tr(grad_h.T @ dh)")]
    assert notes_in("read off: the gradient w.r.t. W2") == [r"\text{read off: the gradient w.r.t. } W_{2}"]
    assert prose_latex("Dense layer y_pred = h_relu@W2:") == \
        r"\text{Dense layer } y_{\mathrm{pred}} = h_{\mathrm{relu}} W_{2}\text{:}"


# -- layouts ---------------------------------------------------------------------------------------
ROWS = [(r"\mathrm{d}f", r"\mathrm{d}(A B)", ""),
        ("", r"\mathrm{d}A\,B + A\,\mathrm{d}B", Note("product rule", "d(A@B) = dA@B + A@dB")),
        ("", r"B^{T}", Note("transpose", "d(A.T) = dA.T")),
        ("", r"C", Note("product rule", "d(A@B) = dA@B + A@dB"))]


def test_notes_below_stand_small_under_their_line():
    lines = render_aligned(ROWS).splitlines()
    assert render_aligned(ROWS) == render_aligned(ROWS, notes="below")
    i = next(k for k, l in enumerate(lines) if l.startswith(r" &= \mathrm{d}A"))
    assert lines[i + 1].startswith(r"&\qquad {\scriptstyle \text{product rule:}\ \mathrm{d}(A")
    assert "&&" not in render_aligned(ROWS)


def test_notes_as_tags_number_each_distinct_note_once():
    tex = render_aligned(ROWS, notes="tags")
    assert tex.count(r"\overset{(1)}{=}") == 2 and tex.count(r"\overset{(2)}{=}") == 1
    legend = [l for l in tex.splitlines() if l.startswith(r"&{\scriptstyle (")]
    assert [l[len(r"&{\scriptstyle "):][:3] for l in legend] == ["(1)", "(2)"]
    assert r"\\[4pt]" in tex


def test_notes_right_keep_the_column():
    tex = render_aligned(ROWS, notes="right")
    assert r"&& \text{product rule:}\ \mathrm{d}(A B) = \mathrm{d}A\,B + A\,\mathrm{d}B" in tex
    assert r"\scriptstyle" not in tex


def test_unknown_layout_is_an_error():
    with pytest.raises(ValueError, match="below, tags, right"):
        render_aligned(ROWS, notes="left")


def test_a_row_without_lhs_is_a_line_of_its_own():
    assert render_aligned([(None, r"\text{Forward pass}", "")]) == \
        "\\begin{aligned}\n&\\text{Forward pass}\n\\end{aligned}"


# -- long right sides --------------------------------------------------------------------------------
def long_sum():
    X = sp.MatrixSymbol("X", 3, 3)
    names = [f"A{i}" for i in range(1, 17)]
    return sp.MatAdd(*[sp.MatMul(sp.MatrixSymbol(n, 3, 3), X, sp.MatrixSymbol(n, 3, 3).T)
                       for n in names] + [-sp.MatrixSymbol("Q", 3, 3) * X])


def test_a_long_sum_breaks_at_its_terms():
    e = long_sum()
    tex = render_aligned([("Y", e, "")])
    lines = tex.splitlines()[1:-1]
    assert len(lines) > 1
    assert all(l.startswith(r"&\quad + ") or l.startswith(r"&\quad - ") for l in lines[1:])
    assert lines[-1].rstrip(" \\").endswith(r"- Q X")
    for l in lines:
        assert visible_width(l.rstrip(" \\")) <= WIDTH
    joined = " ".join(l.replace(r"&\quad ", "").replace("Y &= ", "").rstrip(" \\") for l in lines)
    assert joined == latex(e)


def test_a_short_expression_stays_on_one_line():
    X = sp.MatrixSymbol("X", 3, 3)
    assert render_aligned([("Y", X + X.T, "")]) == \
        "\\begin{aligned}\nY &= " + latex(X + X.T) + "\n\\end{aligned}"


def test_width_counts_what_is_typeset():
    assert visible_width(r"\operatorname{tr}\left(X\right)") == 5
    assert visible_width(r"W_{1}") == pytest.approx(1.7)
    assert visible_width(r"A + B") == 4


# -- every derivation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("notes", NOTE_LAYOUTS)
def test_no_underscore_escape_inside_text(notes):
    """MathJax 2 prints \\_ inside \\text literally; text_latex writes words without it."""
    for name, d in DERIVATIONS:
        tex = d.latex(notes)
        assert balanced(tex), name
        for t in text_groups(tex):
            assert "\\_" not in t and "_" not in t, (name, t)


def test_derivation_rows_cite_notes_as_mathematics():
    d = mc.grad(mc.parse("tr(X @ A @ X.T)", {"X": ("n", "m"), "A": ("m", "m")}), "X")
    tex = d.latex()
    assert r"\text{product rule:}\ \mathrm{d}(A\, B)" not in tex     # no stray spacing
    assert r"{\scriptstyle \text{product rule:}\ \mathrm{d}(A B)\; = \;\mathrm{d}A\,B" in tex
    assert r"\frac{\partial f}{\partial X}" in tex
    assert "tr(G.T" not in tex and "@" not in tex
    assert d.latex("right").count("&&") >= 3


# -- the document and the command line ------------------------------------------------------------------
def test_standalone_is_a_complete_a4_document():
    doc = standalone(render_aligned(ROWS), title="Gradient of x_1 & 50% #1")
    assert doc.startswith("\\documentclass[11pt,a4paper]{article}\n")
    assert "\\usepackage{amsmath}" in doc and "\\allowdisplaybreaks" in doc
    assert "\\section*{Gradient of x\\_1 \\& 50\\% \\#1}" in doc
    assert "\\begin{align*}\n\\mathrm{d}f &= " in doc and "\\end{align*}\n\\end{document}\n" in doc
    assert "aligned" not in doc
    assert "\\[\nx^{2}\n\\]" in standalone("x^{2}")


def test_cli_tex_writes_a_document(tmp_path, capsys):
    path = tmp_path / "seed.tex"
    assert main(["net", SEED_SPEC, "--loss", "sse", "--tex", str(path), "--notes", "tags"]) == 0
    assert capsys.readouterr().out == f"wrote {path}\n"
    doc = path.read_text()
    assert doc.startswith("\\documentclass") and r"\overset{(1)}{=}" in doc
    path = tmp_path / "grad.tex"
    assert main(["grad", "tr(X @ A @ X.T)", "--wrt", "X", "--shape", "X=n,m", "--shape", "A=m,m",
                 "--tex", str(path), "--latex", "--notes", "right"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {path}\n\\begin{{aligned}}") and "&&" in out
    assert "&&" in path.read_text() and "Gradient of f with respect to X" in path.read_text()


def test_cli_tex_to_an_unwritable_path_is_one_line(tmp_path, capsys):
    path = tmp_path / "no such directory" / "x.tex"
    assert main(["grad", "tr(X)", "--wrt", "X", "--shape", "X=n,n", "--tex", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"matcalc: cannot write {path}: No such file or directory\n"


def test_cli_rejects_an_unknown_layout(capsys):
    assert main(["grad", "tr(X)", "--wrt", "X", "--shape", "X=n,n", "--latex", "--notes", "up"]) == 2
    assert "--notes" in capsys.readouterr().err


# -- pdflatex: every line fits A4 ------------------------------------------------------------------------
CLI_DOCUMENTS = [
    ("logistic-grad", ["grad", "sum(log(1 + exp(X @ w))) - y.T @ X @ w", "--wrt", "w",
                       "--shape", "X=N,d", "--shape", "w=d", "--shape", "y=N"]),
    ("sigmoid-grad", ["grad", "sum(sigmoid(X@w))", "--wrt", "w", "--shape", "X=N,d",
                      "--shape", "w=d"]),
    ("quadratic-grad", ["grad", "tr(X @ A @ X.T)", "--wrt", "X", "--shape", "X=n,m",
                        "--shape", "A=m,m"]),
    ("two-layer-grad", ["grad", "sum((relu(X @ W1) @ W2 - Y)**2)", "--wrt", "W1", "--wrt", "W2",
                        "--shape", "X=N,a", "--shape", "W1=a,b", "--shape", "W2=b,c",
                        "--shape", "Y=N,c"]),
    ("sigmoid-jacobian", ["jacobian", "sigmoid(W @ x)", "--wrt", "x", "--shape", "W=m,n",
                          "--shape", "x=n"]),
    ("matrix-jacobian", ["jacobian", "A @ X @ B", "--wrt", "X", "--shape", "A=p,n",
                         "--shape", "X=n,m", "--shape", "B=m,q"]),
    ("logistic-hessian", ["hessian", "sum(log(1 + exp(X @ w)))", "--wrt", "w",
                          "--shape", "X=N,d", "--shape", "w=d"]),
    ("logdet-hvp", ["hvp", "logdet(X)", "--wrt", "X", "--shape", "X=n,n"]),
    ("seed000", ["net", SEED_SPEC, "--loss", "sse"]),
    ("xor-net", ["net", "dense(2,4) tanh dense(4,1) sigmoid", "--loss", "sse"]),
]
needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex absent")


def compile_tex(path):
    """Run pdflatex on path; (return code, lines of the log that say something went wrong)."""
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", path.name],
                       cwd=path.parent, capture_output=True, text=True, timeout=120)
    log = path.with_suffix(".log").read_text(errors="replace")
    return r.returncode, [l for l in log.splitlines() if "Overfull \\hbox" in l or l.startswith("!")]


@needs_pdflatex
@pytest.mark.parametrize("notes", ["below", "tags"])
def test_pdflatex_seed000_fits_a4(tmp_path, notes):
    path = tmp_path / f"seed000_{notes}.tex"
    path.write_text(standalone(seed000().latex(notes), title="Seed 000"))
    code, problems = compile_tex(path)
    assert code == 0 and problems == []
    assert path.with_suffix(".pdf").stat().st_size > 1000


@needs_pdflatex
@pytest.mark.parametrize("name, argv", CLI_DOCUMENTS, ids=[n for n, _ in CLI_DOCUMENTS])
def test_pdflatex_cli_documents_fit_a4(tmp_path, capsys, name, argv):
    path = tmp_path / f"{name}.tex"
    assert main(argv + ["--tex", str(path)]) == 0
    code, problems = compile_tex(path)
    assert code == 0 and problems == [], path.read_text()


@needs_pdflatex
def test_pdflatex_reports_a_line_too_wide(tmp_path):
    """The check above can fail: a derivation wider than A4 is reported overfull."""
    path = tmp_path / "wide.tex"
    path.write_text(standalone(render_aligned([("Y", long_sum(), "")], width=10 ** 4)))
    code, problems = compile_tex(path)
    assert code == 0 and any("Overfull" in p for p in problems)
