"""The JSON answer of the API: a derivation (or a network's backprop) as data for the page.

    {"kind": "gradient", "function": {"text", "latex"},
     "results": [{"name": "X", "text": "X@(A + A.T)", "latex": "X \\left(A + A^{T}\\right)"}],
     "steps": [{"lhs", "rhs", "rule", "identity", "note", "text"} | {"heading"}],
     "convention": "...", "latex": "\\begin{aligned} ... \\end{aligned}", "text": "...",
     "check": {"ok", "errors": {"X": 2.2e-13}, "sizes": {"n": 4}, "report"} | {"error"},
     "code": {"source", "filename"} | {"error"}}

The steps are the lines the derivation itself prints, each with the rule it cites and that
rule's identity (as text and as LaTeX, typeset by printing/identity.py). Everything is read
from the objects matcalc returns; nothing is computed here but the layout.

A bad request is answered by `error_answer`: {"error": {"message", "column", "field", "type"}};
the column (1-based) is where the parser put it, in the expression (field "expr") or in the
layer spec (field "net").
"""
import re

import sympy as sp

from .. import codegen
from ..derive.derivation import ROUTES
from ..derive.gradient import grad
from ..derive.second_order import hessian, hvp, jacobian
from ..errors import MatcalcError
from ..nn import from_spec
from ..notation.parse import parse
from ..printing.identity import notes_in
from ..printing.latex import Note, latex, name_latex, note_latex
from ..printing.text import to_text
from .request import RequestError, read_job

DERIVE = {"gradient": grad, "jacobian": jacobian, "hessian": hessian, "hvp": hvp}
MAX_STEPS = 600          # a longer derivation lists its first steps; latex and text hold it all
COLUMN_AT_END = re.compile(r"\bat column (\d+)\b")


def error_answer(error, field):
    """{"error": {...}} for a MatcalcError raised while reading or deriving `field`'s text."""
    column = getattr(error, "column", None)
    message = getattr(error, "reason", None) or " ".join(str(error).split())
    if column is None:            # ShapeError, UnknownNameError: the parser writes the column
        found = COLUMN_AT_END.search(message)
        column = int(found.group(1)) if found else None
    return {"error": {"message": message, "column": column,
                      "field": getattr(error, "field", field), "type": type(error).__name__}}


def _side(e):
    if e is None or isinstance(e, str):
        return e or ""
    return name_latex(e.name) if isinstance(e, sp.Symbol) else latex(e)


def _side_text(e):
    if e is None or isinstance(e, str):
        return e or ""
    return e.name if isinstance(e, sp.Symbol) else to_text(e)


def step(lhs, rhs, note, lhs_text=None):
    """One line, lhs = rhs, citing `note` (a Note, words, or nothing), as LaTeX and as text;
    lhs_text is the left side in the notation when lhs is given as LaTeX."""
    if isinstance(note, str) and note:
        cited = notes_in(note)
        cites = [n for n in cited if isinstance(n, Note)]
        if len(cites) == len(cited):     # "rule: identity; rule: identity" as written by nn
            rule = "; ".join(n.rule for n in cites if n.rule)
            identity = "; ".join(n.identity for n in cites if n.identity)
        else:
            rule, identity = note, ""
    elif isinstance(note, Note):
        cited, rule, identity = note, note.rule, note.identity
    else:
        cited, rule, identity = "", "", ""
    lhs_text = _side_text(lhs) if lhs_text is None else lhs_text
    text = f"{lhs_text or '  '} = {_side_text(rhs)}"
    if rule or identity:
        text += f"   [{rule}{': ' if rule and identity else ''}{identity}]"
    return {"lhs": _side(lhs), "rhs": _side(rhs), "rule": rule, "identity": identity,
            "note": note_latex(cited) if cited else "", "text": text}


def gradient_steps(d):
    """The lines of a gradient derivation written out in full (Derivation.latex's rows)."""
    out = []
    shown = [s for s in d.steps if s.rule not in ("read off the gradient", "simplify")]
    for i, s in enumerate(shown):
        out.append(step(r"\mathrm{d}f" if i == 0 else None, s.after,
                        Note(s.rule, s.identity) if s.rule != "differential" else "",
                        lhs_text="df" if i == 0 else ""))
    read_offs = [s for s in d.steps if s.rule == "read off the gradient"]
    for x, read in zip(d.variables, read_offs):
        G_raw, G = d.raw[x.name], d.results[x.name]
        out.append(step(rf"\frac{{\partial f}}{{\partial {latex(x)}}}", G_raw,
                        Note(read.rule, read.identity), lhs_text=f"df/d{x.name}"))
        if to_text(G) != to_text(G_raw):
            out.append(step(None, G, Note("simplify")))
    return out


