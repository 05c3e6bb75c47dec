"""A request of the JSON API, read and checked field by field before anything is derived.

    {"expr": "tr(X @ A @ X.T)", "shapes": {"X": ["n", "m"], "A": ["m", "m"]},
     "wrt": "X", "kind": "gradient", "assume": {"y": "onehot"}}
    {"net": "dense(4,8) relu dense(8,3)", "loss": "sse", "batch": "N"}

`kind` is one of gradient, jacobian, hessian, hvp (default gradient); `wrt` is a name or a list
of names; `assume` is optional. A shape is a list of at most two dimensions, each a name or a
positive integer ([] a scalar, ["n"] an n x 1 vector). `check` and `code` (default true) ask for
the numeric check and the generated NumPy code.

Every mistake is a RequestError naming the field; nothing of the request is evaluated: the
expression and the layer spec reach matcalc's own parsers (notation/parse.py, nn/spec.py) as
text.
"""
from dataclasses import dataclass, field

from ..errors import MatcalcError

KINDS = ("gradient", "jacobian", "hessian", "hvp")
EXPRESSION_FIELDS = {"expr", "shapes", "wrt", "kind", "assume", "check", "code"}
NETWORK_FIELDS = {"net", "loss", "batch", "check", "code"}
MAX_NAMES = 100          # declared symbols, variables or assumptions in one request


class RequestError(MatcalcError):
    """A request the API cannot read; `field` names the offending member of the JSON body."""

    def __init__(self, message, field):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Job:
    """What to derive, with every field checked: an expression job or a network job."""
    expr: str = None
    shapes: dict = field(default_factory=dict)
    wrt: tuple = ()
    kind: str = "gradient"
    assume: dict = field(default_factory=dict)
    net: str = None
    loss: str = "sse"
    batch: str = "N"
    check: bool = True
    code: bool = True


def _text(body, name, default=None):
    value = body.get(name, default)
    if not isinstance(value, str):
        raise RequestError(f"{name} must be a string", name)
    return value


def _flag(body, name):
    value = body.get(name, True)
    if not isinstance(value, bool):
        raise RequestError(f"{name} must be true or false", name)
    return value


def _dimension(value, name):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RequestError(f"shape of {name}: a dimension is a name or a positive integer", "shapes")
    if isinstance(value, int) and value < 1:
        raise RequestError(f"shape of {name}: dimension {value} is not positive", "shapes")
    if isinstance(value, str) and not value.strip():
        raise RequestError(f"shape of {name}: a dimension is empty", "shapes")
    return value.strip() if isinstance(value, str) else value


def _shapes(body):
    shapes = body.get("shapes", {})
    if not isinstance(shapes, dict):
        raise RequestError('shapes must be an object: {"X": ["n", "m"], "x": ["n"], "c": []}',
                           "shapes")
    if len(shapes) > MAX_NAMES:
        raise RequestError(f"shapes declares {len(shapes)} symbols; at most {MAX_NAMES}", "shapes")
    out = {}
    for name, dims in shapes.items():
        if not isinstance(dims, list) or len(dims) > 2:
            raise RequestError(f"shape of {name} must be a list of at most two dimensions",
                               "shapes")
        out[name] = tuple(_dimension(d, name) for d in dims)
    return out


def _wrt(body):
    wrt = body.get("wrt")
    names = [wrt] if isinstance(wrt, str) else wrt
    if not isinstance(names, list) or not names or len(names) > MAX_NAMES or \
            not all(isinstance(n, str) and n.strip() for n in names):
        raise RequestError("wrt must be a variable name or a non-empty list of names", "wrt")
    return tuple(n.strip() for n in names)


def _assume(body):
    assume = body.get("assume", {})
    if not isinstance(assume, dict) or len(assume) > MAX_NAMES or \
            not all(isinstance(k, str) for k in assume.values()):
        raise RequestError('assume must be an object of name -> kind, e.g. {"y": "onehot"}',
                           "assume")
    return dict(assume)


def read_job(body):
    """The Job a decoded JSON body asks for; a RequestError names the first bad field."""
    if not isinstance(body, dict):
        raise RequestError("the request must be a JSON object", "body")
    if "net" in body:
        unknown = sorted(set(body) - NETWORK_FIELDS)
        if unknown:
            raise RequestError(f"unknown field {unknown[0]!r} in a network request; fields: "
                               + ", ".join(sorted(NETWORK_FIELDS)), unknown[0])
        return Job(net=_text(body, "net"), loss=_text(body, "loss", "sse"),
                   batch=_text(body, "batch", "N"), check=_flag(body, "check"),
                   code=_flag(body, "code"))
    unknown = sorted(set(body) - EXPRESSION_FIELDS)
    if unknown:
        raise RequestError(f"unknown field {unknown[0]!r}; fields: "
                           + ", ".join(sorted(EXPRESSION_FIELDS)) + " (or net, loss, batch)",
                           unknown[0])
    if "expr" not in body:
        raise RequestError('missing "expr" (or "net" for a network)', "expr")
    kind = _text(body, "kind", "gradient")
    if kind not in KINDS:
        raise RequestError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", "kind")
    return Job(expr=_text(body, "expr"), shapes=_shapes(body), wrt=_wrt(body), kind=kind,
               assume=_assume(body), check=_flag(body, "check"), code=_flag(body, "code"))
