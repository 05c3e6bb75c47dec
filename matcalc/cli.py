"""The `matcalc` command line: the arguments, their help, and one-line errors.

    matcalc grad EXPR --wrt X --shape X=n,m [--shape A=m,m] [--steps | --latex] [--check]
    matcalc jacobian | hessian | hvp EXPR --wrt x --shape ... [--steps | --latex] [--check]
    matcalc net "dense(1000,100,bias=false) relu dense(100,10,bias=false)" --loss sse [--steps | --latex] [--check]
    (grad, jacobian, hessian, hvp, net) [--tex FILE] [--notes below|tags|right]
    matcalc codegen EXPR --wrt w --shape ... [--kind gradient|jacobian|hessian|hvp] [-o FILE]
    matcalc codegen --net SPEC --loss sse [--optimizer sgd|momentum|rmsprop|adam [--lr ...]]
        [--workspace] [-o FILE]

Bad input (a MatcalcError, or bad arguments) prints one line to stderr and exits with code 2,
never a traceback; Ctrl-C prints one line and exits with 130; a failed --check exits with 1.
An expression may start with a minus (`matcalc grad "-sum(log(x))" ...`). The expression text
goes to the parser, which never evaluates it.

Start-up (issue 14): this module imports nothing heavy, so that `matcalc --help`, `matcalc grad
--help` and `matcalc help ...` answer without SymPy, NumPy or a rule module; `run` imports
commands.py (what each command does) once the arguments are parsed. The names the help and the
choices offer (layers, losses, backends, note layouts, assumption kinds) are therefore written
here, not read from their registries; tests/test_cli_startup.py checks that each list equals its
registry, so a new layer or function that is missing here fails a test naming the list.
"""
import argparse
import difflib
import pathlib
import re
import sys
import textwrap
import warnings

from .audit import command as audit_cli  # `matcalc check-backward` (issue 12): nothing heavy
from .errors import MatcalcError, ParseError
from .web import cli as serve_cli        # `matcalc serve` (issue 13): nothing heavy

# The registries' names, as of this version (tests/test_cli_startup.py compares them):
NOTE_LAYOUTS = ("below", "tags", "right")                  # printing.latex.NOTE_LAYOUTS
ASSUMPTION_KINDS = ("onehot", "simplex")                   # calculus.assumptions.KINDS
BACKENDS = ("numpy", "jax", "torch", "array_api")          # codegen.BACKENDS
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")        # codegen.optimizers.OPTIMIZERS
DECAYS = ("none", "linear", "exponential")                 # codegen.optimizers.DECAYS
LOSSES = ("sse", "mse", "softmax_ce", "bce", "ce", "mae", "huber")   # nn.LOSSES
LAYERS = {                                                 # nn.spec.MAKERS, with arguments
    "dense": "dense(IN,OUT[,bias=false])",
    "conv2d": "conv2d(C_IN,C_OUT,KERNEL[,stride=S][,padding=P][,bias=false])  (--input C,H,W)",
    "conv1d": "conv1d(C_IN,C_OUT,KERNEL[,stride=S][,padding=P][,bias=false])  (--input C,L)",
    "maxpool": "maxpool(P)", "avgpool": "avgpool(P)", "flatten": "flatten",
    "dropout": "dropout(P)", "layernorm": "layernorm(D)", "batchnorm": "batchnorm(D)",
    "softmax": "softmax",
    "rnn": "rnn(N_IN,N_HIDDEN) dense(N_HIDDEN,N_OUT)  (--input T,N_IN; T a name or a number)",
    "gru": "gru(N_IN,N_HIDDEN) dense(N_HIDDEN,N_OUT)  (--input T,N_IN)",
    "lstm": "lstm(N_IN,N_HIDDEN) dense(N_HIDDEN,N_OUT)  (--input T,N_IN)"}
ACTIVATIONS = ("abs", "arccos", "arcsin", "arctan", "cos", "exp", "gelu", "identity",
               "leaky_relu", "log", "log1p", "relu", "sigmoid", "sign", "sin", "softplus",
               "softsign", "sqrt", "step", "tan", "tanh")  # nn.activation_names()

