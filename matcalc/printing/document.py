"""A derivation as a complete LaTeX document, for pdflatex: `standalone(body, title)`.

The document is 11pt article on A4 with 2.5 cm margins (geometry, which ships with
texlive-latex-base) and amsmath: nothing else is needed, so the file compiles on a minimal TeX
installation. An `aligned` block becomes an `align*` display with `\\allowdisplaybreaks`, the
same columns, so a derivation longer than a page continues on the next one instead of running
off its bottom. Anything else is set as one `\\[ ... \\]` display.
"""
import re

PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[a4paper,margin=2.5cm]{geometry}
\usepackage{amsmath}
\allowdisplaybreaks
\pagestyle{empty}
\begin{document}
\raggedright
"""
ALIGNED = re.compile(r"\s*\\begin\{aligned\}\n?(.*?)\n?\\end\{aligned\}\s*", re.S)
TEXT_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                 "#": r"\#", "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}",
                 "<": r"\textless{}", ">": r"\textgreater{}"}


def escape_text(s):
    """Plain words for LaTeX text mode (a title may be the expression as typed: X@w, y_pred)."""
    return "".join(TEXT_SPECIALS.get(c, c) for c in s)


def display(body_latex):
    """The display of a derivation: align* for one aligned block, \\[ ... \\] otherwise."""
    m = ALIGNED.fullmatch(body_latex)
    if m and "\\begin{aligned}" not in m.group(1):
        return "\\begin{align*}\n" + m.group(1) + "\n\\end{align*}\n"
    return "\\[\n" + body_latex.strip() + "\n\\]\n"


def standalone(body_latex, title=None):
    """A complete LaTeX document holding the derivation `body_latex` (LaTeX math, such as
    Derivation.latex() or Backprop.latex()), under `title` (plain words) when given."""
    head = rf"\section*{{{escape_text(title)}}}" + "\n" if title else ""
    return PREAMBLE + head + display(body_latex) + "\\end{document}\n"
