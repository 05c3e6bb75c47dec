"""NumPy modules for Jacobians, Hessians and Hessian-vector products (matcalc.jacobian).

`derived_module(d)` writes, for a Derivation `d` of kind "jacobian", "hessian" or "hvp", a module
with one function named after the kind:

    jacobian(A, x)       -> J, p x n with df = J @ dx
    hessian(X, w, y)     -> H, n x n with d2f = dx.T @ H @ dx
    hvp(X, V)            -> H[V], the shape of X: the differential of grad f along V

It takes every input of the function f (and the direction V for an HVP), checks them exactly as
the gradient code does (emit.HELPERS: `_bind`), and computes `d.result` with the same printer
and naming rules as the gradient code (printer.NumpyPrinter, emit.Emitter, schedule.should_name):
a subexpression used twice is computed once under a name from the maths, no diagonal, identity
or ones matrix is formed to be multiplied. Two printing rules are specific to these results:

* `L @ diag(v) @ R` is `L @ (v * R)`: the d x d Hessian X.T @ diag(s) @ X is formed once with one
  matrix product, `X.T @ (s * X)`, and never through an N x N diagonal.
* a chain of products is associated by the matrix-chain order, counting symbolic dimensions as
  large and 1 as 1, so `A @ x @ x.T @ A` is `(A @ x) @ (x.T @ A)`, an outer product.

When the result itself is a sum with an identity or diagonal term (eye(n)/r - u@u.T/r**3), the
other terms are computed into a fresh array and the diagonal is added in place to that array,
which nobody else has seen. The answer comes in the floating dtype NumPy gives the inputs
(float32 in, float32 out); an HVP comes back in the caller's shape of the variable.
"""
import re

import sympy as sp
from sympy import Identity, MatAdd, MatMul, MatrixSymbol, Transpose, ZeroMatrix
from sympy.matrices.expressions.diagonal import DiagMatrix

import matcalc
from matcalc import ops
from matcalc.nodes import Elementwise
from matcalc.text import to_text

from .emit import (HELPERS, IDENT, INDENT, Emitter, expected_literal, dimensions_of, inputs_of,
                   shape_doc)
from .names import Names
from .printer import ATOM, MUL, NumpyPrinter
from .schedule import count_uses

ASSIGNMENT = re.compile(r"\s*([A-Za-z_]\w*) = ")
KINDS = ("jacobian", "hessian", "hvp")
BIG = 1000          # a symbolic dimension, for choosing the order of a product chain

CONVENTIONS = {
    "jacobian": "Convention: J is p x n for f p x 1 and x n x 1, and df = J @ dx.",
    "hessian": "Convention: H is n x n for x n x 1, the Jacobian of the gradient; "
               "d2f = dx.T @ H @ dx.",
    "hvp": "Convention: H[V] = d(grad f) with dX := V, a matrix of the shape of the variable.",
}
RESULT_NAMES = {"jacobian": "J", "hessian": "H", "hvp": "HV"}

OUT_HELPER = '''

def _out(result, dtype, shape=None):
    """result as a fresh array in the inputs' float dtype (and the caller's shape, if given)."""
    result = np.asarray(result).astype(dtype, copy=False)
    return result if shape is None else result.reshape(shape)
'''


def _size(d):
    d = sp.sympify(d)
    return int(d) if d.is_Integer else BIG


