"""Dimensions and shapes: how declared shapes become SymPy sizes, and how shapes are named in errors.

A dimension is a name (`n`, `d_in`), which becomes a positive integer SymPy Symbol, or a positive
integer. Two symbols that share a dimension name share that size. A declared shape is `()` for a
scalar, `(n,)` for an n x 1 column vector and `(n, m)` for a matrix.

Names are validated here, once, for every way they can arrive (text, Python strings, SymPy
symbols): an ASCII identifier that is not a Python keyword and not reserved by generated code.
Everything downstream (printers, LaTeX, generated modules) may therefore use a name as it is.

The single broadcasting rule of the notation (a 1 x m row added to every row of an n x m matrix)
lives in `ops.add`, which calls `row_broadcast` here to decide whether it applies.
"""
import keyword
import re

import sympy as sp

from ..errors import MatcalcError, ShapeError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
DIGITS = re.compile(r"[0-9]+\Z")
MAX_NAME = 64
MAX_SIZE = 10 ** 9          # a dimension given as a number; larger is not a matrix anyone has
RESERVED = {"np", "xp", "jnp", "torch", "os", "sys", "math", "builtins"}


def check_name(name, what="symbol"):
    """name, if it is a plain identifier usable everywhere; else a MatcalcError saying why."""
    if not isinstance(name, str) or not NAME.match(name) or len(name) > MAX_NAME:
        shown = name if isinstance(name, str) and len(name) <= MAX_NAME else repr(name)[:40] + "..."
        raise MatcalcError(f"bad {what} name {shown!r}: use ASCII letters, digits and _ "
                           f"(at most {MAX_NAME} characters, not starting with a digit)")
    if keyword.iskeyword(name) or name.startswith("__") or name in RESERVED:
        raise MatcalcError(f"bad {what} name {name!r}: it is reserved (a Python keyword, a dunder "
                           f"name or a module name of generated code)")
    return name


def dimension(d, where="shape"):
    """A SymPy size from a dimension name or a positive integer."""
    bad = f"bad dimension {str(d)[:40]!r} in {where}: use a name or a positive integer"
    if isinstance(d, sp.Basic):
        if d.is_Integer and d > 0:
            return dimension(int(d), where)
        if d.is_Symbol:
            return sp.Symbol(check_name(d.name, "dimension"), integer=True, positive=True)
        raise MatcalcError(bad)
    if isinstance(d, bool):
        raise MatcalcError(bad)
    if isinstance(d, int):
        if d <= 0:
            raise MatcalcError(f"bad dimension {d} in {where}: sizes are positive")
        if d > MAX_SIZE:
            raise MatcalcError(f"bad dimension {d} in {where}: larger than {MAX_SIZE}")
        return sp.Integer(d)
    if isinstance(d, str):
        s = d.strip()
        if DIGITS.match(s):
            if len(s) > 10:
                raise MatcalcError(f"bad dimension {s[:20]!r} in {where}: larger than {MAX_SIZE}")
            return dimension(int(s), where)
        if NAME.match(s):
            return sp.Symbol(check_name(s, "dimension"), integer=True, positive=True)
    raise MatcalcError(bad)


def declared_shape(spec, name="?"):
    """(rows, cols) from a declared shape: () scalar -> None, (n,) -> (n, 1), (n, m) -> (n, m)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = [p for p in spec.split(",") if p.strip()]
    try:
        spec = tuple(spec)
    except TypeError:
        raise MatcalcError(f"the shape of {name} must be (), (n,) or (n, m), got {spec!r}") from None
    if len(spec) == 0:
        return None
    if len(spec) == 1:
        return (dimension(spec[0], f"the shape of {name}"), sp.Integer(1))
    if len(spec) == 2:
        return tuple(dimension(d, f"the shape of {name}") for d in spec)
    raise MatcalcError(f"the shape of {name} has {len(spec)} dimensions; use (), (n,) or (n, m)")


def is_matrix(e):
    return getattr(e, "is_Matrix", False)


def shape_of(e):
    """The shape of a matrix expression, or None for a scalar."""
    return tuple(e.shape) if is_matrix(e) else None


def is_one_by_one(e):
    return is_matrix(e) and tuple(e.shape) == (1, 1)


def is_column(e):
    """An n x 1 column (n not literally 1)."""
    return is_matrix(e) and e.shape[1] == 1 and e.shape[0] != 1


def describe(shape):
    """'scalar', 'n x 1' or 'n x m', as errors name shapes."""
    if shape is None:
        return "scalar"
    return f"{shape[0]} x {shape[1]}"


def row_broadcast(a, b):
    """True when one of a, b is a 1 x m row and the other an n x m matrix (n != 1)."""
    sa, sb = shape_of(a), shape_of(b)
    if sa is None or sb is None or sa[1] != sb[1]:
        return False
    return (sa[0] == 1) != (sb[0] == 1)


def mismatch(op, a, b):
    return ShapeError(f"shape mismatch in {op}: {describe(shape_of(a))} and {describe(shape_of(b))}")
