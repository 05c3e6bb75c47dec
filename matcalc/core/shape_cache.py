"""Memoised shapes for SymPy's matrix expression nodes.

SymPy computes `.shape` of a MatMul, MatAdd, HadamardProduct, ... from its arguments' shapes on
every access, recursively, so asking the shape of a deep expression costs its depth; SymPy's own
constructors ask for shapes while validating, which made a 100-layer network quadratic. The
shape of an expression never changes, so it is stored on the instance the first time it is
computed. This is the only place matcalc changes a SymPy class, and it changes no result.
"""
from sympy import (HadamardPower, HadamardProduct, Inverse, MatAdd, MatMul, MatPow, Transpose)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf


def _memoised(cls):
    compute = cls.shape.fget

    def shape(self):
        d = self.__dict__
        s = d.get("_matcalc_shape")
        if s is None:
            s = compute(self)
            d["_matcalc_shape"] = s
        return s

    cls.shape = property(shape, doc=cls.shape.__doc__)


for _cls in (MatMul, MatAdd, HadamardProduct, HadamardPower, Transpose, Inverse, MatPow,
             DiagMatrix, DiagonalOf):
    if "shape" in _cls.__dict__:
        _memoised(_cls)