class DerivedPrinter(NumpyPrinter):
    """The codegen printer with the two rules of the module docstring."""

    def product(self, mats):
        i = next((k for k, m in enumerate(mats) if isinstance(m, DiagMatrix)), None)
        if len(mats) > 2 and i is not None and 0 < i < len(mats) - 1:
            # L @ diag(v) @ R = L @ (v * R): one product, the diagonal scales R's rows
            u = mats[i].args[0]
            if isinstance(u, Elementwise) and u.name == "step" and self.lookup(u) is None:
                v = self.mask(u)[0]                    # relu'(z) as the mask (z > 0)
            else:
                v = self.full_wrap(u, MUL)
            left, _ = self.product(mats[:i])
            right, _ = self.product(mats[i + 1:])
            right = self.parens(right) if " " in right else right
            left = self.parens(left) if " " in left else left
            return f"{left} @ ({v} * {right})", MUL
        return super().product(mats)

    def _HadamardPower(self, e):
        """A square of a call is np.square(call), never the call printed twice."""
        base, exp = e.args
        if exp == 2:
            text, prec = self.p(base)
            if not text.isidentifier():
                return f"np.square({text})", ATOM
        return super()._HadamardPower(e)

    def chain(self, mats):
        """A @ B @ C in the cheapest association (dimensions as BIG, 1 as 1)."""
        if len(mats) <= 2:
            return super().chain(mats)
        dims = [_size(mats[0].shape[0])] + [_size(m.shape[1]) for m in mats]
        n = len(mats)
        cost = {(i, i): 0 for i in range(n)}
        split = {}
        for length in range(2, n + 1):
            for i in range(n - length + 1):
                j = i + length - 1
                best = None
                for k in range(i, j):
                    c = cost[(i, k)] + cost[(k + 1, j)] + dims[i] * dims[k + 1] * dims[j + 1]
                    if best is None or c < best:      # ties: the leftmost split
                        best, split[(i, j)] = c, k
                cost[(i, j)] = best
        operands = [self.full_wrap(m, MUL, strict=True) for m in mats]

        # print with explicit parentheses only where the association differs from left-to-right
        def render(i, j):
            if i == j:
                return operands[i]
            k = split[(i, j)]
            left = render(i, k)
            right = render(k + 1, j)
            if k + 1 < j:
                right = self.parens(right)
            return f"{left} @ {right}"

        return render(0, n - 1)


def diagonal_terms(R):
    """(rest, [(c, eye(n) or diag(v))]) of a sum R (or c * sum) with R = rest + sum of c*diag."""
    if isinstance(R, MatMul):
        c, mats = ops.split_coeff(R)
        if len(mats) == 1 and isinstance(mats[0], MatAdd):
            rest, diag = diagonal_terms(mats[0])
            if diag:
                return ops.scale(c, rest), [(c * k, m) for k, m in diag]
        return R, []
    if not isinstance(R, MatAdd):
        return R, []
    rest, diag = [], []
    for t in R.args:
        coeff, mats = ops.split_coeff(t) if isinstance(t, MatMul) else (sp.Integer(1), [t])
        if len(mats) == 1 and isinstance(mats[0], (Identity, DiagMatrix)):
            diag.append((coeff, mats[0]))
        else:
            rest.append(t)
    if not diag or not rest:
        return R, []
    return ops.add(*rest), diag