def row_steps(rows):
    """The lines of a named derivation or a network's backprop (derive/rows.Row)."""
    out = []
    for row in rows:
        if row.heading:
            out.append({"heading": row.heading})
        elif row.shape:
            line = step(None if row.continued else row.lhs, row.rhs, "")
            line["shape"] = row.note
            out.append(line)
        else:
            out.append(step(None if row.continued else row.lhs, row.rhs, row.note))
    return out


def record_steps(d):
    """The lines of a Jacobian, Hessian or HVP derivation (its engine's records)."""
    return [step(None if s.continued else s.before, s.after, Note(s.rule, s.identity))
            for s in d.steps]


def derivation_steps(d):
    if d.named is not None:
        rows = list(d.named.rows)
        for x in d.variables:
            rows.append(type(rows[0])(sp.Symbol(f"df/d{x.name}"), d.named.results[x.name],
                                      note=Note("the gradient, over the names")))
        return row_steps(rows)
    return gradient_steps(d) if d.kind == "gradient" else record_steps(d)


def expression(e):
    return {"text": to_text(e), "latex": latex(e)}


def result(name, e):
    return {"name": name, "name_latex": name_latex(name), **expression(e)}


def optional_part(what, make):
    """make(), a part of the answer the derivation does not depend on (the check, the code);
    if it cannot be made, {"error": why} while the derivation itself still stands. Running out
    of the time or memory limit is not caught here: the worker reports it (worker.py)."""
    try:
        return make()
    except MatcalcError as e:
        return {"error": " ".join(str(e).split())}
    except (MemoryError, RecursionError):
        raise
    except Exception as e:  # a bug in matcalc, not in the input
        return {"error": f"internal error in {what} ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:200]}); please report it with the request"}


def report_json(report):
    return {"ok": bool(report.ok), "errors": {k: float(v) for k, v in report.errors.items()},
            "sizes": {k: int(v) for k, v in report.sizes.items()}, "report": str(report)}


def check_part(obj):
    return optional_part("the numeric check", lambda: report_json(obj.check()))


def code_part(obj, filename):
    return optional_part("code generation", lambda: {
        "source": codegen.numpy_source(obj, name=filename[:-3]), "filename": filename})


def limited(steps):
    if len(steps) <= MAX_STEPS:
        return steps, 0
    return steps[:MAX_STEPS], len(steps) - MAX_STEPS


def network_answer(job):
    try:
        net = from_spec(job.net, loss=job.loss, batch=job.batch)
        if not hasattr(net, "backprop"):         # rnn, gru, lstm: nn.Recurrent
            raise MatcalcError("recurrent nets (rnn, gru, lstm) are derived on the command line: "
                               "matcalc net SPEC --input T,features")
    except MatcalcError as e:
        return error_answer(e, "loss" if "loss" in str(e).split(" ", 2)[:2] else "net")
    bp = net.backprop()
    steps, omitted = limited(row_steps(bp.rows))
    answer = {"kind": "network", "function": expression(net.loss_expr),
              "results": [result(n, g) for n, g in bp.gradients.items()],
              "steps": steps, "steps_omitted": omitted,
              "convention": "the gradient is the transposed Jacobian; grad_V has the shape of V",
              "latex": bp.latex(), "text": bp.text()}
    if job.check:
        answer["check"] = check_part(bp)
    if job.code:
        answer["code"] = code_part(net, "matcalc_network.py")
    return answer


def expression_answer(job):
    try:
        f = parse(job.expr, job.shapes)
    except MatcalcError as e:
        return error_answer(e, "expr")
    try:
        d = DERIVE[job.kind](f, list(job.wrt) if len(job.wrt) > 1 else job.wrt[0],
                             assume=job.assume or None)
    except MatcalcError as e:
        return error_answer(e, "wrt")
    steps, omitted = limited(derivation_steps(d))
    answer = {"kind": job.kind, "function": expression(f),
              "results": [result(n, r) for n, r in d.results.items()],
              "steps": steps, "steps_omitted": omitted,
              "convention": ROUTES["gradient"] if job.kind == "gradient" else d.convention(),
              "latex": d.latex(), "text": d.text()}
    if job.check:
        answer["check"] = check_part(d)
    if job.code:
        answer["code"] = code_part(d, f"matcalc_{job.kind}.py")
    return answer


def answer(body):
    """The answer to a decoded JSON body: a derivation, or {"error": ...}."""
    try:
        job = read_job(body)
    except RequestError as e:
        return error_answer(e, e.field)
    return network_answer(job) if job.net is not None else expression_answer(job)
