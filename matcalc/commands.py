"""What each `matcalc` subcommand does once its arguments are parsed: derive, print, check and
generate code.

Where it sits: cli.py builds the parser and parses the arguments without importing this module
(nor SymPy, NumPy or any rule module), so that `matcalc --help` and `matcalc grad --help` answer
at once; `cli.run` imports this module only when a command runs. It deliberately holds no
argument definitions (cli.py) and no mathematics (derive/, nn/, codegen/).
"""
import json
import sys

import numpy as np

from . import codegen
from .audit import command as audit_cli  # --expect (issue 12)
from .calculus.assumptions import parse_assume
from .cli import parse_shapes, read_expression
from .core.ops import free_variables
from .core.shapes import is_matrix
from .derive.gradient import grad
from .derive.second_order import hessian, hvp, jacobian
from .errors import MatcalcError
from .nn import Recurrent, from_spec, input_shape, sequence
from .notation.infer import infer_shapes
from .notation.parse import parse, source_of
from .printing.document import standalone
from .printing.latex import latex
from .printing.text import to_text
from .progress import Progress
from .sympy_printing import numpy_expression
from .web import cli as serve_cli        # `matcalc serve` (issue 13)

DERIVE = {"grad": grad, "jacobian": jacobian, "hessian": hessian, "hvp": hvp}
TITLES = {"grad": "Gradient", "jacobian": "Jacobian", "hessian": "Hessian",
          "hvp": "Hessian-vector product"}
KINDS = {"gradient": grad, "jacobian": jacobian, "hessian": hessian, "hvp": hvp}


def execute(args, out):
    """Run the parsed command `args`, printing on out; the exit code. Numeric warnings of a
    check are not printed (the report says whether the check held)."""
    with np.errstate(all="ignore"):
        if args.command == "serve":                # `matcalc serve` (issue 13)
            return serve_cli.run(args, out)
        if args.command == "check-backward":       # issue 12
            return audit_cli.run(args, out)
        if args.command == "net":
            return network(args, out)
        if args.command == "codegen":
            return generate(args, out)
        return derive(args, out)


def parse_input(args):
    """Parse the command's expression in its syntax; notes (the mc translation, the tr(A*B)
    hint, the shapes assumed) go to stderr as one line each."""
    text, shapes = read_expression(args.expr), parse_shapes(args.shape)
    if args.syntax == "notation":
        assumed = infer_shapes(text, shapes)
        if assumed:
            said = ", ".join(f"{n}: {' x '.join(s) if len(s) == 2 else s[0] + ' x 1' if s else 'scalar'}"
                             for n, s in assumed.items())
            sys.stderr.write(f"matcalc: assuming {said} (no --shape given for "
                             f"{', '.join(assumed)}; --shape X=n,m, x=n or c= says otherwise)\n")
        shapes = {**shapes, **assumed}
    f = parse(text, shapes, syntax=args.syntax)
    source = source_of(f)
    for hint in source.hints if source else ():
        sys.stderr.write(f"matcalc: {hint}\n")
    return f


def derive(args, out):
    """grad, jacobian, hessian and hvp: the result, the derivation (--steps, --latex, --tex),
    JSON, the comparison with --expect and the check."""
    f = parse_input(args)
    wrt = args.wrt[0] if len(args.wrt) == 1 else args.wrt
    with Progress(f"deriving the {TITLES[args.command].lower()}"):
        d = DERIVE[args.command](f, wrt, assume=parse_assume(args.assume))
    if args.format == "json":
        report = d.check() if args.check else None
        out.write(results_json(d, f, args, report))
        return 0 if report is None or report.ok else 1
    if args.expect:                            # issue 12
        return audit_cli.expect(d, args, out)
    route = {"route": args.route} if args.command == "grad" else {}
    if args.tex:
        write_tex(args.tex, d.latex(args.notes, **route), f"{TITLES[args.command]} of f with "
                  "respect to " + ", ".join(args.wrt), out)
    if args.latex:
        out.write(d.latex(args.notes, **route) + "\n")
    elif args.steps:
        out.write(d.text(**route) + "\n")
    elif not args.tex:
        print_results(d, f, args, out)
    return report_check(d.check(), out) if args.check else 0


def network(args, out):
    """`matcalc net`: the gradients of every weight, or the backprop derivation."""
    net = from_spec(args.spec, loss=args.loss, batch=args.batch, input=input_shape(args.input),
                    weight_decay=args.weight_decay)
    if isinstance(net, Recurrent):                 # rnn/gru/lstm specs (issue 11)
        return recurrent_network(net, args, out)
    bp = net.backprop()
    if args.tex:
        write_tex(args.tex, bp.latex(args.notes), f"Backpropagation: {args.spec}, loss {args.loss}",
                  out)
    if args.latex:
        out.write(bp.latex(args.notes) + "\n")
    elif args.steps:
        out.write(bp.text() + "\n")
    elif not args.tex:
        for name, g in bp.gradients.items():
            out.write(f"{name}: {to_text(g)}\n")
    return report_check(bp.check(), out) if args.check else 0


