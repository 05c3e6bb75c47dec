"""Rich display (printing/display.py): every object's Jupyter reprs are well-formed HTML that
holds what the object holds, everything escaped, and every __repr__ is one short line."""
import html
import keyword
from html.parser import HTMLParser

import pytest

import codegen
import matcalc as mc
from matcalc import nn
from matcalc.derive.check import CheckReport
from matcalc.printing import display
from matcalc.printing.identity import identity_latex

VOID = {"br", "hr", "img", "input", "meta", "link", "col", "wbr", "area", "base", "source"}


class Balanced(HTMLParser):
    """Collects the text of an HTML fragment and fails on an unbalanced or misnested tag."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open, self.text, self.spans = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.open.append(tag)
        if tag == "span":
            self.spans.append(dict(attrs).get("class"))

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:] or 'nothing'}"
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parsed(fragment):
    p = Balanced()
    p.feed(fragment)
    p.close()
    assert p.open == [], f"unclosed tags: {p.open}"
    return p


def text_of(fragment):
    """The characters a reader sees (entities decoded), tags removed."""
    return "".join(parsed(fragment).text)


# ---- the objects -------------------------------------------------------------------------------
LOGREG = ("sum(log(1 + exp(X @ w))) - y.T @ X @ w", {"X": ("N", "d"), "w": ("d",), "y": ("N",)})


def quadratic():
    return mc.grad(mc.parse("tr(X @ A @ X.T)", {"X": ("n", "m"), "A": ("m", "m")}), "X")


def network():
    return nn.Sequential([nn.Dense(4, 8), nn.ReLU(), nn.Identity(), nn.Dense(8, 3)],
                         loss=nn.SoftmaxCrossEntropy())


def deep_network():
    layers = []
    for _ in range(30):
        layers += [nn.Dense(5, 5), nn.Tanh()]
    return nn.Sequential(layers + [nn.Dense(5, 2)], loss=nn.SumSquaredError())


def everything():
    """(id, object) of each kind that displays itself."""
    f = mc.parse(*LOGREG)
    d = quadratic()
    net = network()
    return [("derivation-gradient", d), ("derivation-hessian", mc.hessian(f, "w")),
            ("derivation-jacobian", mc.jacobian(mc.parse("A @ x", {"A": ("p", "n"), "x": ("n",)}), "x")),
            ("step", d.steps[2]), ("backprop", net.backprop()), ("network", net),
            ("deep-network", deep_network()), ("check", d.check()),
            ("check-failed", CheckReport({"X": 0.5, "A": 1e-9}, {"n": 3}, False)),
            ("compiled-gradient", codegen.compile(f, wrt=["w"])),
            ("compiled-network", codegen.compile(net)),
            ("compiled-hessian", codegen.compile(mc.hessian(f, "w")))]


OBJECTS = everything()
IDS = [name for name, _ in OBJECTS]


@pytest.mark.parametrize("obj", [o for _, o in OBJECTS], ids=IDS)
def test_every_object_has_balanced_html(obj):
    fragment = obj._repr_html_()
    assert fragment.startswith("<") and fragment.endswith(">")
    parsed(fragment)


@pytest.mark.parametrize("obj", [o for _, o in OBJECTS], ids=IDS)
def test_repr_is_one_short_line(obj):
    r = repr(obj)
    assert "\n" not in r and len(r) <= display.REPR_WIDTH, r
    assert r.startswith(("<Derivation ", "Step(", "<Backprop ", "Sequential(", "<CheckReport ",
                         "<compiled "))


# ---- derivations -------------------------------------------------------------------------------
@pytest.mark.parametrize("obj", [o for n, o in OBJECTS if n.startswith(("derivation", "backprop"))],
                         ids=[n for n in IDS if n.startswith(("derivation", "backprop"))])
def test_derivation_html_is_its_latex_then_its_text(obj):
    fragment = obj._repr_html_()
    seen = text_of(fragment)
    assert f"$${obj.latex()}$$" in seen           # typeset by MathJax / KaTeX
    assert obj.text() in seen                      # readable without JavaScript
    assert "<details>" in fragment and "&amp;" in fragment
    assert "&=" not in fragment                    # the alignment & is escaped
    assert obj._repr_latex_() == f"$${obj.latex()}$$"


def test_derivation_repr_names_kind_function_and_result():
    assert repr(quadratic()) == "<Derivation gradient of tr(X@A@X.T) (X: X@(A + A.T))>"


def test_long_results_are_cut_in_the_repr():
    f = mc.parse("sum(tanh(X @ W1 + tanh(X @ W2 + tanh(X @ W3))))",
                 {"X": ("N", "d"), "W1": ("d", "m"), "W2": ("d", "m"), "W3": ("d", "m")})
    d = mc.grad(f, ["W1", "W2", "W3"])
    r = repr(d)
    assert len(r) <= display.REPR_WIDTH and r.endswith("...>")
    assert r.startswith("<Derivation gradient of sum(tanh(X@W1 + ")
    assert "W1: " in r


def test_step_repr_is_the_readme_line():
    d = mc.grad(mc.parse("x.T @ A @ x", {"x": ("n",), "A": ("n", "n")}), "x")
    assert repr(d.steps[1]) == "Step('product rule': d(x.T@A@x) = d(x.T)@A@x + x.T@A@dx)"


def test_step_displays_its_equation_and_rule():
    step = quadratic().steps[2]
    assert step._repr_latex_() == f"$${display.step_latex(step)}$$"
    assert step._repr_latex_().startswith(f"$${mc.latex(step.before)} = {mc.latex(step.after)}")
    product = mc.grad(mc.parse("x.T @ A @ x", {"x": ("n",), "A": ("n", "n")}), "x").steps[1]
    cited = identity_latex(product.identity)           # d(A@B) = dA@B + A@dB, as mathematics
    assert r"\mathrm{d}A" in cited and "@" not in cited
    assert display.step_latex(product).endswith(r"\text{product rule:}\ " + cited)
    seen = text_of(step._repr_html_())
    assert f"$${display.step_latex(step)}$$" in seen
    assert f"{mc.to_text(step.before)} = {mc.to_text(step.after)}" in seen
    assert step.rule in seen and step.identity in seen


def test_backprop_repr_names_the_network_and_gradients():
    r = repr(network().backprop())
    assert r.startswith("<Backprop of dense(4,8) relu identity dense(8,3) (W1: X.T@grad_h")


# ---- networks ----------------------------------------------------------------------------------
def table_rows(fragment):
    """The rows of the first table, each a list of cell texts."""
    class Rows(Balanced):
        def __init__(self):
            super().__init__()
            self.rows, self.cell = [], None

        def handle_starttag(self, tag, attrs):
            super().handle_starttag(tag, attrs)
            if tag == "tr":
                self.rows.append([])
            if tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            super().handle_endtag(tag)
            if tag in ("td", "th"):
                self.rows[-1].append("".join(self.cell))
                self.cell = None

        def handle_data(self, data):
            super().handle_data(data)
            if self.cell is not None:
                self.cell.append(data)

    p = Rows()
    p.feed(fragment)
    p.close()
    assert p.open == []
    return p.rows


def test_network_table_has_a_row_per_layer_and_the_loss():
    rows = table_rows(network()._repr_html_())
    assert rows == [
        ["layer", "expression", "output shape", "parameters"],
        ["1. dense(4,8)", "h = X@W1 + b1.T", "N x 8", "W1: 4 x 8, b1: 8"],
        ["2. relu", "h_relu = relu(h)", "N x 8", ""],
        ["3. identity", "(no new value: the output is the input)", "N x 8", ""],
        ["4. dense(8,3)", "y_pred = h_relu@W2 + b2.T", "N x 3", "W2: 8 x 3, b2: 3"],
        ["loss SoftmaxCrossEntropy", "L = (sum(logsumexp(y_pred)) - sum(Y*y_pred))/sum(ones(N))",
         "scalar", "Y: N x 3"],
    ]


def test_deep_network_names_each_layer_over_the_one_before():
    rows = table_rows(deep_network()._repr_html_())
    assert len(rows) == 1 + 61 + 1
    assert rows[3] == ["3. dense(5,5)", "Z2 = A1@W2 + b2.T", "N x 5", "W2: 5 x 5, b2: 5"]
    assert rows[61][1] == "y_pred = A30@W31 + b31.T"


def test_network_markdown_is_the_same_table():
    md = network()._repr_markdown_().splitlines()
    assert md[2] == "| layer | expression | output shape | parameters |"
    assert md[4] == "| 1. dense(4,8) | `h = X@W1 + b1.T` | N x 8 | W1: 4 x 8, b1: 8 |"
    assert len([line for line in md if line.startswith("|")]) == 2 + 4 + 1


def test_network_repr_cuts_a_long_spec():
    assert repr(network()) == "Sequential('dense(4,8) relu identity dense(8,3)', loss=SoftmaxCrossEntropy)"
    r = repr(deep_network())
    assert r.startswith("Sequential('dense(5,5) tanh dense(5,5)") and "...'" in r


def test_an_expression_with_markup_characters_is_escaped():
    net = nn.Sequential([nn.Dense(3, 2, bias=False)], loss=nn.SumSquaredError())
    fragment = net._repr_html_()
    assert "y_pred = X@W1" in text_of(fragment)
    assert "<code>L = sum((y_pred - Y)**2)</code>" in fragment
    md = net._repr_markdown_()
    assert "`L = sum((y_pred - Y)**2)`" in md


# ---- check reports -----------------------------------------------------------------------------
def test_check_table_lists_variable_error_and_verdict():
    report = CheckReport({"X": 0.5, "A": 1e-9}, {"n": 3}, False, "gradient", "a <b> & c")
    fragment = report._repr_html_()
    assert table_rows(fragment) == [["variable", "relative error", "ok"],
                                    ["X", "5.0e-01", "FAILED"], ["A", "1.0e-09", "ok"]]
    assert "a &lt;b&gt; &amp; c (n=3)" in fragment
    assert repr(report) == "<CheckReport gradient FAILED: X 5.0e-01, A 1.0e-09 (n=3)>"


def test_a_real_check_shows_ok():
    report = quadratic().check()
    rows = table_rows(report._repr_html_())
    assert rows[1][0] == "X" and rows[1][2] == "ok" and float(rows[1][1]) < 1e-6
    assert repr(report).startswith("<CheckReport gradient ok: X ")


# ---- generated source --------------------------------------------------------------------------
TRICKY = '''x = f"a{b!r:>{w}} & <c>" if y < 1 else 0x1F  # <&> comment
def g(a, b):
    """doc & <tags>
    """
    return a and not b or 1.5e-3 is None
'''


def test_highlighter_keeps_every_character_and_escapes_markup():
    out = display.highlight_python(TRICKY)
    p = parsed(out)
    assert "".join(p.text) == TRICKY
    assert "<c>" not in out and "&lt;c&gt;" in out and " &amp; " in out and "y &lt; " in out
    assert p.spans.count("mc-keyword") == sum(keyword.iskeyword(t) for t in
                                              "if else def return and not or is None".split())
    assert p.spans.count("mc-number") == 3
    assert p.spans.count("mc-comment") == 1
    assert 'class="mc-string" style="' in out
    assert '<span class="mc-comment" style="color:#8e908c;font-style:italic"># &lt;&amp;&gt; comment</span>' in out


def test_highlighter_shows_what_is_not_python_as_it_is():
    text = 'x = "unterminated\n  & <'
    assert text_of(display.highlight_python(text)) == text


@pytest.mark.parametrize("obj", [o for n, o in OBJECTS if n.startswith("compiled")],
                         ids=[n for n in IDS if n.startswith("compiled")])
def test_compiled_function_shows_its_source_highlighted(obj):
    fragment = obj._repr_html_()
    p = parsed(fragment)
    seen = "".join(p.text)
    assert obj.source in seen
    assert "mc-keyword" in p.spans and "mc-comment" in p.spans and "mc-string" in p.spans
    assert seen.startswith("compiled " + obj.entry.__name__ + "(")
    md = obj._repr_markdown_()
    assert f"```python\n{obj.source.rstrip()}\n```" in md


def test_compiled_function_keeps_its_attributes_and_calls():
    import numpy as np
    f = mc.parse(*LOGREG)
    fn = codegen.compile(f, wrt=["w"])
    assert fn.source == codegen.numpy_source(f, wrt=["w"])
    assert fn.__doc__ == fn.value_and_grad.__doc__
    X, w, y = np.ones((3, 2)), np.zeros(2), np.ones(3)
    assert fn(X=X, w=w, y=y)[0] == fn.value_and_grad(X=X, w=w, y=y)[0] == 3 * np.log(2)
    assert callable(fn.forward) and callable(fn.backward)
    assert repr(fn) == "<compiled value_and_grad(X, w, y) of sum(log(1 + exp(X@w))) - y.T@X@w>"
    H = codegen.compile(mc.hessian(f, "w"))
    assert H(X=X, w=w, y=y).shape == (2, 2) and H.hessian is H.entry
    assert repr(H).startswith("<compiled hessian(X, w, y) of the hessian of sum(")


def test_shorten_keeps_one_line_within_width():
    assert display.shorten("a\n  b", 10) == "a b"
    assert display.shorten("x" * 30, 10) == "xxxxxxx..."
    assert len(display.angle_repr("y" * 500)) == display.REPR_WIDTH
    assert html.unescape(display.math_block("a & b < c")) == "<div>$$a & b < c$$</div>"
