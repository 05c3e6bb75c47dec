"""Evaluation of any matcalc expression; the array module is a parameter.

`evaluate(expr, values)` computes the value of an expression from NumPy arrays (vectors as 1-D
arrays or n x 1 columns). Passing `xp=autograd.numpy` evaluates the same expression with HIPS
autograd. Shared subexpressions are computed once, in one loop over the DAG (no recursion).

Structural operations are one table here (`STRUCTURAL`, by exact type); every function of the
notation is evaluated by its record in the registry (`record.array(xp, value)`). Vectors and
matrices are 2-D arrays; scalars and 1 x 1 results come back as scalars (a 1 x 1 matrix is a
scalar, as the notation says). This module reads expressions only; it never evaluates user text.
"""
import numpy as np
import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Identity, Inverse, MatAdd, MatMul,
                   MatrixSymbol, OneMatrix, Trace, Transpose, ZeroMatrix)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy.matrices.expressions.kronecker import KroneckerProduct

from .calculus.stable import evaluated_form
from .core import dag
from .core.functions import record_of
from .core.nodes import AsScalar, Commutation, MatrixPower, Named, Vec
from .core.ops import free_variables
from .core.vec import commutation_array
from .core.blocks import Concat
from .core.windows import (BlockArgmax, BlockMax, Col2im, Im2col, blockargmax_array,
                           blockmax_array, col2im_array, im2col_array)
from .errors import MatcalcError, ShapeError, UnknownNameError

MAX_ENTRIES = 50_000_000       # a larger array is refused, not allocated


def bind(expr, values):
    """name -> 2-D array (or scalar) and dimension symbol -> size, checked against the shapes."""
    symbols = free_variables(expr)
    arrays, dims = {}, {}
    for name, s in symbols.items():
        if name not in values:
            raise UnknownNameError(f"no value given for {name!r}")
        v = values[name]
        if not hasattr(v, "_value"):          # not an autograd box: a plain array
            v = np.asarray(v)
            if v.dtype.kind not in "fiu":
                raise ShapeError(f"{name} must be a real number array, got dtype {v.dtype}")
        if isinstance(s, sp.Symbol):
            if np.ndim(v) != 0 and np.shape(v) not in ((1, 1), (1,)):
                raise ShapeError(f"{name} is a scalar, got an array of shape {np.shape(v)}")
            arrays[name] = v if np.ndim(v) == 0 else np.reshape(v, ())
            continue
        rows, cols = s.shape
        shape = np.shape(v)
        if cols == 1 and len(shape) == 1:
            v = np.reshape(v, (shape[0], 1))
            shape = (shape[0], 1)
        if len(shape) != 2:
            raise ShapeError(f"{name} must be {rows} x {cols}, got an array of shape {shape}")
        for d, size in zip((rows, cols), shape):
            if d.is_Integer:
                if int(d) != size:
                    raise ShapeError(f"{name} must be {rows} x {cols}, got shape {shape}")
            elif dims.setdefault(d, size) != size:
                raise ShapeError(f"{name} has {d} = {size}, but another argument has "
                                 f"{d} = {dims[d]}")
        arrays[name] = v
    return arrays, dims


def dimension_sizes(expr, values):
    """dimension name -> size, read off the arrays given for the symbols of expr."""
    return {d.name: size for d, size in bind(expr, values)[1].items()}


def evaluate(expr, values, xp=np, sizes=None):
    """The value of `expr` with symbols bound by `values` (name -> array or number).

    sizes (dimension name -> size) is needed only when a dimension occurs in no symbol of the
    expression, as in the gradient 3*eye(n) of 3*tr(A): pass
    `sizes=dimension_sizes(f, values)` with the function f the result came from.
    """
    arrays, dims = bind(expr, values)
    for name, size in (sizes or {}).items():
        d = sp.Symbol(name, integer=True, positive=True)
        if dims.setdefault(d, int(size)) != int(size):
            raise ShapeError(f"dimension {name} is {dims[d]} in the values but {size} in sizes")
    return Evaluator(arrays, dims, xp).value(evaluated_form(expr))