EPILOG = "shapes: --shape X=n,m (matrix), --shape x=n (vector n x 1), --shape c= (scalar)"
KINDS = ("gradient", "hessian", "hvp", "jacobian")       # commands.KINDS
NET_EPILOG = ("layers:\n" + "".join(f"  {s}\n" for s in LAYERS.values() if "," in s)
              + "  " + "  ".join(s for s in LAYERS.values() if "," not in s)
              + "\nactivations (leaky_relu[(ALPHA)] takes a slope):\n"
              + textwrap.fill(" ".join(ACTIVATIONS), 90, initial_indent="  ", subsequent_indent="  ")
              + "\nlosses: " + ", ".join(LOSSES)
              + "\nexample: matcalc net \"dense(2,3) relu dense(3,1)\" --loss sse --steps")
SHORT_OPTIONS = {"-h", "-o"}
EXAMPLES = {
    "grad": "grad \"tr(X @ A @ X.T)\" --wrt X --shape X=n,m --shape A=m,m --steps",
    "jacobian": "jacobian \"softmax(W @ x)\" --wrt x --shape W=k,n --shape x=n",
    "hessian": "hessian \"sum(log(1 + exp(X @ w)))\" --wrt w --shape X=N,d --shape w=d",
    "hvp": "hvp \"tr(X.T @ A @ X)\" --wrt X --shape X=n,m --shape A=n,n",
}
ASSUME_HELP = ("NAME=KIND: the values NAME takes, used to simplify (kinds: "
               + ", ".join(ASSUMPTION_KINDS) + ")")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong:
            choices = re.findall(r"'([^']*)'", wrong.group(2))
            close = difflib.get_close_matches(wrong.group(1), choices, n=2, cutoff=0.5)
            if close:
                message += "; did you mean " + " or ".join(close) + "?"
        raise MatcalcError(message)


NXN = re.compile(r"([A-Za-z]|[0-9]+)[xX]([A-Za-z]|[0-9]+)")


def parse_shapes(items):
    """['X=n,m', 'c='] -> {'X': ('n', 'm'), 'c': ()}; a repeated name is an error."""
    shapes = {}
    for item in items or []:
        name, eq, dims = item.partition("=")
        if not eq or not name.strip():
            raise MatcalcError(f"bad --shape {item!r}: write NAME=dims, e.g. X=n,m or x=n or c=")
        parts = [p.strip() for p in dims.split(",")] if dims.strip() else []
        glued = [NXN.fullmatch(p) for p in parts]
        if len(parts) == 1 and glued[0]:
            raise MatcalcError(f"bad --shape {item!r}: {parts[0]!r} would be one dimension; for a "
                               f"matrix write {name.strip()}={glued[0].group(1)},{glued[0].group(2)}")
        if any(not p for p in parts) or len(parts) > 2:
            raise MatcalcError(f"bad --shape {item!r}: give at most two comma-separated dimensions")
        if name.strip() in shapes:
            raise MatcalcError(f"--shape {name.strip()} is given twice")
        shapes[name.strip()] = tuple(parts)
    return shapes


def input_and_output_options(command):
    command.add_argument("--syntax", choices=["notation", "mc"], default="notation",
                         help="mc: matrixcalculus.org's input language (x'*A*x), translated and "
                              "shown on stderr; undeclared names: a-g scalars, h-z vectors, "
                              "A-Z matrices")
    command.add_argument("--format", choices=["text", "latex", "json", "numpy"], default="text",
                         help="how to print the result: the notation (default), LaTeX, JSON "
                              "(results, steps with rule and identity, shapes, check), NumPy")
    command.add_argument("--result-only", action="store_true",
                         help="print the result's formula alone (no 'X: ' prefix, no equation)")


def read_expression(expr):
    """The expression text: the argument, '-' for stdin, '@FILE' for a file's contents."""
    if expr == "-":
        return sys.stdin.read().strip()
    if expr.startswith("@"):
        try:
            with open(expr[1:]) as fh:
                return fh.read().strip()
        except OSError as e:
            raise MatcalcError(f"cannot read {expr[1:]}: {e.strerror or e}") from None
    return expr.strip()


def typeset_options(command):
    command.add_argument("--tex", metavar="FILE",
                         help="write the derivation as a LaTeX document (pdflatex FILE)")
    command.add_argument("--notes", choices=NOTE_LAYOUTS, default="below",
                         help="where --latex/--tex put the cited identities: below each line "
                              "(default), tags (numbered, with a legend) or right (a column)")


