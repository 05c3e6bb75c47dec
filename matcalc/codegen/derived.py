"""NumPy modules for Jacobians, Hessians and Hessian-vector products.

`derived_module(d)` writes, for a Derivation of kind "jacobian", "hessian" or "hvp", a module with
one function named after the kind:

    jacobian(A, x)       -> J, p x n with df = J @ dx (d vec F = J @ d vec X for matrices)
    hessian(X, w, y)     -> H, n x n with d2f = dx.T @ H @ dx
    hvp(X, V)            -> H[V], the shape of X: the differential of grad f along V

It takes every input of the function f (and the direction V of an HVP), checks them as the
gradient code does (`_mc_bind`), and computes the result with the same statements machinery: a
subexpression used twice or expensive is computed once under a name from the maths
(schedule.py), no diagonal, identity or ones matrix is formed to be multiplied (the printer),
and a result that is a sum with identity or diagonal terms (eye(n)/r - u@u.T/r**3) adds them in
place to the fresh array of the other terms, which nobody else has seen. The answer comes in
the floating dtype NumPy gives the inputs (float32 in, float32 out); an HVP in the caller's
shape of the variable.
"""
import sympy as sp
from sympy import Identity, MatAdd, MatMul
from sympy.matrices.expressions.diagonal import DiagMatrix

from ..core import dag, ops
from ..core.nodes import Named
from ..printing.base import ATOM, MUL
from ..printing.text import to_text
from .backends import backend_of, bind_helper
from .emit import HELPERS, INDENT, VERSION, ModuleWriter, expected_literal, header_text, \
    module_name, scalars_as_arrays, shape_doc
from .gram import gram_products
from .names import Names
from .passes import drop_dead, is_fresh
from .schedule import Line, Schedule, Wishes, inputs_of, uses, worth_naming

KINDS = ("jacobian", "hessian", "hvp")
CONVENTIONS = {
    "jacobian": "Convention: J is p x n for f p x 1 and x n x 1, and df = J @ dx "
                "(d vec F = J @ d vec X for matrices, vec stacking columns).",
    "hessian": "Convention: H is n x n for x n x 1, the Jacobian of the gradient; "
               "d2f = dx.T @ H @ dx.",
    "hvp": "Convention: H[V] = d(grad f) with dX := V, a matrix of the shape of the variable.",
}
RESULT_NAMES = {"jacobian": "J", "hessian": "H", "hvp": "HV"}

OUT_HELPER = '''

def _mc_out(result, dtype, shape=None):
    """result as a fresh array in the inputs' float dtype (and the caller's shape, if given)."""
    result = {fresh}
    return result if shape is None else result.reshape(shape)
'''


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
        coeff, mats = ops.split_coeff(t)
        if len(mats) == 1 and isinstance(mats[0], (Identity, DiagMatrix)):
            diag.append((coeff, mats[0]))
        else:
            rest.append(t)
    if not diag or not rest:
        return R, []
    return ops.add(*rest), diag


def defined_first(lines):
    """The rendered lines, each after the lines defining the names it reads: a printed form can
    read a name its node's postorder does not hold (1 - 4*v**2 printed as 1 - t4 with
    t4 = 4*v**2 defined for a diagonal term; UnboundLocalError in generated code)."""
    by_target = {line.target: line for line in lines}
    out, done = [], set()
    pending = list(reversed(lines))
    while pending:
        line = pending.pop()
        if line.target in done:
            continue
        missing = [by_target[n] for n in line.reads if n in by_target and n not in done
                   and n != line.target]
        if missing:
            pending.append(line)
            pending.extend(reversed(missing))
            continue
        out.append(line)
        done.add(line.target)
    return out