class Evaluator:
    """Values of the nodes of one DAG, computed once each in postorder."""

    def __init__(self, arrays, dims, xp=np):
        self.arrays = arrays
        self.dims = dims
        self.xp = xp
        self.memo = {}

    def size(self, d):
        d = sp.sympify(d)
        if d.is_Integer:
            return int(d)
        if d in self.dims:
            return self.dims[d]
        if d.is_Mul:          # n*m, a size of a Jacobian through vec
            return int(np.prod([self.size(f) for f in d.args]))
        if d.is_Pow and d.exp.is_Integer:       # n**2
            return self.size(d.base) ** int(d.exp)
        if d.is_Add:          # m + n, the rows of concat(A, B)
            return sum(self.size(t) for t in d.args)
        raise MatcalcError(f"the size of dimension {d} is unknown: give a value for a symbol using it")

    def shape(self, e):
        rows, cols = (self.size(d) for d in e.shape)
        if rows * cols > MAX_ENTRIES:
            raise MatcalcError(f"a {rows} x {cols} array is too large to evaluate")
        return rows, cols

    def value(self, e):
        for node in dag.postorder(e):
            if node not in self.memo:
                self.memo[node] = self.compute(node)
        v = self.memo[e]
        if getattr(e, "is_Matrix", False) and tuple(e.shape) == (1, 1):
            return v[0, 0] if hasattr(v, "__getitem__") else v
        return v

    def compute(self, e):
        method = STRUCTURAL.get(type(e))
        if method is not None:
            return method(self, e)
        record = record_of(e)
        if record is not None:
            arg = e.arg if hasattr(e, "arg") else e.args[0]
            return record.array(self.xp, self.get(arg))
        if isinstance(e, sp.Number):
            return float(e)
        raise MatcalcError(f"cannot evaluate {type(e).__name__}: {e}")

    def get(self, a):
        """The value of a child (numbers are not nodes of the walk)."""
        return float(a) if isinstance(a, sp.Number) else self.memo[a]

    # -- the structural operations --
    def _symbol(self, e):
        if e.name in self.arrays and not e.is_integer:
            return self.arrays[e.name]
        return float(self.size(e))

    def _matmul(self, e):
        out, coeff = None, 1.0
        for a in e.args:
            if getattr(a, "is_Matrix", False):
                out = self.memo[a] if out is None else out @ self.memo[a]
            else:
                coeff = coeff * self.get(a)
        return out if coeff == 1.0 else coeff * out

    def _fold(self, e, op):
        out = self.get(e.args[0])
        for a in e.args[1:]:
            out = op(out, self.get(a))
        return out

    def _pow(self, e):
        base, p = e.args
        if p.is_Number:
            return self.get(base) ** float(p)
        return self.xp.power(self.get(base), self.get(p))    # x**a, a**x: NaN where not real

    def _kron(self, e):
        out = self.memo[e.args[0]]
        for a in e.args[1:]:
            out = self.xp.kron(out, self.memo[a])
        return out

    def _matrix_power(self, e):
        out = self.memo[e.base]
        for _ in range(int(e.exponent) - 1):
            out = out @ self.memo[e.base]
        return out


STRUCTURAL = {
    MatrixSymbol: lambda ev, e: ev.arrays[e.name],
    sp.Symbol: Evaluator._symbol,
    Identity: lambda ev, e: np.eye(ev.shape(e)[0]),
    OneMatrix: lambda ev, e: np.ones(ev.shape(e)),
    ZeroMatrix: lambda ev, e: np.zeros(ev.shape(e)),
    MatMul: Evaluator._matmul,
    MatAdd: lambda ev, e: ev._fold(e, lambda a, b: a + b),
    sp.Add: lambda ev, e: ev._fold(e, lambda a, b: a + b),
    HadamardProduct: lambda ev, e: ev._fold(e, lambda a, b: a * b),
    sp.Mul: lambda ev, e: ev._fold(e, lambda a, b: a * b),
    HadamardPower: Evaluator._pow,
    sp.Pow: Evaluator._pow,
    Transpose: lambda ev, e: ev.get(e.arg).T,
    Inverse: lambda ev, e: ev.xp.linalg.inv(ev.memo[e.arg]),
    Trace: lambda ev, e: ev.xp.trace(ev.memo[e.arg]),
    DiagMatrix: lambda ev, e: ev.xp.diag(ev.memo[e.args[0]][:, 0]),
    DiagonalOf: lambda ev, e: ev.xp.reshape(ev.xp.diag(ev.memo[e.args[0]]), (-1, 1)),
    AsScalar: lambda ev, e: ev.memo[e.arg][0, 0],
    Named: lambda ev, e: ev.memo[e.arg],
    MatrixPower: Evaluator._matrix_power,
    KroneckerProduct: Evaluator._kron,
    Vec: lambda ev, e: ev.xp.reshape(ev.memo[e.arg], (-1, 1), order="F"),
    Commutation: lambda ev, e: commutation_array(ev.size(e.dims[0]), ev.size(e.dims[1])),
    Im2col: lambda ev, e: im2col_array(ev.xp, ev.memo[e.arg], e.window),
    Col2im: lambda ev, e: col2im_array(ev.xp, ev.memo[e.arg], e.window, int(e.args[-1])),
    BlockMax: lambda ev, e: blockmax_array(ev.xp, ev.memo[e.arg], e.blocks),
    BlockArgmax: lambda ev, e: blockargmax_array(ev.xp, ev.memo[e.arg], e.blocks),
    Concat: lambda ev, e: ev.xp.concatenate([ev.get(b) for b in e.blocks], axis=e.axis),
}
