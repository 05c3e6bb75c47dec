"""The layer-spec text format: `dense(1000,100,bias=false) relu dense(100,10,bias=false)`.

Read with a small tokenizer of its own (never evaluated); errors point at their column.
"""
import difflib

from ..errors import MatcalcError, ParseError, ShapeError, UnknownNameError
from .layers import (AvgPool2D, BatchNorm, Conv1D, Conv2D, Dense, Dropout, Flatten, LayerNorm,
                     LeakyReLU, MaxPool2D, Softmax, activation, activation_names)
from .losses import LOSSES
from .network import Sequential
from . import sequence

SPEC_GRAMMAR = """
spec   := layer+                       (separated by spaces)
layer  := NAME [ "(" args ")" ]
args   := arg ("," arg)*
arg    := NUMBER | NAME | NAME "=" (NUMBER | NAME)
layers: dense(IN, OUT[, bias=true|false])   IN, OUT: positive integers or dimension names
        conv2d(C_IN, C_OUT, KERNEL[, stride=S][, padding=P][, bias=true|false])   (--input C,H,W)
        conv1d(C_IN, C_OUT, KERNEL[, stride=S][, padding=P][, bias=true|false])   (--input C,L)
        rnn(N_IN, N_HIDDEN)  gru(N_IN, N_HIDDEN)  lstm(N_IN, N_HIDDEN), first, then one
        dense(N_HIDDEN, N_OUT), the read-out of the last hidden state   (--input T,N_IN)
        maxpool(P)  avgpool(P)  flatten  dropout(P)  layernorm(D)  batchnorm(D)  softmax
        (after images, D is the number of channels C: layernorm over C, H, W of each image,
        batchnorm per channel over N, H, W; dropout's mask is N x H*W*C)
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


def input_shape(text):
    """The shape of one example from --input text: "784" -> 784, "3,32" -> (3, 32) (C, L),
    "1,28,28" -> (1, 28, 28) (C, H, W), "T,8" -> ("T", 8) (a sequence of T steps, T a name or a
    number); None stays None."""
    if text is None:
        return None
    parts = [p.strip() for p in str(text).split(",")]
    named = len(parts) == 2 and parts[0].isidentifier() and parts[1].isdigit() and int(parts[1]) > 0
    if not named and (not 1 <= len(parts) <= 3 or not all(p.isdigit() and int(p) > 0 for p in parts)):
        raise MatcalcError(f"--input takes D, C,L, C,H,W or T,features (positive integers; T of a "
                           f"sequence may be a name), got {text!r}")
    sizes = tuple(p if p.isidentifier() else int(p) for p in parts)
    return sizes[0] if len(sizes) == 1 else sizes


def from_spec(spec, loss="sse", batch="N", input=None, weight_decay=0):
    """A Sequential network from the layer-spec text, e.g.
    "dense(1000,100,bias=false) relu dense(100,10,bias=false)"; grammar in SPEC_GRAMMAR.
    input: the shape of one example (D, (C, L) or (C, H, W)), as Sequential takes it."""
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
        if isinstance(layers[0], tuple(sequence.CELLS.values())):
            return sequence.from_layers(layers, LOSSES[loss](), batch=batch, input=input,
                                        weight_decay=weight_decay)
        cell = next((l for l in layers if isinstance(l, tuple(sequence.CELLS.values()))), None)
        if cell is not None:
            raise ShapeError(f"{sequence.spec_of(cell)} (layer {layers.index(cell) + 1}): a "
                             f"recurrent cell comes first, then one dense read-out")
        if isinstance(input, tuple) and any(isinstance(d, str) for d in input):
            raise MatcalcError(f"--input T,features is for recurrent nets (rnn, gru, lstm); "
                               f"{layers[0].spec()} takes D, C,L or C,H,W (positive integers)")
        return Sequential(layers, loss=LOSSES[loss](), batch=batch, input=input,
                          weight_decay=weight_decay)
    except ShapeError as e:
        raise ShapeError(f"{e} (in spec {spec!r})") from None


def _layer(name, args, spec, column):
    key = name.lower()
    if key in MAKERS:
        return MAKERS[key](key, args, spec, column)
    if key not in activation_names():
        raise ParseError(f"unknown layer {name!r}; {did_you_mean(key)}layers: "
                         + ", ".join(sorted(MAKERS)) + ", " + ", ".join(activation_names()),
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


# What other libraries call our layers (PyTorch's Linear, Keras's Conv2D, ...): named in
# "did you mean" when the spelling alone finds nothing close.
OTHER_NAMES = {"linear": "dense", "fc": "dense", "affine": "dense", "fullyconnected": "dense",
               "conv": "conv2d or conv1d", "convolution": "conv2d or conv1d",
               "maxpool2d": "maxpool", "maxpooling2d": "maxpool", "avgpool2d": "avgpool",
               "averagepooling2d": "avgpool", "batchnorm1d": "batchnorm",
               "batchnorm2d": "batchnorm", "batchnormalization": "batchnorm",
               "layernormalization": "layernorm", "logistic": "sigmoid", "none": "identity",
               "linear_activation": "identity", "simplernn": "rnn", "vanillarnn": "rnn",
               "elman": "rnn", "rnncell": "rnn", "grucell": "gru", "lstmcell": "lstm",
               "recurrent": "rnn or gru or lstm"}


def did_you_mean(key):
    """'did you mean leaky_relu? ' for leakyrelu: the layer another library's name means, the
    known name equal up to underscores and case, or the closest names by spelling; or ''."""
    known = sorted(MAKERS) + activation_names()
    squashed = key.replace("_", "")
    if squashed in OTHER_NAMES or key in OTHER_NAMES:
        return f"did you mean {OTHER_NAMES.get(key, OTHER_NAMES.get(squashed))}? "
    same = [k for k in known if k.replace("_", "") == squashed]
    close = same or difflib.get_close_matches(key, known, n=2, cutoff=0.6)
    return f"did you mean {' or '.join(close)}? " if close else ""


def _arguments(key, args, spec, column, sizes, options=(), names_allowed=False):
    """(positional sizes, {option: value}) of a layer, checked: `sizes` positional positive
    integers (or dimension names where allowed), options among `options`."""
    positional = [(v, c) for k, v, c in args if k is None]
    keywords = {k.lower(): (v, c) for k, v, c in args if k is not None}
    if len(positional) != len(sizes):
        count = {1: "one size", 2: "two sizes", 3: "three sizes"}[len(sizes)]
        raise ParseError(f"{key} needs {count}, "
                         f"{key}({', '.join(sizes)}), got {len(positional)}", spec, column)
    for k, (v, c) in keywords.items():
        if k not in options:
            allowed = ", ".join(f"{o}=" for o in options) or "none"
            raise ParseError(f"unknown option {k!r} of {key} (options: {allowed})", spec, c)
    values = []
    for v, c in positional:
        if isinstance(v, str) and names_allowed:
            values.append(v)
        elif isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ParseError(f"a size must be a positive integer{' or a name' if names_allowed else ''}"
                             f", got {v!r}", spec, c)
        else:
            values.append(v)
    return values, keywords


def _flag(keywords, name, spec, default=True):
    if name not in keywords:
        return default
    v, c = keywords[name]
    if str(v).lower() not in ("true", "false", "1", "0"):
        raise ParseError(f"{name} must be true or false, got {v!r}", spec, c)
    return str(v).lower() in ("true", "1")


def _count(keywords, name, spec, default, least):
    if name not in keywords:
        return default
    v, c = keywords[name]
    if isinstance(v, bool) or not isinstance(v, int) or v < least:
        raise ParseError(f"{name} must be an integer >= {least}, got {v!r}", spec, c)
    return v


def _dense(key, args, spec, column):
    (n_in, n_out), kw = _arguments(key, args, spec, column, ("IN", "OUT"), ("bias",), True)
    return Dense(n_in, n_out, bias=_flag(kw, "bias", spec))


def _conv(key, args, spec, column):
    (c_in, c_out, kernel), kw = _arguments(key, args, spec, column, ("C_IN", "C_OUT", "KERNEL"),
                                           ("stride", "padding", "bias"))
    layer = Conv2D if key == "conv2d" else Conv1D
    return layer(c_in, c_out, kernel, stride=_count(kw, "stride", spec, 1, 1),
                 padding=_count(kw, "padding", spec, 0, 0), bias=_flag(kw, "bias", spec))


def _pool(key, args, spec, column):
    if not args:
        return (MaxPool2D if key == "maxpool" else AvgPool2D)(2)
    (size,), _ = _arguments(key, args, spec, column, ("P",))
    return (MaxPool2D if key == "maxpool" else AvgPool2D)(size)


def _dropout(key, args, spec, column):
    if len(args) != 1 or args[0][0] not in (None, "p") or not isinstance(args[0][1], (int, float)) \
            or not 0 <= args[0][1] < 1:
        raise ParseError("dropout takes one probability in [0, 1), dropout(P)", spec, column)
    return Dropout(args[0][1])


def _norm(key, args, spec, column):
    (D,), _ = _arguments(key, args, spec, column, ("D",))
    return (LayerNorm if key == "layernorm" else BatchNorm)(D)


def _plain(layer):
    def make(key, args, spec, column):
        if args:
            raise ParseError(f"{key} takes no arguments", spec, args[0][2])
        return layer()
    return make


def _cell(key, args, spec, column):
    (n_in, n_hidden), _ = _arguments(key, args, spec, column, ("N_IN", "N_HIDDEN"))
    return sequence.CELLS[key](n_in, n_hidden)


MAKERS = {"rnn": _cell, "gru": _cell, "lstm": _cell, "dense": _dense, "conv2d": _conv, "conv1d": _conv, "maxpool": _pool, "avgpool": _pool,
          "flatten": _plain(Flatten), "softmax": _plain(Softmax), "dropout": _dropout,
          "layernorm": _norm, "batchnorm": _norm}
