"""Rich display in Jupyter: the HTML, Markdown and LaTeX every matcalc object shows itself as.

The classes (Derivation, Step, Backprop, Sequential, CheckReport, a compiled function) keep
one-line `_repr_*_` methods that call the builders here, so that all display logic sits in one
file and every output is made the same way:

* a derivation (or one step) is its `.latex()` as a `$$ ... $$` block that MathJax or KaTeX
  typesets, followed by its plain text in a `<details>` element, which reads without JavaScript;
* a network is a table of its layers: layer, the expression of its output over the names of
  the layer before (h = X@W1 + b1.T), the output shape, the parameters with their shapes;
* a check report is a table: variable, relative error, ok;
* generated source is `<pre>` with keywords, strings, comments and numbers highlighted by a
  small highlighter over the standard `tokenize` module (inline styles, no dependency);
* `shorten` keeps every `__repr__` on one line of at most 120 characters.

Every piece of text that reaches HTML goes through `html.escape`: expressions contain `<`, `&`
and `@`, LaTeX contains `&`. The objects are read through their public attributes only (duck
typing), so this module imports no class it displays: imports keep flowing from printing/ to
nn/, derive/ and codegen/. Nothing here computes mathematics; it only lays out what the
objects already hold.
"""
import io
import keyword
import tokenize
from html import escape

from .identity import identity_latex
from .latex import latex, text_latex
from .text import to_text

REPR_WIDTH = 120
ELLIPSIS = "..."

STYLES = {           # token class -> inline style (readable on light and dark backgrounds)
    "keyword": "color:#8959a8;font-weight:bold",
    "string": "color:#718c00",
    "comment": "color:#8e908c;font-style:italic",
    "number": "color:#f5871f",
}
PRE_STYLE = "font-size:90%;line-height:1.3;padding:0.5em;overflow-x:auto"
TABLE_STYLE = "border-collapse:collapse"
CELL_STYLE = "text-align:left;padding:0.15em 0.6em;vertical-align:top"


# -- one-line reprs ------------------------------------------------------------------------------
def shorten(text, width):
    """text on one line, cut to at most `width` characters with '...' at the end."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:max(width - len(ELLIPSIS), 0)] + ELLIPSIS


def angle_repr(text, width=REPR_WIDTH):
    """<text>, the whole at most `width` characters."""
    return f"<{shorten(text, width - 2)}>"


def results_summary(results, width=60):
    """'X: X@(A + A.T), y: ...' from name -> expression, each result cut to its share of width."""
    if not results:
        return ""
    share = max(width // len(results), 16)
    return ", ".join(f"{name}: {shorten(to_text(r), share)}" for name, r in results.items())


# -- HTML pieces ---------------------------------------------------------------------------------
def math_block(tex):
    """$$tex$$, escaped for HTML (MathJax and KaTeX read the text, so &amp; is an &)."""
    return f"<div>$${escape(tex)}$$</div>"


def details(summary, text):
    """A collapsed <details> element holding text as preformatted plain text."""
    return (f"<details><summary>{escape(summary)}</summary>"
            f'<pre style="{PRE_STYLE}">{escape(text)}</pre></details>')


def table(header, rows, caption=None):
    """An HTML table; every cell is escaped, or given as (html,) when already HTML."""
    def cell(tag, value):
        content = value[0] if isinstance(value, tuple) else escape(str(value))
        return f'<{tag} style="{CELL_STYLE}">{content}</{tag}>'

    head = "".join(cell("th", h) for h in header)
    body = "".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (f'<table style="{TABLE_STYLE}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def code(text):
    return (f"<code>{escape(text)}</code>",)


def markdown_cell(text):
    """Text for a Markdown table cell: code, with | escaped and on one line."""
    return "`" + " ".join(text.split()).replace("|", "\\|").replace("`", "'") + "`"


# -- derivations ---------------------------------------------------------------------------------
def derivation_summary(d):
    """'gradient of tr(X@A@X.T) (X: X@(A + A.T))': kind, function and results, cut to fit."""
    return f"{d.kind} of {shorten(to_text(d.f), 50)} ({results_summary(d.results)})"


def backprop_summary(bp):
    """'of dense(4,8) relu dense(8,3) (W1: X.T@grad_h, ...)': the network and its gradients."""
    return f"of {shorten(bp.net.spec(), 50)} ({results_summary(bp.gradients)})"


def step_summary(step):
    """'product rule': d(x.T@A@x) = d(x.T)@A@x + x.T@A@dx, cut to fit one repr line."""
    return f"{step.rule!r}: {shorten(to_text(step.before), 40)} = {to_text(step.after)}"


def derivation_latex(obj):
    """$$ .latex() $$: what `_repr_latex_` returns for a Derivation or a Backprop."""
    return "$$" + obj.latex() + "$$"


def derivation_html(obj, title):
    """The typeset derivation, then its text in a <details> (readable without JavaScript)."""
    return (f'<div class="matcalc-derivation"><div><strong>{escape(title)}</strong></div>'
            + math_block(obj.latex()) + details("the derivation as text", obj.text()) + "</div>")


def step_latex(step):
    """One step as an equation: before = after, then the rule it cites and its identity, typeset
    as the derivations typeset it (printing/identity.py)."""
    return (f"{latex(step.before)} = {latex(step.after)} \\qquad "
            + text_latex(f"{step.rule}:") + r"\ " + identity_latex(step.identity))


def step_text(step):
    return f"{to_text(step.before)} = {to_text(step.after)}   [{step.rule}: {step.identity}]"


def step_html(step):
    return ('<div class="matcalc-step">' + math_block(step_latex(step))
            + details(f"{step.rule} (as text)", step_text(step)) + "</div>")


# -- networks ------------------------------------------------------------------------------------
def network_repr(net):
    """Sequential('dense(4,8) relu dense(8,3)', loss=SumSquaredError), the spec cut to fit."""
    return f"Sequential({shorten(net.spec(), 80)!r}, loss={type(net.loss).__name__})"


def _shape_text(e):
    return f"{e.shape[0]} x {e.shape[1]}"


def _declared_shape(shape):
    return "scalar" if not shape else " x ".join(str(d) for d in shape)


def network_rows(net):
    """[(layer, expression over names, output shape, parameters with shapes)] of a Sequential,
    then the loss row; Identity layers (which add no name) read '(no new value)'."""
    names = net.output_names()
    rows = []
    layers = zip(net.layers, net.outputs, net.layer_parameters, net.names())
    for k, (layer, out, params, name) in enumerate(layers, 1):
        if name is None:
            expression = "(no new value: the output is the input)"
        else:
            expression = f"{name} = {to_text(out.arg, names)}"
        shapes = ", ".join(f"{p}: {_declared_shape(net.shapes[p])}" for p in params)
        rows.append((f"{k}. {layer.spec()}", expression, _shape_text(out), shapes))
    loss = f"L = {to_text(net.loss_expr, names)}"
    rows.append((f"loss {type(net.loss).__name__}", loss, "scalar",
                 "Y: " + _declared_shape(net.shapes["Y"])))
    return rows


HEADER = ("layer", "expression", "output shape", "parameters")


def network_caption(net):
    return (f"nn.Sequential, input X: {_declared_shape(net.shapes['X'])}, "
            f"{len(net.layers)} layers, {len(net.parameters)} parameters")


def network_html(net):
    rows = [(layer, code(expr), shape, params) for layer, expr, shape, params in network_rows(net)]
    return table(HEADER, rows, caption=network_caption(net))


def network_markdown(net):
    lines = [network_caption(net), "", "| " + " | ".join(HEADER) + " |", "|---" * len(HEADER) + "|"]
    for layer, expr, shape, params in network_rows(net):
        lines.append(f"| {layer} | {markdown_cell(expr)} | {shape} | {params} |")
    return "\n".join(lines)


# -- check reports -------------------------------------------------------------------------------
def check_summary(report):
    """'gradient ok: X 2.2e-13 (m=5, n=4)': kind, verdict, each variable's relative error."""
    errors = ", ".join(f"{name} {err:.1e}" for name, err in report.errors.items())
    dims = ", ".join(f"{k}={v}" for k, v in sorted(report.sizes.items()))
    return f"{report.kind} {'ok' if report.ok else 'FAILED'}: {errors}" + (f" ({dims})" if dims else "")


