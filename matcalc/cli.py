"""The `matcalc` command line: argument parsing and printing only.

    matcalc grad EXPR --wrt X --shape X=n,m [--shape A=m,m] [--steps | --latex | --check]
    matcalc jacobian | hessian | hvp EXPR --wrt x --shape ... [--steps | --latex]
    matcalc net "dense(1000,100,bias=false) relu dense(100,10,bias=false)" --loss sse [--steps | --latex]
    matcalc codegen EXPR --wrt w --shape ... [-o FILE]      |  matcalc codegen --net SPEC --loss sse [-o FILE]

Bad input (a MatcalcError, or bad arguments) prints one line to stderr and exits with code 2,
never a traceback. The expression text goes to the parser, which never evaluates it.
"""
import argparse
import sys

from . import codegen
from .derive.gradient import grad
from .derive.second_order import hessian, hvp, jacobian
from .errors import MatcalcError, ParseError
from .nn import from_spec
from .notation.parse import parse
from .printing.text import to_text

EPILOG = "shapes: --shape X=n,m (matrix), --shape x=n (vector n x 1), --shape c= (scalar)"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise MatcalcError(message)


def parse_shapes(items):
    """['X=n,m', 'c='] -> {'X': ('n', 'm'), 'c': ()}"""
    shapes = {}
    for item in items or []:
        name, eq, dims = item.partition("=")
        if not eq or not name.strip():
            raise MatcalcError(f"bad --shape {item!r}: write NAME=dims, e.g. X=n,m or x=n or c=")
        parts = [p.strip() for p in dims.split(",")] if dims.strip() else []
        if any(not p for p in parts) or len(parts) > 2:
            raise MatcalcError(f"bad --shape {item!r}: give at most two comma-separated dimensions")
        shapes[name.strip()] = tuple(int(p) if p.isdigit() else p for p in parts)
    return shapes


def build_parser():
    p = _Parser(prog="matcalc", description="Symbolic matrix calculus by differential "
                "identification.", epilog=EPILOG)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def expression_command(name, help_text):
        c = sub.add_parser(name, help=help_text, epilog=EPILOG)
        c.add_argument("expr", help="expression in the notation, e.g. 'tr(X @ A @ X.T)'")
        c.add_argument("--wrt", action="append", required=True, help="variable (repeatable)")
        c.add_argument("--shape", action="append", default=[], help="NAME=dims")
        view = c.add_mutually_exclusive_group()
        view.add_argument("--steps", action="store_true", help="the derivation in plain text")
        view.add_argument("--latex", action="store_true", help="the derivation as LaTeX")
        view.add_argument("--check", action="store_true",
                          help="also compare with finite differences at random values")
        return c

    expression_command("grad", "gradient of a scalar expression")
    expression_command("jacobian", "Jacobian of a vector or matrix expression")
    expression_command("hessian", "Hessian of a scalar expression of a vector")
    expression_command("hvp", "Hessian-vector product (directional derivative of the gradient)")

    net = sub.add_parser("net", help="backprop derivation of a layered network")
    net.add_argument("spec", help="layers, e.g. 'dense(2,3) relu dense(3,1)'")
    net.add_argument("--loss", default="sse", help="sse, mse, softmax_ce or bce")
    net.add_argument("--batch", default="N", help="batch dimension name or size")
    view = net.add_mutually_exclusive_group()
    view.add_argument("--steps", action="store_true")
    view.add_argument("--latex", action="store_true")

    code = sub.add_parser("codegen", help="NumPy forward/backward code", epilog=EPILOG)
    code.add_argument("expr", nargs="?", help="expression in the notation")
    code.add_argument("--wrt", action="append", default=[])
    code.add_argument("--shape", action="append", default=[])
    code.add_argument("--net", help="a network spec instead of an expression")
    code.add_argument("--loss", default="sse")
    code.add_argument("--batch", default="N")
    code.add_argument("--name", default=None, help="name recorded in the generated module")
    code.add_argument("-o", "--output", help="write the module to this file (default: stdout)")
    return p


def run(argv, out):
    args = build_parser().parse_args(argv)
    if args.command == "net":
        bp = from_spec(args.spec, loss=args.loss, batch=args.batch).backprop()
        if args.latex:
            out.write(bp.latex() + "\n")
        elif args.steps:
            out.write(bp.text() + "\n")
        else:
            for name, g in bp.gradients.items():
                out.write(f"{name}: {to_text(g)}\n")
        return 0
    if args.command == "codegen":
        return _codegen(args, out)
    f = parse(args.expr, parse_shapes(args.shape))
    wrt = args.wrt[0] if len(args.wrt) == 1 else args.wrt
    d = _derive(args.command, f, wrt)
    if args.latex:
        out.write(d.latex() + "\n")
        return 0
    if args.steps:
        out.write(d.text() + "\n")
        return 0
    for name, r in d.results.items():
        prefix = f"{name}: " if len(d.results) > 1 else ""
        out.write(prefix + to_text(r) + "\n")
    if args.check:
        report = d.check()
        out.write(str(report) + "\n")
        return 0 if report.ok else 1
    return 0


DERIVE = {"grad": grad, "jacobian": jacobian, "hessian": hessian, "hvp": hvp}


def _derive(command, f, wrt):
    return DERIVE[command](f, wrt)


def _codegen(args, out):
    if args.net:
        net = from_spec(args.net, loss=args.loss, batch=args.batch)
        source = codegen.numpy_source(net, name=args.name or "net")
    else:
        if not args.expr or not args.wrt:
            raise MatcalcError("codegen needs an expression and --wrt, or --net SPEC")
        f = parse(args.expr, parse_shapes(args.shape))
        source = codegen.numpy_source(f, wrt=args.wrt, name=args.name or "f")
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(source)
        out.write(f"wrote {args.output}\n")
    else:
        out.write(source)
    return 0


def main(argv=None):
    try:
        return run(sys.argv[1:] if argv is None else argv, sys.stdout)
    except ParseError as e:
        where = f" at column {e.column}" if e.column else ""
        sys.stderr.write(f"matcalc: parse error{where}: {e.reason}\n")
    except MatcalcError as e:
        sys.stderr.write("matcalc: " + " ".join(str(e).split()) + "\n")
    except RecursionError:
        sys.stderr.write("matcalc: expression too deeply nested\n")
    except OSError as e:
        sys.stderr.write(f"matcalc: {e.strerror}: {e.filename}\n")
    except Exception as e:  # a bug in matcalc, not in the input: still one line, exit 1
        sys.stderr.write(f"matcalc: internal error ({type(e).__name__}: {e}); please report it\n")
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