def build_parser():
    p = _Parser(prog="matcalc", description="Symbolic matrix calculus by differential "
                "identification.", epilog=EPILOG)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def expression_command(name, help_text):
        c = sub.add_parser(name, help=help_text, epilog=EPILOG + "; example: matcalc "
                           + EXAMPLES[name], formatter_class=argparse.RawDescriptionHelpFormatter)
        c.add_argument("expr", help="expression in the notation, e.g. 'tr(X @ A @ X.T)'; - reads "
                       "it from stdin, @FILE from a file")
        c.add_argument("--wrt", action="append", required=True, help="variable (repeatable)")
        c.add_argument("--shape", action="append", default=[], help="NAME=dims")
        c.add_argument("--assume", action="append", default=[], help=ASSUME_HELP)
        input_and_output_options(c)
        view = c.add_mutually_exclusive_group()
        view.add_argument("--steps", action="store_true", help="the derivation in plain text")
        view.add_argument("--latex", action="store_true", help="the derivation as LaTeX")
        typeset_options(c)
        if name == "grad":
            c.add_argument("--route", choices=["gradient", "jacobian"], default="gradient",
                           help="read off G from df = tr(G.T@dX) (default), or the Jacobian J "
                                "from df = tr(J@dX) and the gradient as J.T (the first seed's "
                                "route); for --steps, --latex and --tex")
        c.add_argument("--expect", metavar="FORMULA", help="compare with your formula (issue 12)")
        c.add_argument("--check", action="store_true",
                       help="also compare with finite differences of the expression as typed")
        return c

    expression_command("grad", "gradient of a scalar expression")
    expression_command("jacobian", "Jacobian of a vector or matrix expression")
    expression_command("hessian", "Hessian of a scalar expression of a vector")
    expression_command("hvp", "Hessian-vector product (directional derivative of the gradient)")

    net = sub.add_parser("net", help="backprop derivation of a layered network",
                         epilog=NET_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    net.add_argument("spec", help="layers, e.g. 'dense(2,3) relu dense(3,1)'")
    net.add_argument("--loss", default="sse", help="one of " + ", ".join(LOSSES))
    net.add_argument("--batch", default="N", help="batch dimension name or size")
    net_inputs(net)
    view = net.add_mutually_exclusive_group()
    view.add_argument("--steps", action="store_true")
    view.add_argument("--latex", action="store_true")
    typeset_options(net)
    net.add_argument("--check", action="store_true", help="also check every gradient numerically")

    code = sub.add_parser("codegen", help="NumPy code: forward/backward, or a Jacobian, Hessian "
                                          "or HVP function", epilog=EPILOG)
    code.add_argument("expr", nargs="?", help="expression in the notation; - reads it from "
                      "stdin, @FILE from a file")
    code.add_argument("--syntax", choices=["notation", "mc"], default="notation",
                      help="mc: matrixcalculus.org's input language, translated")
    code.add_argument("--wrt", action="append", default=[])
    code.add_argument("--shape", action="append", default=[])
    code.add_argument("--assume", action="append", default=[],
                      help=ASSUME_HELP + " (kinds jacobian, hessian, hvp)")
    code.add_argument("--kind", default="gradient", choices=KINDS)
    code.add_argument("--net", help="a network spec instead of an expression")
    code.add_argument("--loss", default="sse")
    code.add_argument("--batch", default="N")
    net_inputs(code)
    code.add_argument("--name", default=None, help="name recorded in the generated module")
    code.add_argument("--backend", default="numpy", choices=BACKENDS,
                      help="the array library of the module (gradients and networks)")
    code.add_argument("--workspace", action="store_true",
                      help="NumPy gradients and networks: every intermediate written with out= "
                           "into buffers made once per input sizes and dtype and reused call "
                           "after call; the results are views into them, valid until the next "
                           "call")
    code.add_argument("-o", "--output", help="write the module to this file (default: stdout)")
    training_options(code)
    helps = sub.add_parser("help", help="print a topic: " + ", ".join(HELP_TOPICS)
                           + ", or a command's help (matcalc help grad)")
    helps.add_argument("topic", nargs="?", default=None)
    serve_cli.add_parser(sub)                  # `matcalc serve` (issue 13)
    audit_cli.add_parser(sub)                  # `matcalc check-backward` (issue 12)
    return p


def training_options(command):
    """--optimizer and its options: the generated init_state and update (issue 11)."""
    g = command.add_argument_group("training", "with --optimizer, the module also has "
                                   "learning_rate(step), init_state(params) and "
                                   "update(params, grads, state, step)")
    g.add_argument("--optimizer", choices=OPTIMIZERS)
    g.add_argument("--lr", type=float, help="learning rate (default: the optimiser's own)")
    g.add_argument("--lr-decay", choices=DECAYS, help="learning-rate decay to --final-lr over "
                                                      "--decay-steps updates")
    g.add_argument("--final-lr", type=float)
    g.add_argument("--decay-steps", type=int)
    g.add_argument("--decoupled-weight-decay", type=float, metavar="LAMBDA",
                   help="p = p - lr*LAMBDA*p on the weights at each update (AdamW's decay)")
    for name, of in (("momentum", "momentum"), ("rho", "rmsprop"), ("beta1", "adam"),
                     ("beta2", "adam"), ("eps", "rmsprop, adam")):
        g.add_argument(f"--{name}", type=float, help=f"{of}; default: the optimiser's own")


def net_inputs(command):
    """--input and --weight-decay of a network (issue 11)."""
    command.add_argument("--input", default=None, help="shape of one example: D, C,L, C,H,W "
                         "or T,features (a sequence; T a name or a number)")
    command.add_argument("--weight-decay", type=float, default=0.0,
                         help="add lambda/2*sum(W**2) over the weights to the loss")


def expressions_first(argv):
    """An expression that starts with a minus is not an option: `-sum(x)` is read as the
    expression (argparse takes an argument with a space in it as positional, so it gets one)."""
    return [" " + t if t.startswith("-") and not t.startswith("--") and t not in SHORT_OPTIONS
            and t != "-" else t for t in argv]


def run(argv, out):
    """Parse argv and run its command, printing on out; the exit code. Help needs nothing
    heavy; every other command imports commands.py (SymPy, NumPy, the rules) here."""
    args = build_parser().parse_args(expressions_first(list(argv)))
    if args.command == "help":
        return print_help(args.topic, out)
    from . import commands      # the heavy import, after the arguments (issue 14: start-up)
    return commands.execute(args, out)


HELP_TOPICS = {"notation": "notation.md", "cheatsheet": "cheatsheet.md"}
DOCS = pathlib.Path(__file__).resolve().parent / "docs"     # package data: in the wheel


def print_help(topic, out):
    """`matcalc help notation` prints matcalc/docs/notation.md (package data, so the wheel ships
    it); `matcalc help grad` the command's help."""
    if topic is None:
        out.write("topics: " + ", ".join(HELP_TOPICS) + "; or a command: matcalc help grad\n")
        return 0
    if topic not in HELP_TOPICS:
        commands = build_parser()._subparsers._group_actions[0].choices
        if topic in commands:
            out.write(commands[topic].format_help())
            return 0
        close = difflib.get_close_matches(topic, list(HELP_TOPICS) + list(commands), n=2)
        raise MatcalcError(f"no help on {topic!r}; topics: {', '.join(HELP_TOPICS)} or a command"
                           + (f"; did you mean {' or '.join(close)}?" if close else ""))
    path = DOCS / HELP_TOPICS[topic]
    if not path.exists():
        raise MatcalcError(f"matcalc/docs/{HELP_TOPICS[topic]} is missing from this installation "
                           f"of matcalc; reinstall it (pip install --force-reinstall matcalc-diffid)")
    out.write(path.read_text(encoding="utf-8"))
    return 0


def main(argv=None):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run(sys.argv[1:] if argv is None else argv, sys.stdout)
    except KeyboardInterrupt:
        sys.stderr.write("matcalc: interrupted\n")
        return 130
    except ParseError as e:
        where = f" at column {e.column}" if e.column else ""
        sys.stderr.write(f"matcalc: parse error{where}: {e.reason}\n")
    except MatcalcError as e:
        sys.stderr.write("matcalc: " + " ".join(str(e).split()) + "\n")
    except RecursionError:
        sys.stderr.write("matcalc: expression too deeply nested\n")
    except MemoryError:
        sys.stderr.write("matcalc: out of memory: the expression or its sizes are too large\n")
    except OSError as e:
        sys.stderr.write(f"matcalc: {e.strerror}: {e.filename}\n")
    except Exception as e:  # a bug in matcalc, not in the input: still one line, exit 1
        sys.stderr.write(f"matcalc: internal error ({type(e).__name__}: {' '.join(str(e).split())[:200]}); "
                         f"please report it at the project's issue tracker with the command\n")
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
