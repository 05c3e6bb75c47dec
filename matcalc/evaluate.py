"""NumPy evaluation of any matcalc expression; the array module is a parameter.

`evaluate(expr, values)` computes the value of an expression from NumPy arrays (vectors as 1-D
arrays or n x 1 columns). Passing `xp=autograd.numpy` evaluates the same expression with HIPS
autograd, which is how tests obtain an independent derivative of the *function* without writing
it twice. Shared subexpressions are computed once.

Vectors and matrices are evaluated as 2-D arrays; scalars and 1 x 1 results come back as
Python/NumPy scalars (a 1 x 1 matrix is a scalar, as the notation says). This module reads
expressions only; it never evaluates user text.
"""
import numpy as np
import sympy as sp
from sympy import (Determinant, HadamardPower, HadamardProduct, Identity, Inverse, MatAdd, MatMul,
                   MatrixSymbol, OneMatrix, Trace, Transpose, ZeroMatrix)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy.matrices.expressions.kronecker import KroneckerProduct

from .errors import MatcalcError, ShapeError, UnknownNameError
from .limits import recursion_room
from .ops import free_variables
from .nodes import (AsScalar, Elementwise, EntrySum, LogDet, LogSumExp, Norm, RowLogSumExp, Softmax,
                    relu, sigmoid, softplus, step)
from .vec import Commutation, Vec, commutation_array


def elementwise_table(xp):
    """name -> array function, for numpy or autograd.numpy."""
    return {
        "exp": xp.exp, "log": xp.log, "sin": xp.sin, "cos": xp.cos, "tanh": xp.tanh,
        "sigmoid": lambda x: 0.5 * (1.0 + xp.tanh(0.5 * x)),
        "relu": lambda x: xp.maximum(x, 0.0),
        "softplus": lambda x: xp.logaddexp(0.0, x),
        "sqrt": xp.sqrt, "abs": xp.abs,
        "step": lambda x: xp.where(x > 0, 1.0, 0.0),
        "sign": xp.sign,
    }


SCALAR_FUNCTION_NAMES = {
    sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tanh: "tanh",
    sigmoid: "sigmoid", relu: "relu", softplus: "softplus", sp.Abs: "abs", step: "step",
    sp.sign: "sign",
}


def bind(expr, values):
    """name -> 2-D array (or scalar) and dimension symbol -> size, checked against the shapes."""
    symbols = free_variables(expr)
    arrays, dims = {}, {}
    for name, s in symbols.items():
        if name not in values:
            raise UnknownNameError(f"no value given for {name!r}")
        v = np.asarray(values[name]) if not hasattr(values[name], "_value") else values[name]
        if isinstance(s, sp.Symbol):
            if np.ndim(v) != 0 and np.shape(v) != (1, 1) and np.shape(v) != (1,):
                raise ShapeError(f"{name} is a scalar, got an array of shape {np.shape(v)}")
            arrays[name] = v if np.ndim(v) == 0 else v.reshape(())
            continue
        rows, cols = s.shape
        shape = np.shape(v)
        if cols == 1 and len(shape) == 1:
            v = v.reshape((shape[0], 1))
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
    with recursion_room():
        return Evaluator(arrays, dims, xp).value(expr)


