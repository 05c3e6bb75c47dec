"""Rebuilding a node from new children through its canonical constructor, and substitution.

`rebuild(e, kids)` is e with its children (dag.children order) replaced, built again through
ops / the registry, so the result is in canonical form (a child that became zero makes a product
zero, a transpose of a new product is pushed to the leaves, ...). It is the single table from
node types to constructors; the simplifier and the substitution of adjoints in the reverse walk
both use it.

`Substitution` replaces nodes by values everywhere in expressions, visiting only the parts that
contain one of them (a detector memoised across calls), so substituting into many small
expressions that share large untouched subexpressions costs time linear in the new parts.
"""
import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Inverse, MatAdd, MatMul, Trace, Transpose)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy.matrices.expressions.kronecker import KroneckerProduct

from . import dag, functions, ops
from .intern import canonical
from .nodes import AsScalar, MatrixPower, Vec
from .vec import kron, vec

CONSTRUCTORS = {
    MatMul: lambda args: ops.matmul(*args),
    MatAdd: lambda args: ops.add(*args),
    sp.Add: lambda args: ops.add(*args),
    sp.Mul: lambda args: sp.Mul(*[ops.as_scalar_if_1x1(a) for a in args]),
    HadamardProduct: lambda args: ops.hadamard(*args),
    HadamardPower: lambda args: ops.hpow(*args),
    sp.Pow: lambda args: ops.power(ops.as_scalar_if_1x1(args[0]), args[1]),
    Transpose: lambda args: ops.transpose(args[0]),
    Inverse: lambda args: ops.inv(args[0]),
    Trace: lambda args: ops.trace(args[0]),
    DiagMatrix: lambda args: ops.diag(args[0]),
    DiagonalOf: lambda args: ops.diag(args[0]),
    AsScalar: lambda args: ops.scalar(args[0]),
    MatrixPower: lambda args: ops.matrix_power(args[0], args[1]),
    KroneckerProduct: lambda args: _kron_all(args),
    Vec: lambda args: vec(args[0]),
}


def _kron_all(args):
    out = args[0]
    for a in args[1:]:
        out = kron(out, a)
    return out


def rebuild(e, kids):
    """e with its children replaced by `kids` (in dag.children order), in canonical form."""
    old = dag.children(e)
    if len(old) == len(kids) and all(a is b for a, b in zip(old, kids)):
        return e
    new = iter(kids)
    args = [next(new) if dag.is_child_arg(a) else a for a in e.args]
    build = CONSTRUCTORS.get(type(e))
    if build is not None:
        return build(args)
    record = functions.record_of(e)
    if record is not None:
        return record.build(args[-1])
    return canonical(e.func(*args))


class Substitution:
    """Replaces placeholder nodes by values in expressions.

    `is_target(node)` says which nodes are placeholders (e.g. the adjoints of the reverse walk);
    whether a subexpression contains one is memoised for all calls, so the large untouched
    subexpressions that many small expressions share are inspected once.
    """

    def __init__(self, is_target):
        self.is_target = is_target
        self.memo = {}

    def contains(self, e):
        hit = self.memo.get(e)
        if hit is None:
            for n in dag.postorder(e, self._unknown_children):
                if n not in self.memo:
                    self.memo[n] = self.is_target(n) or any(self.memo[k] for k in dag.children(n))
            hit = self.memo[e]
        return hit

    def _unknown_children(self, e):
        return tuple(k for k in dag.children(e) if k not in self.memo)

    def __call__(self, e, values):
        """e with every placeholder p in `values` replaced by values[p]."""
        if not self.contains(e):
            return e

        def kids(n):
            return () if n in values or not self.contains(n) else dag.children(n)

        def build(n, new_kids):
            if n in values:
                return values[n]
            if not self.contains(n):
                return n
            return rebuild(n, new_kids)

        return dag.transform(e, build, kids=kids)
