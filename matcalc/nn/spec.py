"""The layer-spec text format: `dense(1000,100,bias=false) relu dense(100,10,bias=false)`.

Read with a small tokenizer of its own (never evaluated); errors point at their column.
"""
from ..errors import MatcalcError, ParseError, ShapeError, UnknownNameError
from .layers import Dense, LeakyReLU, activation, activation_names
from .losses import LOSSES
from .network import Sequential

SPEC_GRAMMAR = """
spec   := layer+                       (separated by spaces)
layer  := NAME [ "(" args ")" ]
args   := arg ("," arg)*
arg    := NUMBER | NAME | NAME "=" (NUMBER | NAME)
layers: dense(IN, OUT[, bias=true|false])   IN, OUT: positive integers or dimension names
        relu  sigmoid  tanh  softplus  identity  leaky_relu[(ALPHA)]   (ALPHA defaults to 0.01)
        and every elementwise function of the notation (gelu, softsign, ...)
"""


def _tokens(text):
    """(kind, value, column) with kind in NAME, NUMBER, '(', ')', ',', '=' and END."""
    i, out = 0, []
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "(),=":
            out.append((c, c, i + 1))
            i += 1
        elif c.isalpha() or c == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(("NAME", text[i:j], i + 1))
            i = j
        elif c.isdigit() or c in "+-." and i + 1 < len(text) and (text[i + 1].isdigit() or text[i + 1] == "."):
            j = i + 1
            while j < len(text) and (text[j].isdigit() or text[j] in ".eE" or
                                     (text[j] in "+-" and text[j - 1] in "eE")):
                j += 1
            literal = text[i:j]
            try:
                value = int(literal) if literal.lstrip("+-").isdigit() else float(literal)
            except ValueError:
                raise ParseError(f"bad number {literal!r}", text, i + 1) from None
            out.append(("NUMBER", value, i + 1))
            i = j
        else:
            raise ParseError(f"unexpected character {c!r}", text, i + 1)
    out.append(("END", None, len(text) + 1))
    return out


def from_spec(spec, loss="sse", batch="N"):
    """A Sequential network from the layer-spec text, e.g.
    "dense(1000,100,bias=false) relu dense(100,10,bias=false)"; grammar in SPEC_GRAMMAR."""
    if not isinstance(spec, str):
        raise MatcalcError("the layer spec must be text")
    if loss not in LOSSES:
        raise UnknownNameError(f"unknown loss {loss!r}; losses: {', '.join(LOSSES)}")
    tokens = _tokens(spec)
    pos = 0
    layers = []

    def expect(kind, what):
        nonlocal pos
        tok = tokens[pos]
        if tok[0] != kind:
            found = "end of spec" if tok[0] == "END" else repr(tok[1])
            raise ParseError(f"expected {what}, found {found}", spec, tok[2])
        pos += 1
        return tok

    if tokens[0][0] == "END":
        raise ParseError("empty layer spec: name at least one layer, e.g. dense(2,3)", spec, 1)
    while tokens[pos][0] != "END":
        kind, name, column = expect("NAME", "a layer name")
        args = []
        if tokens[pos][0] == "(":
            pos += 1
            while True:
                tok = tokens[pos]
                if tok[0] == "NAME" and tokens[pos + 1][0] == "=":
                    pos += 2
                    val = tokens[pos]
                    if val[0] not in ("NAME", "NUMBER"):
                        raise ParseError("expected a value after '='", spec, val[2])
                    pos += 1
                    args.append((tok[1], val[1], tok[2]))
                elif tok[0] in ("NAME", "NUMBER"):
                    pos += 1
                    args.append((None, tok[1], tok[2]))
                else:
                    raise ParseError("expected an argument", spec, tok[2])
                if tokens[pos][0] == ",":
                    pos += 1
                    continue
                expect(")", "',' or ')'")
                break
        layers.append(_layer(name, args, spec, column))
    try:
        return Sequential(layers, loss=LOSSES[loss](), batch=batch)
    except ShapeError as e:
        raise ShapeError(f"{e} (in spec {spec!r})") from None


def _layer(name, args, spec, column):
    key = name.lower()
    if key == "dense":
        positional = [(v, c) for k, v, c in args if k is None]
        keywords = {k.lower(): (v, c) for k, v, c in args if k is not None}
        if len(positional) != 2:
            raise ParseError(f"dense needs two sizes, dense(IN, OUT), got {len(positional)}",
                             spec, column)
        for k, (v, c) in keywords.items():
            if k != "bias":
                raise ParseError(f"unknown option {k!r} of dense (only bias=true|false)", spec, c)
        bias = True
        if "bias" in keywords:
            v, c = keywords["bias"]
            if str(v).lower() not in ("true", "false", "1", "0"):
                raise ParseError(f"bias must be true or false, got {v!r}", spec, c)
            bias = str(v).lower() in ("true", "1")
        sizes = []
        for v, c in positional:
            if isinstance(v, float) or (isinstance(v, int) and v <= 0):
                raise ParseError(f"a size must be a positive integer or a name, got {v!r}", spec, c)
            sizes.append(v)
        return Dense(sizes[0], sizes[1], bias=bias)
    if key not in activation_names():
        raise ParseError(f"unknown layer {name!r}; layers: dense, " + ", ".join(activation_names()),
                         spec, column)
    if key == "leaky_relu":
        if len(args) > 1 or any(k is not None and k != "alpha" for k, _, _ in args):
            raise ParseError("leaky_relu takes one number, leaky_relu(ALPHA)", spec, column)
        if args:
            _, v, c = args[0]
            if not isinstance(v, (int, float)):
                raise ParseError(f"alpha must be a number, got {v!r}", spec, c)
            return LeakyReLU(v)
        return LeakyReLU()
    if args:
        raise ParseError(f"{key} takes no arguments", spec, args[0][2])
    return activation(key)