def derived_module(d, name=None, backend="numpy"):
    """Source of the module computing the Jacobian, Hessian or HVP of the Derivation d, in the
    array library of `backend` (backends.py: the record spells the fresh result, the diagonal
    terms, the dtype, the imports and the argument helpers)."""
    b = backend_of(backend)
    kind = d.kind
    if kind not in KINDS:
        raise ValueError(f"derived_module() takes a jacobian, hessian or hvp Derivation, got {kind!r}")
    name = module_name(name or kind)
    x = d.variables[0]
    R = gram_products(d.result)       # A.T @ diag(w) @ A as B.T @ B for syrk, when w >= 0
    direction = d.direction if kind == "hvp" else None
    inputs = inputs_of(d.f, [direction] if direction is not None else [])
    # R's own symbols (its parse source, if the same expression was ever parsed, is not f's)
    inputs += [s for s in inputs_of(R, like=d.f) if s not in inputs]

    allocator = Names()
    allocator.taken.add(kind)
    if b.namespace_line:
        allocator.claim(b.xp)
    names = {}
    for s in inputs:
        names[s] = allocator.claim(s.name)
    rest, diagonal = diagonal_terms(R)
    roots = [rest] + [m for _, m in diagonal] + [c for c, _ in diagonal]
    count = uses(roots)
    wish = Wishes(names)
    for node in dag.postorder_many(roots):
        if isinstance(node, Named) and node not in names:          # gram.py's B of B.T @ B
            names[node] = allocator.fresh(node.name)
        elif node not in names and node is not rest and worth_naming(node, count):
            names[node] = allocator.fresh(wish(node))
    result = allocator.fresh(RESULT_NAMES[kind])
    dtype, dims_name, shape_name = (allocator.fresh(w) for w in ("dtype", "dims", "shape"))
    lines = [Line(names[n], n, node=n) for n in dag.postorder(rest)
             if n in names and n not in set(inputs)]
    for part in [m for _, m in diagonal] + [c for c, _ in diagonal]:   # coefficients name nodes too
        lines += [Line(names[n], n, node=n) for n in dag.postorder(part)
                  if n in names and n not in set(inputs) and all(l.node is not n for l in lines)]
    lines.append(Line(result, rest, node=rest))
    sched = Schedule(names, inputs, lines, [], result, [], allocator)
    w = ModuleWriter(sched, dtype, b)
    if not is_fresh(rest, w.printer) or ops.is_zero(rest):
        lines[-1].wrap = b.fresh.format(xp=b.xp, value="{}", dtype=dtype)   # a fresh, writable array
    for line in lines:
        w.render(line)
    lines = defined_first(lines)
    diagonal_reads = set()
    for c, m in diagonal:
        diagonal_reads |= set(w.printer.names_in(m)) | set(w.printer.names_in(c))
    lines = drop_dead(lines, {result} | diagonal_reads)
    body = [INDENT + line.text for line in lines]
    for coeff, m in diagonal:
        n = w.printer.dim(m.shape[0])
        if isinstance(m, Identity):
            value = w.printer.p(coeff)[0] if coeff != 1 else "1.0"
        else:
            v = b.flat.format(x=w.printer.full_wrap(m.args[0], ATOM))
            value = v if coeff == 1 else f"{w.printer.wrap(coeff, MUL)} * {v}"
        body.append(INDENT + f"# the diagonal term {to_text(ops.matmul(coeff, m))}, added "
                             + (f"in place to the fresh array {result}" if b.name in ("numpy", "torch")
                                else f"to {result}"))
        body.append(INDENT + b.add_diagonal.format(result=result, n=n, value=w.printer.expand(value),
                                                   dtype=dtype))

    args = ", ".join(s.name for s in inputs)
    if ops.is_matrix(x):
        out_shape = x.shape if kind == "hvp" else R.shape
        out_text = f"{out_shape[0]} x {out_shape[1]}"
    else:                                   # the HVP with respect to a scalar is a scalar
        out_text = "a scalar"
    lines_out = [
        f'"""{name}: generated by matcalc {VERSION}; the {kind} of f with respect to {x.name}."""',
        f"# Generated by matcalc {VERSION} from: {header_text(to_text(d.f))}",
        f"# Kind: {kind} with respect to {x.name}"
        + (f", along the direction {direction.name}" if direction is not None else ""),
        f"# Result: {header_text(to_text(d.result))}",
        "# " + CONVENTIONS[kind],
        *b.imports, "", "",
        f"def {kind}({args}):",
        INDENT + f'"""{", ".join(shape_doc(s) for s in inputs)}. Returns the {kind} '
                 f'({out_text}) with respect to {x.name}."""',
    ]
    arrays = [s.name for s in inputs if ops.is_matrix(s)] or [s.name for s in inputs]
    if b.namespace_line:
        lines_out.append(INDENT + b.namespace_line.format(arrays=", ".join(arrays)))
    lines_out.append(INDENT + f"{dims_name} = {{}}")
    if kind == "hvp" and ops.is_matrix(x):
        lines_out.append(INDENT + f"{shape_name} = {b.shape_of.format(xp=b.xp, x=x.name)}")
    for s in inputs:
        lines_out.append(INDENT + f"{s.name} = _mc_bind({s.name!r}, {s.name}, {expected_literal(s)}, "
                                  f"{dims_name})")
    lines_out += scalars_as_arrays(inputs, b)
    for dm, ident in w.dims.items():
        if dm in w.printer.used_dims:
            lines_out.append(INDENT + f"{ident} = {dims_name}[{str(dm)!r}][0]")
    lines_out.append(INDENT + f"{dtype} = " + b.dtype_of.format(xp=b.xp, arrays=", ".join(arrays),
                                                               first=arrays[0]))
    lines_out += body
    shape = f", {shape_name}" if kind == "hvp" and ops.is_matrix(x) else ""
    lines_out.append(INDENT + f"return _mc_out({result}, {dtype}{shape})")
    helpers = HELPERS if b.name == "numpy" else bind_helper(b)
    helper_xp = "array_namespace(result)" if b.namespace_line else b.xp   # helpers see no xp
    out_helper = OUT_HELPER.format(fresh=b.fresh.format(xp=helper_xp, value="result", dtype="dtype"))
    added = [Line(result, part) for c, m in diagonal for part in (c, m)]   # their helpers too
    return "\n".join(lines_out) + "\n" + helpers + out_helper + w.helpers(lines + added)


__all__ = ["derived_module", "sp"]