def recurrent_network(model, args, out):
    """`matcalc net "lstm(8,16) dense(16,2)" --input T,8`: the gradients (each shared weight's
    as a sum over t), or backprop through time for a generic step t; --check unrolls T steps."""
    if args.tex:
        write_tex(args.tex, model.latex(args.notes), f"Backprop through time: {args.spec}, "
                  f"loss {args.loss}", out)
    if args.latex:
        out.write(model.latex(args.notes) + "\n")
    elif args.steps:
        out.write(model.text() + "\n")
    elif not args.tex:
        out.write("\n".join(sequence.gradient_lines(model)) + "\n")
    if not args.check:
        return 0
    steps = input_shape(args.input)[0] if args.input else None
    return report_check(sequence.check(model, steps if isinstance(steps, int) else 5), out)


def print_results(d, f, args, out):
    """The results in --format, each prefixed by its variable when there are several."""
    several = len(d.results) > 1 and not args.result_only
    for name, r in d.results.items():
        if args.format == "latex":
            formula = latex(r)
            lhs = "" if args.result_only else rf"\frac{{\partial f}}{{\partial {name}}} = "
            out.write(lhs + formula + "\n")
        elif args.format == "numpy":
            out.write((f"{name}: " if several else "") + numpy_expression(r) + "\n")
        else:
            out.write((f"{name}: " if several else "") + to_text(r) + "\n")


def results_json(d, f, args, report=None):
    """The derivation as JSON: results (notation, LaTeX, shape), steps with rule and identity,
    the shape of every symbol (declared with --shape or assumed) and the check report."""
    def shape(e):
        return [str(n) for n in e.shape] if is_matrix(e) else []
    return json.dumps({
        "kind": d.kind, "expression": to_text(f), "wrt": list(d.results),
        "shapes": {name: shape(s) for name, s in sorted(free_variables(f).items())},
        "results": {name: {"text": to_text(r), "latex": latex(r), "shape": shape(r)}
                    for name, r in d.results.items()},
        "steps": [{"before": to_text(s.before), "after": to_text(s.after), "rule": s.rule,
                   "identity": s.identity} for s in d.steps],
        "check": None if report is None else {"ok": bool(report.ok), "sizes": report.sizes,
                                              "errors": {k: float(v) for k, v in
                                                         report.errors.items()}},
    }, indent=2) + "\n"


def write_tex(path, body, title, out):
    """The derivation as a standalone LaTeX document at path; 'wrote path' on out."""
    try:
        with open(path, "w") as fh:
            fh.write(standalone(body, title))
    except OSError as e:
        raise MatcalcError(f"cannot write {path}: {e.strerror or e}") from None
    out.write(f"wrote {path}\n")


def report_check(report, out):
    out.write(str(report) + "\n")
    return 0 if report.ok else 1


TRAINING_OPTIONS = {"optimizer": "optimizer", "lr": "lr", "lr_decay": "decay",
                    "final_lr": "final_lr", "decay_steps": "decay_steps",
                    "decoupled_weight_decay": "weight_decay", "momentum": "momentum", "rho": "rho",
                    "beta1": "beta1", "beta2": "beta2", "eps": "eps"}


def training_options(args):
    """The --optimizer options given, as codegen.numpy_source's keywords (optimizers.py checks
    them: an option without --optimizer, or out of range, is a one-line error)."""
    given = {keyword: getattr(args, option) for option, keyword in TRAINING_OPTIONS.items()
             if getattr(args, option) is not None}
    if given and "optimizer" not in given:
        options = ", ".join("--" + o.replace("_", "-") for o in TRAINING_OPTIONS
                            if getattr(args, o) is not None)
        raise MatcalcError(f"{options}: options of --optimizer; give --optimizer "
                           "sgd|momentum|rmsprop|adam too")
    return given


def generate(args, out):
    """`matcalc codegen`: the NumPy (or JAX, torch, array API) module of a gradient, a network,
    a Jacobian, a Hessian or an HVP."""
    if args.net:
        net = from_spec(args.net, loss=args.loss, batch=args.batch, input=input_shape(args.input),
                        weight_decay=args.weight_decay)
        if isinstance(net, Recurrent) and args.backend != "numpy":
            raise MatcalcError(f"the loop over t of a recurrent net is generated for NumPy only; "
                               f"backend {args.backend!r} covers expressions and layered networks")
        if isinstance(net, Recurrent) and args.workspace:
            raise MatcalcError("the loop over t of a recurrent net has no workspace; --workspace "
                               "covers expressions and layered networks")
        if isinstance(net, Recurrent):
            source = net.numpy_source(name=args.name or "bptt", **training_options(args))
        else:
            source = codegen.numpy_source(net, name=args.name or "net", backend=args.backend,
                                          workspace=args.workspace, **training_options(args))
    else:
        if not args.expr or not args.wrt:
            raise MatcalcError("codegen needs an expression and --wrt, or --net SPEC")
        f = parse_input(args)
        if args.kind == "gradient":
            if args.assume:
                raise MatcalcError("codegen --assume: the generated backward pass holds for every "
                                   "value, so it uses no assumption; --assume applies to --kind "
                                   "jacobian, hessian and hvp")
            source = codegen.numpy_source(f, wrt=args.wrt, name=args.name or "f",
                                          backend=args.backend, workspace=args.workspace,
                                          **training_options(args))
        else:
            d = KINDS[args.kind](f, args.wrt[0] if len(args.wrt) == 1 else args.wrt,
                                 assume=parse_assume(args.assume))
            source = codegen.numpy_source(d, name=args.name or args.kind, backend=args.backend,
                                          workspace=args.workspace, **training_options(args))
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(source)
        out.write(f"wrote {args.output}\n")
    else:
        out.write(source)
    return 0