class Evaluator:
    def __init__(self, arrays, dims, xp=np):
        self.arrays = arrays
        self.dims = dims
        self.xp = xp
        self.memo = {}
        self.fn = elementwise_table(xp)

    def size(self, d):
        if d.is_Integer:
            return int(d)
        if d in self.dims:
            return self.dims[d]
        if d.is_Mul:          # n*m, a size of a Jacobian through vec (vec.py)
            return int(np.prod([self.size(f) for f in d.args]))
        raise MatcalcError(f"the size of dimension {d} is unknown: give a value for a symbol using it")

    def value(self, e):
        v = self._value(e)
        if getattr(e, "is_Matrix", False) and tuple(e.shape) == (1, 1):
            return v[0, 0] if hasattr(v, "__getitem__") else v
        return v

    def _value(self, e):
        hit = self.memo.get(e)
        if hit is not None:
            return hit
        v = self._compute(e)
        self.memo[e] = v
        return v

    def scalar(self, e):
        v = self._value(e)
        if getattr(e, "is_Matrix", False):
            return v[0, 0]
        return v

    def _compute(self, e):
        xp, ev = self.xp, self._value
        if isinstance(e, MatrixSymbol):
            return self.arrays[e.name]
        if isinstance(e, sp.Symbol):
            if e.name in self.arrays and not e.is_integer:
                return self.arrays[e.name]
            return float(self.size(e))
        if isinstance(e, sp.Number):
            return float(e)
        if isinstance(e, Identity):
            return np.eye(self.size(e.shape[0]))
        if isinstance(e, OneMatrix):
            return np.ones((self.size(e.shape[0]), self.size(e.shape[1])))
        if isinstance(e, ZeroMatrix):
            return np.zeros((self.size(e.shape[0]), self.size(e.shape[1])))
        if isinstance(e, MatMul):
            out = None
            coeff = 1.0
            for a in e.args:
                if getattr(a, "is_Matrix", False):
                    out = ev(a) if out is None else out @ ev(a)
                else:
                    coeff = coeff * ev(a)
            return coeff * out
        if isinstance(e, MatAdd):
            out = ev(e.args[0])
            for a in e.args[1:]:
                out = out + ev(a)
            return out
        if isinstance(e, Transpose):
            return ev(e.arg).T
        if isinstance(e, Inverse):
            return xp.linalg.inv(ev(e.arg))
        if isinstance(e, HadamardProduct):
            out = ev(e.args[0])
            for a in e.args[1:]:
                out = out * ev(a)
            return out
        if isinstance(e, HadamardPower):
            return ev(e.args[0]) ** float(e.args[1])
        if isinstance(e, Elementwise):
            return self.fn[e.name](ev(e.arg))
        if isinstance(e, Softmax):
            Z = ev(e.arg)
            axis = 1 if e.rowwise else 0
            E = xp.exp(Z - xp.max(Z, axis=axis, keepdims=True))
            return E / xp.sum(E, axis=axis, keepdims=True)
        if isinstance(e, RowLogSumExp):
            Z = ev(e.arg)
            m = xp.max(Z, axis=1, keepdims=True)
            return m + xp.log(xp.sum(xp.exp(Z - m), axis=1, keepdims=True))
        if isinstance(e, LogSumExp):
            z = ev(e.arg)
            m = xp.max(z)
            return m + xp.log(xp.sum(xp.exp(z - m)))
        if isinstance(e, DiagMatrix):
            return xp.diag(ev(e.args[0])[:, 0])
        if isinstance(e, DiagonalOf):
            return xp.reshape(xp.diag(ev(e.args[0])), (-1, 1))
        if isinstance(e, Trace):
            return xp.trace(ev(e.arg))
        if isinstance(e, Determinant):
            return xp.linalg.det(ev(e.arg))
        if isinstance(e, LogDet):
            return xp.linalg.slogdet(ev(e.arg))[1]
        if isinstance(e, EntrySum):
            return xp.sum(ev(e.arg))
        if isinstance(e, Norm):
            A = ev(e.arg)
            return xp.sqrt(xp.sum(A * A))
        if isinstance(e, AsScalar):
            return ev(e.arg)[0, 0]
        if isinstance(e, sp.Add):
            out = ev(e.args[0])
            for a in e.args[1:]:
                out = out + ev(a)
            return out
        if isinstance(e, sp.Mul):
            out = ev(e.args[0])
            for a in e.args[1:]:
                out = out * ev(a)
            return out
        if isinstance(e, sp.Pow):
            base, p = e.args
            if p == sp.S.Half:
                return xp.sqrt(ev(base))
            return ev(base) ** float(p)
        if type(e) in SCALAR_FUNCTION_NAMES:
            return self.fn[SCALAR_FUNCTION_NAMES[type(e)]](ev(e.args[0]))
        if isinstance(e, KroneckerProduct):      # matcalc extensions: see vec.py
            out = ev(e.args[0])
            for a in e.args[1:]:
                out = xp.kron(out, ev(a))
            return out
        if isinstance(e, Vec):
            return xp.reshape(ev(e.arg), (-1, 1), order="F")
        if isinstance(e, Commutation):
            n, m = e.dims
            return commutation_array(self.size(n), self.size(m))
        raise MatcalcError(f"cannot evaluate {type(e).__name__}: {e}")
