"""Dimensions and shapes: how declared shapes become SymPy sizes, and how shapes are named in errors.

A dimension is a name (`n`, `d_in`), which becomes a positive integer SymPy Symbol, or a positive
integer. Two symbols that share a dimension name share that size. A declared shape is `()` for a
scalar, `(n,)` for an n x 1 column vector and `(n, m)` for a matrix.

The single broadcasting rule of the notation (a 1 x m row added to every row of an n x m matrix)
lives in `ops.add`, which calls `row_broadcast` here to decide whether it applies.
"""
import re

import sympy as sp

from .errors import MatcalcError, ShapeError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def dimension(d, where="shape"):
    """A SymPy size from a dimension name or a positive integer."""
    if isinstance(d, sp.Basic):
        if (d.is_Integer and d > 0) or (d.is_Symbol and d.is_integer and d.is_positive):
            return d
        if d.is_Symbol:
            return sp.Symbol(d.name, integer=True, positive=True)
        raise MatcalcError(f"bad dimension {d} in {where}: use a name or a positive integer")
    if isinstance(d, bool):
        raise MatcalcError(f"bad dimension {d!r} in {where}: use a name or a positive integer")
    if isinstance(d, int):
        if d <= 0:
            raise MatcalcError(f"bad dimension {d} in {where}: sizes are positive")
        return sp.Integer(d)
    if isinstance(d, str):
        s = d.strip()
        if s.isdigit():
            return dimension(int(s), where)
        if _NAME.match(s):
            return sp.Symbol(s, integer=True, positive=True)
    raise MatcalcError(f"bad dimension {d!r} in {where}: use a name or a positive integer")


def declared_shape(spec, name="?"):
    """(rows, cols) from a declared shape: () scalar -> None, (n,) -> (n, 1), (n, m) -> (n, m)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = [p for p in spec.split(",") if p.strip()]
    spec = tuple(spec)
    if len(spec) == 0:
        return None
    if len(spec) == 1:
        return (dimension(spec[0], f"the shape of {name}"), sp.Integer(1))
    if len(spec) == 2:
        return tuple(dimension(d, f"the shape of {name}") for d in spec)
    raise MatcalcError(f"the shape of {name} has {len(spec)} dimensions; use (), (n,) or (n, m)")


def shape_of(e):
    """The shape of a matrix expression, or None for a scalar."""
    return tuple(e.shape) if getattr(e, "is_Matrix", False) else None


def is_one_by_one(e):
    return getattr(e, "is_Matrix", False) and tuple(e.shape) == (1, 1)


def is_vector(e):
    """An n x 1 column (n not literally 1)."""
    return getattr(e, "is_Matrix", False) and e.shape[1] == 1 and e.shape[0] != 1


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
