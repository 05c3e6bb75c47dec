"""`matcalc check-backward` and `--expect` on grad/jacobian/hessian/hvp: printing only.

    matcalc check-backward FILE.py --net SPEC [--loss L] [--function F | --forward F --backward B]
                           [--layer KIND=CLASS] [--map YOURS=OURS] [--timeout S] [--latex]
    matcalc check-backward FILE.py --expr EXPR --wrt X --shape X=n,m ... [--function F] ...
    matcalc grad EXPR --wrt X --shape ... --expect FORMULA [--latex]

Exit codes: 0 when every gradient (or the formula) is right, 1 when something differs or the
user's code raised, 2 for bad input (a MatcalcError, one line on stderr).

The command line imports this module to build its parser (`matcalc --help` starts without
SymPy, issue 14), so its top imports nothing heavy: `run` and `marked_latex` import the
derivation and the printers they use.
"""
from ..errors import MatcalcError


def add_parser(sub):
    c = sub.add_parser("check-backward", help="find the first wrong line of a hand-written "
                       "backward pass (your file runs in a child process, definitions only)")
    c.add_argument("file", help="your NumPy program (.py)")
    c.add_argument("--net", help="the network, e.g. 'dense(2,3) relu dense(3,1)'")
    c.add_argument("--loss", default="sse", help="the network's loss (sse, mse, ...)")
    c.add_argument("--batch", default="N", help="batch dimension name or size")
    c.add_argument("--expr", help="or the function whose gradient your code computes")
    c.add_argument("--wrt", action="append", default=[], help="with --expr: variable (repeatable)")
    c.add_argument("--shape", action="append", default=[], help="with --expr: NAME=dims")
    c.add_argument("--function", help="the function to run (forward and backward in one)")
    c.add_argument("--forward", help="the forward function (with --backward)")
    c.add_argument("--backward", help="the backward function; its parameters are bound by name "
                                      "from the inputs, forward's locals and its returned dict")
    c.add_argument("--layer", action="append", default=[], metavar="KIND=CLASS",
                   help="your class for a layer kind, e.g. dense=LinearLayer relu=Relu")
    c.add_argument("--map", action="append", default=[], metavar="YOURS=OURS",
                   help="your name for a quantity of the derivation, e.g. dZ1=grad_h")
    c.add_argument("--timeout", type=float, default=30.0, help="seconds your code may run")
    c.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    c.add_argument("--latex", action="store_true",
                   help="the derivation as LaTeX with the first wrong line marked")
    return c


def pairs(items, option):
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise MatcalcError(f"bad {option} {item!r}: write {option} A=B")
        out[key.strip()] = value.strip()
    return out


def run(args, out):
    from ..nn import from_spec
    from .backward import check_backward
    if bool(args.net) == bool(args.expr):
        raise MatcalcError("check-backward needs --net SPEC or --expr EXPR (one of them)")
    if args.net:
        against = from_spec(args.net, loss=args.loss, batch=args.batch)
        if not hasattr(against, "backprop"):     # rnn, gru, lstm: nn.Recurrent
            raise MatcalcError("check-backward compares with layered networks and expressions; "
                               "recurrent nets (rnn, gru, lstm) are not supported")
    else:
        from ..cli import parse_shapes
        from ..derive.gradient import grad
        from ..notation.parse import parse
        if not args.wrt:
            raise MatcalcError("check-backward --expr needs --wrt (the variables your code "
                               "differentiates with respect to)")
        against = grad(parse(args.expr.strip(), parse_shapes(args.shape)), args.wrt)
    report = check_backward(args.file, against, function=args.function, forward=args.forward,
                            backward=args.backward, layers=pairs(args.layer, "--layer"),
                            mapping=pairs(args.map, "--map"), seed=args.seed,
                            timeout=args.timeout)
    if args.latex:
        out.write(marked_latex(against, report) + "\n")
    else:
        out.write(str(report) + "\n")
    return 0 if report.ok else 1


def expect(d, args, out):
    """--expect FORMULA: the comparison (and with --latex the derivation, the read-off marked)."""
    wrt = args.wrt[0]
    comparison = d.compare(args.expect, wrt=wrt)
    if args.latex:
        out.write(comparison.latex(d.latex(args.notes)) + "\n")
    else:
        out.write(str(comparison) + "\n")
    return 0 if comparison.ok else 1


def marked_latex(against, report):
    """The derivation as LaTeX, the read-off of the first wrong quantity boxed and explained."""
    import sympy as sp
    from ..printing.identity import notes_in, prose_latex
    from ..printing.latex import Words, latex as latex_of, name_latex, render_aligned
    first = report.first_wrong
    words = (f"first wrong line: {first.quantity.name}: you computed "
             f"{first.where.split(': ', 1)[-1]}; {first.detail}") if first else \
        "all gradients right"
    if not hasattr(against, "backprop"):
        body = against.latex()
        return body.replace("\n\\end{aligned}", " \\\\\n&" + prose_latex(words) + "\n\\end{aligned}")
    bp = against.backprop()
    rows = []
    for row in bp.rows:
        if row.heading:
            rows.append((None, prose_latex(row.heading), ""))
            continue
        lhs = "" if row.continued else (name_latex(row.lhs.name) if isinstance(row.lhs, sp.Symbol)
                                        else latex_of(row.lhs))
        wrong = first is not None and row.role == "read off" and \
            getattr(row.lhs, "name", None) == first.quantity.name
        if wrong:
            lhs = rf"\boxed{{{lhs}}}"
        note = notes_in(row.note) if isinstance(row.note, str) and not row.shape else \
            ("" if row.shape else row.note)
        rows.append((lhs, row.rhs, note))
        if wrong:
            rows.append((None, Words(words), ""))
    return render_aligned(rows, "below")