def derived_module(d, name=None):
    """Source of the module computing the Jacobian, Hessian or HVP of the Derivation d."""
    kind = d.kind
    if kind not in KINDS:
        raise ValueError(f"derived_module() takes a jacobian, hessian or hvp Derivation, "
                         f"got kind {kind!r}")
    name = name or kind
    f = ops.sym(d.f)
    x = d.variables[0]
    R = d.result
    direction = getattr(d, "direction", None) if kind == "hvp" else None
    inputs = inputs_of([f])
    if direction is not None:
        inputs.append(direction)
    for s in inputs_of([R]):                 # a symbol of the result that f does not show
        if s not in inputs:
            inputs.append(s)

    names = Names(reserved={kind, "_bind", "_shape_text", "_out", "_like"})
    for s in inputs:
        names.claim(s.name)
    dims = {dm: names.fresh(str(dm)) for dm in dimensions_of(inputs)}
    rest, diagonal = diagonal_terms(R)
    count = count_uses([rest] + [m for _, m in diagonal] + [c for c, _ in diagonal])
    em = Emitter(names, count, dims)
    em.printer = DerivedPrinter(em.lookup, em.temporary, dims)
    for s in inputs:
        em.memo[s] = s.name

    result = names.fresh(RESULT_NAMES[kind])
    dtype = "dtype"                          # reserved by names.py: no symbol has it
    em.lines = []
    if isinstance(R, ZeroMatrix) or ops.is_zero(R):
        shape = em.printer.shape_text(x.shape if kind == "hvp" else R.shape)
        em.statement(f"{result} = np.zeros({shape}, dtype={dtype})")
    elif is_alias(rest) or not em.printer.is_full(rest):
        em.defining.add(rest)
        text, _ = em.printer.full(rest)
        em.defining.discard(rest)
        em.statement(f"{result} = np.array({text}, dtype={dtype})")   # a fresh, writable array
    else:
        em.assign(result, rest)
    for coeff, m in diagonal:
        n = em.printer.dim(m.shape[0])
        if isinstance(m, Identity):
            value = em.printer.text(coeff) if coeff != 1 else "1.0"
        else:
            v = em.printer.full_wrap(m.args[0], MUL)
            value = f"{v}[:, 0]" if coeff == 1 else \
                f"{em.printer.wrap(coeff, MUL)} * {v}[:, 0]"
        em.comment(f"the diagonal term {to_text(ops.matmul(coeff, m))}, added in place "
                   f"to the fresh array {result}")
        em.statement(f"{result}[np.diag_indices({n})] += {value}")
    body = without_dead_statements(em.lines, keep={result})
    used_dims = list(em.printer.used_dims)

    # ---- the module text ----
    args = ", ".join(s.name for s in inputs)
    out_shape = shape_of(x if kind == "hvp" else R)
    unused = [s.name for s in inputs if s not in set(inputs_of([R]))]
    lines = [
        f'"""{name}: generated by matcalc {matcalc.__version__}; the {kind} of f with respect '
        f'to {x.name}."""',
        f"# Generated by matcalc {matcalc.__version__} from: {to_text(f)}",
        f"# Kind: {kind} with respect to {x.name}"
        + (f", along the direction {direction.name}" if direction is not None else ""),
        f"# Result: {to_text(R)}",
        "# " + CONVENTIONS[kind],
        "# Inside, vectors are n x 1 columns; the function accepts (n,) or (n, 1) and answers",
        "# in the inputs' float dtype" + (" and the caller's shape of the variable." if kind == "hvp"
                                           else "."),
        "import numpy as np",
        "",
        "",
        f"def {kind}({args}):",
    ]
    doc = ", ".join(shape_doc(s) for s in inputs)
    what = {"jacobian": f"the Jacobian J ({out_shape}) of f with respect to {x.name}",
            "hessian": f"the Hessian H ({out_shape}) of f with respect to {x.name}",
            "hvp": f"the Hessian of f with respect to {x.name} applied to {getattr(direction, 'name', 'V')} "
                   f"({out_shape})"}[kind]
    note = f" ({', '.join(unused)} checked, not used by the result)" if unused else ""
    lines.append(INDENT + f'"""{doc}{note}. Returns {what}."""')
    lines.append(INDENT + "dims = {}")
    if kind == "hvp" and ops.is_matrix(x):
        shape_name = names.fresh(f"shape_{x.name}")
        lines.append(INDENT + f"{shape_name} = np.shape({x.name})")
    for s in inputs:
        lines.append(INDENT + f"{s.name} = _bind({s.name!r}, {s.name}, {expected_literal(s)}, dims)")
    for dm in dims:
        if dm in used_dims:
            lines.append(INDENT + f"{dims[dm]} = dims[{str(dm)!r}][0]")
    arrays = [s.name for s in inputs if ops.is_matrix(s)] or [s.name for s in inputs]
    lines.append(INDENT + f"{dtype} = np.result_type({', '.join(arrays)}, np.float32)")
    lines += body
    if kind == "hvp" and ops.is_matrix(x):
        lines.append(INDENT + f"return _out({result}, {dtype}, {shape_name})")
    else:
        lines.append(INDENT + f"return _out({result}, {dtype})")
    return "\n".join(lines) + "\n" + HELPERS + OUT_HELPER


def without_dead_statements(lines, keep=()):
    """The lines without `name = ...` statements whose name no later line reads (a name the
    printer asked for while deciding how to print, then did not use)."""
    lines = list(lines)
    changed = True
    while changed:
        changed = False
        for i, line in enumerate(lines):
            m = ASSIGNMENT.match(line)
            if m is None or m.group(1) in keep:
                continue
            later = [ln for ln in lines[i + 1:] if not ln.lstrip().startswith("#")]
            if not any(m.group(1) in IDENT.findall(ln) for ln in later):
                del lines[i]
                changed = True
                break
    return lines


def is_alias(e):
    """Whether the printed value could be an input array itself (it must be copied)."""
    return isinstance(e, (MatrixSymbol, sp.Symbol)) or \
        (isinstance(e, Transpose) and isinstance(e.arg, MatrixSymbol))


def shape_of(e):
    if not ops.is_matrix(e):
        return "scalar"
    return f"{e.shape[0]} x {e.shape[1]}"