def check_html(report, rtol):
    """variable, relative error, ok; the caption says what was compared, at which sizes."""
    dims = ", ".join(f"{k}={v}" for k, v in sorted(report.sizes.items()))
    caption = (f"check of the {report.kind} against {report.against}"
               + (f" ({dims})" if dims else "") + f": relative errors below {rtol:.0e} are ok")
    rows = []
    for name, err in report.errors.items():
        ok = err < rtol
        mark = (f'<span style="color:{"#2e7d32" if ok else "#c62828"};font-weight:bold">'
                f'{"ok" if ok else "FAILED"}</span>',)
        rows.append((code(name), f"{err:.1e}", mark))
    return table(("variable", "relative error", "ok"), rows, caption=caption)


# -- generated source ----------------------------------------------------------------------------
def _token_class(tok):
    if tok.type == tokenize.NAME and keyword.iskeyword(tok.string):
        return "keyword"
    if tok.type == tokenize.COMMENT:
        return "comment"
    if tok.type == tokenize.NUMBER:
        return "number"
    if tok.type == tokenize.STRING or tokenize.tok_name.get(tok.type, "").startswith("FSTRING"):
        return "string"
    return None


def highlight_python(source):
    """Python source as escaped HTML with keywords, strings, comments and numbers in
    <span class="..." style="...">; the text between tokens is copied as it is, so the
    characters of the result (tags aside, entities decoded) are exactly the source."""
    starts = [0]
    for line in io.StringIO(source):        # the lines exactly as tokenize reads them
        starts.append(starts[-1] + len(line))

    def offset(row, col):
        return min(starts[min(row - 1, len(starts) - 1)] + col, len(source))

    out, at = [], 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            kind = _token_class(tok)
            if kind is None:
                continue
            begin, end = offset(*tok.start), offset(*tok.end)
            out.append(escape(source[at:begin]))
            out.append(f'<span class="mc-{kind}" style="{STYLES[kind]}">'
                       f"{escape(source[begin:end])}</span>")
            at = end
    except (tokenize.TokenError, SyntaxError):   # not Python: show the rest unhighlighted
        pass
    out.append(escape(source[at:]))
    return "".join(out)


def source_html(source, title):
    """The generated module, highlighted, under a one-line title."""
    return (f'<div class="matcalc-source"><div><strong>{escape(title)}</strong></div>'
            f'<pre style="{PRE_STYLE}">{highlight_python(source)}</pre></div>')


def source_markdown(source, title):
    return f"{markdown_cell(title)}\n\n```python\n{source.rstrip()}\n```"
