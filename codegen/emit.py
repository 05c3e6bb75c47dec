"""Assembles a generated module: header, forward, backward, value_and_grad, input checks.

`Emitter` owns the statements of one function body and the table from subexpressions to the
names that hold them. The printer (printer.py) asks it for a name before printing any
subexpression; the emitter answers with an existing name, or -- when schedule.should_name says
the subexpression is used twice or is expensive -- prints its definition as a statement of its
own and answers with the new name. Every value is therefore computed once, in evaluation order,
with one statement per line, and backward reuses what forward computed (passed through `saved`).

`expression_module` writes the module for a scalar expression and a list of variables, from the
reverse walk (schedule.backward_plan); `network_module` writes it for an nn.Sequential from the
`Backprop` record of matcalc.nn (forward and backward lists of named expressions).

Every identifier in the source is a parser-validated symbol or dimension name, or one built by
names.py from those and fixed words; dimension names appear in string literals through repr().
"""
import re

import sympy as sp
from sympy import (Determinant, Inverse, MatAdd, MatMul, MatrixSymbol, Transpose)
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

import matcalc
from matcalc import ops
from matcalc.nodes import (Elementwise, EntrySum, LogDet, LogSumExp, Norm, RowLogSumExp,
                           Softmax)
from matcalc.reverse import walk
from matcalc.text import ADD, TextPrinter, to_text

from .names import Names, is_identifier
from .printer import NumpyPrinter
from .schedule import Adjoint, ScalarAdjoint, backward_plan, count_uses, should_name

INDENT = "    "
IDENT = re.compile(r"(?<![.\w])[A-Za-z_]\w*")


# ---- the body of one function ------------------------------------------------------------------
class Emitter:
    """Statements and names for the generated functions (forward and backward share names)."""

    def __init__(self, names, count, dims):
        self.names = names
        self.count = count
        self.memo = {}                 # expression -> identifier
        self.lines = []                # the current body
        self.defining = set()
        self.printer = NumpyPrinter(self.lookup, self.temporary, dims)
        self.printer_known = NumpyPrinter(self.known, self.temporary, dims)

    def known(self, e):
        return self.memo.get(e)

    def lookup(self, e):
        hit = self.memo.get(e)
        if hit is not None or e in self.defining:
            return hit
        if should_name(e, self.count):
            return self.define(e)
        return None

    def define(self, e, wish=None):
        """Emit `name = <e>` and return the name."""
        self.defining.add(e)
        text, _ = self.printer.full(e)
        self.defining.discard(e)
        name = self.names.fresh(wish or self.wish(e))
        self.statement(f"{name} = {text}")
        self.memo[e] = name
        return name

    def temporary(self, text, wish):
        name = self.names.fresh(wish)
        self.statement(f"{name} = {text}")
        return name

    def statement(self, text):
        self.lines.append(INDENT + text)

    def comment(self, text):
        self.lines.append(INDENT + "# " + " ".join(text.split()))

    def assign(self, name, e):
        """`name = <e>` for a root expression (never hoisted into a name of its own)."""
        self.defining.add(e)
        text, _ = self.printer.full(e)
        self.defining.discard(e)
        self.statement(f"{name} = {text}")

    def accumulate(self, name, e):
        """`name = name + <e>` (or `- <-e>`): never +=, which could change a saved array."""
        negative = ops.is_negative_term(e) if ops.is_matrix(e) else e.could_extract_minus_sign()
        term = ops.neg(e) if negative else e
        self.defining.add(term)
        text = self.printer.full_wrap(term, ADD, strict=True)
        self.defining.discard(term)
        self.statement(f"{name} = {name} {'-' if negative else '+'} {text}")

    def text(self, e):
        return self.printer.full(e)[0]

    # -- names from the maths --
    def name_of(self, e):
        if isinstance(e, (MatrixSymbol, sp.Symbol)) and not isinstance(e, (Adjoint, ScalarAdjoint)):
            return e.name
        return self.memo.get(e)

    def wish(self, e):
        """A name saying what e computes: Xw, h_relu, inv_A, Xw_exp; None for t1, t2, ..."""
        if isinstance(e, MatMul):
            coeff, mats = ops.split_coeff(e)
            parts = []
            for m in mats:
                base = m.arg if isinstance(m, Transpose) else m
                n = self.name_of(base) or (self.wish(base) if base is not e else None)
                if n is None:
                    return None
                parts.append(n + ("T" if isinstance(m, Transpose) else ""))
            glue = "_" if any("_" in p or len(p) > 2 for p in parts) else ""
            return glue.join(parts) if coeff == 1 else None
        arg = e.args[-1] if isinstance(e, Elementwise) else (e.args[0] if e.args else None)
        a = self.name_of(arg) if isinstance(arg, sp.Basic) else None
        if a is None and isinstance(arg, sp.Basic) and not isinstance(arg, sp.Number):
            a = self.wish(arg)
        if isinstance(e, Elementwise):
            return f"{a}_{e.name}" if a else e.name
        prefixes = {Inverse: "inv", Determinant: "det", LogDet: "logdet", EntrySum: "sum",
                    Norm: "norm", DiagMatrix: "diag", DiagonalOf: "diag"}
        for cls, word in prefixes.items():
            if isinstance(e, cls):
                return f"{word}_{a}" if a else word
        suffixes = {Softmax: "softmax", RowLogSumExp: "lse", LogSumExp: "lse"}
        for cls, word in suffixes.items():
            if isinstance(e, cls):
                return f"{a}_{word}" if a else word
        if isinstance(e, MatAdd) and len(e.args) == 2:
            first, second = e.args
            negative = ops.is_negative_term(second)
            b = self.name_of(ops.neg(second) if negative else second)
            a = self.name_of(first)
            if a and b:
                return f"{a}_minus_{b}" if negative else f"{a}_plus_{b}"
            if b and ops.is_broadcast_scalar(first) and ops.split_coeff(first)[0].is_number:
                return f"{b}_plus_c" if not negative else f"c_minus_{b}"
        if isinstance(e, sp.Function) and a:
            return f"{type(e).__name__.lower()}_{a}"
        return None


class CommentPrinter(TextPrinter):
    """The notation, with every named value printed by its name (for the comments)."""

    def __init__(self, memo):
        self.memo = memo

    def p(self, e):
        if isinstance(e, sp.Basic):
            hit = self.memo.get(e)
            if hit is not None:
                return hit, 50
        return super().p(e)


# ---- the module --------------------------------------------------------------------------------
HELPERS = '''

def _bind(name, value, expected, dims):
    """value as a float array of the expected shape (dimension names or sizes); binds dims.

    A vector (expected (n, 1)) may come as (n,) or (n, 1); a scalar as a number or a 0-d array.
    """
    if type(value) is np.ndarray and value.ndim == 2 and value.dtype.kind == "f":
        (rows, cols), (d0, d1) = value.shape, expected     # the common case, checked quickly
        if (rows == d0 if type(d0) is int else dims.setdefault(d0, (rows, name))[0] == rows) \
                and (cols == d1 if type(d1) is int else dims.setdefault(d1, (cols, name))[0] == cols):
            return value
    if type(value) is np.ndarray and value.ndim == 1 and value.dtype.kind == "f" \
            and len(expected) == 2 and expected[1] == 1:
        d0, rows = expected[0], value.shape[0]
        if rows == d0 if type(d0) is int else dims.setdefault(d0, (rows, name))[0] == rows:
            return value.reshape(rows, 1)
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if len(expected) == 0:
        if array.size != 1:
            raise ValueError(f"{name} must be a scalar, got an array of shape {array.shape}")
        return array.reshape(())
    if expected[1] == 1 and array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape {_shape_text(expected, dims)} "
                         f"(ndim 2), got shape {np.shape(value)} (ndim {np.ndim(value)})")
    for dim, size in zip(expected, array.shape):
        if isinstance(dim, int):
            if size != dim:
                raise ValueError(f"{name} must have shape {_shape_text(expected, dims)}, "
                                 f"got shape {np.shape(value)}")
        elif dim in dims and dims[dim][0] != size:
            raise ValueError(f"{name} must have shape {_shape_text(expected, dims)} "
                             f"({dim} = {dims[dim][0]} from {dims[dim][1]}), got shape "
                             f"{np.shape(value)}")
    for dim, size in zip(expected, array.shape):
        if not isinstance(dim, int) and dim not in dims:
            dims[dim] = (size, name)
    return array


def _shape_text(expected, dims):
    """(N, d) = (64, 3), as far as the sizes are known."""
    names = ", ".join(str(d) for d in expected)
    sizes = [str(d) if isinstance(d, int) else str(dims[d][0]) if d in dims else "?"
             for d in expected]
    return f"({names}) = ({', '.join(sizes)})"


def _like(grad, arg):
    """grad in the shape of the caller's argument, in its float dtype."""
    if type(arg) is np.ndarray and type(grad) is np.ndarray and grad.shape == arg.shape \
            and grad.dtype == arg.dtype:
        return grad
    if type(arg) is np.ndarray and type(grad) is np.ndarray and grad.size == arg.size \
            and grad.dtype == arg.dtype:
        return grad.reshape(arg.shape)
    arg = np.asarray(arg)
    dtype = arg.dtype if np.issubdtype(arg.dtype, np.floating) else np.float64
    return np.reshape(grad, arg.shape).astype(dtype, copy=False)
'''


def header(source_text, wrt, value_name, name):
    return [
        f'"""{name}: generated by matcalc {matcalc.__version__}; forward, backward, value_and_grad."""',
        f"# Generated by matcalc {matcalc.__version__} from: {source_text}",
        f"# Gradients with respect to: {', '.join(wrt)}",
        f"# Convention: grad_v has the shape of v, and d({value_name}) = tr(grad_v.T @ dv).",
        "# Inside, vectors are n x 1 columns; value_and_grad accepts (n,) or (n, 1) and answers",
        "# in the caller's shape and float dtype.",
        "import numpy as np",
    ]


def shape_doc(symbol):
    if not ops.is_matrix(symbol):
        return f"{symbol.name}: scalar"
    return f"{symbol.name}: {symbol.shape[0]} x {symbol.shape[1]}"


def expected_literal(symbol):
    if not ops.is_matrix(symbol):
        return "()"
    parts = [str(int(d)) if d.is_Integer else repr(str(d)) for d in symbol.shape]
    return "(" + ", ".join(parts) + ")"


def inputs_of(exprs):
    """The user symbols of the expressions, in order of first appearance in their text."""
    found = inputs_in_tree(exprs)
    by_name = {s.name: s for s in found}
    order = []
    for e in exprs:
        for word in IDENT.findall(to_text(e)):
            if word in by_name and by_name[word] not in order:
                order.append(by_name[word])
    return order + [s for s in found if s not in order]


def inputs_in_tree(exprs):
    """The user symbols of the expressions, in tree order (deterministic)."""
    out, seen = [], set()
    for root in exprs:
        stack = [root]
        while stack:
            e = stack.pop()
            if not isinstance(e, sp.Basic) or e in seen:
                continue
            seen.add(e)
            if isinstance(e, MatrixSymbol) or (isinstance(e, sp.Symbol) and not e.is_integer):
                out.append(e)
                continue
            if isinstance(e, sp.Symbol):
                continue
            stack.extend(reversed([a for a in e.args if isinstance(a, sp.Basic)]))
    return out


def dimensions_of(symbols):
    dims = []
    for s in symbols:
        for d in (s.shape if ops.is_matrix(s) else ()):
            if not d.is_Integer and d not in dims:
                dims.append(d)
    return dims


class Module:
    """The pieces of one generated module, joined by `source()`."""

    def __init__(self, names, inputs, dims, emitter, value_name):
        self.names = names
        self.inputs = inputs
        self.dims = dims                  # dim symbol -> identifier
        self.emitter = emitter
        self.value_name = value_name

    def forward_prologue(self):
        lines = [INDENT + "dims = {}"]
        for s in self.inputs:
            lines.append(INDENT + f"{s.name} = _bind({s.name!r}, {s.name}, {expected_literal(s)}, dims)")
        return lines

    def dims_lines(self, used):
        return [INDENT + f"{self.dims[d]} = dims[{str(d)!r}][0]" for d in self.dims if d in used]


def referenced(lines, candidates):
    """The candidate identifiers that occur in the lines, in the candidates' order."""
    found = set()
    for line in lines:
        if line.lstrip().startswith("#"):
            continue
        found.update(IDENT.findall(line))
    return [c for c in candidates if c in found]


# ---- in-place elementwise work into buffers nobody else sees ------------------------------------
OPERAND = r"[A-Za-z_]\w*(?:\.T)?"
STATEMENT = re.compile(r"(?P<indent>\s*)(?P<name>[A-Za-z_]\w*) = (?P<rhs>.*)\Z")
PRODUCT = re.compile(rf"{OPERAND} @ {OPERAND}\Z")
BIASED_PRODUCT = re.compile(rf"(?P<product>{OPERAND} @ {OPERAND}) \+ (?P<bias>{OPERAND})\Z")
ACTIVATION = re.compile(r"(?P<call>np\.tanh|np\.exp)\((?P<arg>[A-Za-z_]\w*)\)\Z")
RELU = re.compile(r"np\.maximum\((?P<arg>[A-Za-z_]\w*), 0\.0\)\Z")
TANH_PRIME = re.compile(r"(?P<g>[A-Za-z_]\w*) \* \(1\.0 - (?P<a>[A-Za-z_]\w*) \* (?P=a)\)\Z")


def in_place(body, other_lines):
    """Rewrite a function body so that elementwise work reuses buffers nobody else can see.

    A *private* value is one this body computes as a fresh matrix product (`X @ W1`,
    `g @ W2.T`, or such a product plus a bias) and that occurs in exactly one later statement,
    and nowhere in `other_lines` (the other function, the return statements, hence not in
    `saved` nor returned). Only private values are overwritten:

        Z1 = X @ W1 + b1.T              ->  Z1 = X @ W1
                                            np.add(Z1, b1.T, out=Z1)
        A1 = np.tanh(Z1)                ->  A1 = np.tanh(Z1, out=Z1)          (Z1 private)
        grad_Z = grad_A * (1.0 - A * A) ->  grad_Z = np.multiply(grad_A, 1.0 - A * A, out=grad_A)

    The ReLU mask line `grad_h = grad_h_relu * (h > 0)` is left as written: it is the seed's
    own line (STYLE.md (c)) and costs one pass over a small array.
    """
    def uses(name, lines):
        return [i for i, line in enumerate(lines)
                if not line.lstrip().startswith("#") and name in IDENT.findall(line)]

    def private(name, line):
        """name is a fresh product defined in this body and used only by `line` (next)."""
        if any(name in IDENT.findall(other) for other in other_lines
               if not other.lstrip().startswith("#")):
            return False
        where = [i for i in uses(name, out) if owner.get(i) != name]
        if len(where) != 1:
            return False
        d = STATEMENT.match(out[where[0]])
        return bool(d and d["name"] == name and fresh[where[0]]
                    and IDENT.findall(line).count(name) == 1)

    out, fresh, owner = [], [], {}   # owner: line -> the value it finishes in place
    for line in body:
        m = STATEMENT.match(line)
        if m is None or line.lstrip().startswith("#"):
            out.append(line)
            fresh.append(False)
            continue
        ind, name, rhs = m["indent"], m["name"], m["rhs"]
        b = BIASED_PRODUCT.match(rhs)
        if b and name not in IDENT.findall(rhs):
            out.append(f"{ind}{name} = {b['product']}")
            fresh.append(True)
            owner[len(out)] = name
            out.append(f"{ind}np.add({name}, {b['bias']}, out={name})")
            fresh.append(False)
            continue
        a = ACTIVATION.match(rhs) or RELU.match(rhs)
        if a and private(a["arg"], line):
            z = a["arg"]
            call = f"np.maximum({z}, 0.0" if RELU.match(rhs) else f"{a['call']}({z}"
            out.append(f"{ind}{name} = {call}, out={z})")
            fresh.append(True)
            continue
        t = TANH_PRIME.match(rhs)
        if t and private(t["g"], line):
            g = t["g"]
            out.append(f"{ind}{name} = np.multiply({g}, 1.0 - {t['a']} * {t['a']}, out={g})")
            fresh.append(False)
            continue
        out.append(line)
        fresh.append(bool(PRODUCT.match(rhs)) and name not in IDENT.findall(rhs))
    return out


def assemble(head, module, forward_body, backward_body, grads, wrt_names, doc_shapes,
             dims_used_forward, dims_used_backward):
    """Join the parts into module source."""
    em = module.emitter
    returned = [module.value_name] + list(grads)
    forward_body = in_place(forward_body, backward_body + [" ".join(returned)])
    backward_body = in_place(backward_body, forward_body + [" ".join(returned)])
    input_names = [s.name for s in module.inputs]
    forward_defined = input_names + [n for n in em.forward_names]
    dim_names = [module.dims[d] for d in module.dims]
    saved = referenced(backward_body, forward_defined + dim_names)
    saved = [n for n in saved if n not in dim_names] + \
        [module.dims[d] for d in module.dims if module.dims[d] in saved]
    dims_needed = set(dims_used_forward) | {d for d in module.dims if module.dims[d] in saved}
    args = ", ".join(input_names)
    out = list(head)
    out += ["", "", f"def forward({args}):",
            INDENT + f'"""{doc_shapes}. Returns ({module.value_name}, saved)."""']
    out += module.forward_prologue()
    out += module.dims_lines(dims_needed)
    out += forward_body
    saved_dict = ", ".join(f'"{n}": {n}' for n in saved)
    out.append(INDENT + f"return {module.value_name}, {{{saved_dict}}}")
    grads_doc = ", ".join(wrt_names)
    out += ["", "", f"def backward({', '.join(saved)}):",
            INDENT + f'"""Gradients of {module.value_name} with respect to {grads_doc}, '
                     f'in that order; call as backward(**saved)."""']
    out += backward_body
    ret = ", ".join(grads) + ("," if len(grads) == 1 else "")
    out.append(INDENT + f"return {ret}")
    grad_dict = ", ".join(f'"{w}": _like({g}, {w})' for w, g in zip(wrt_names, grads))
    out += ["", "", f"def value_and_grad({args}):",
            INDENT + f'"""({module.value_name}, {{name: gradient}}), each gradient in the shape '
                     f'and dtype of its argument."""',
            INDENT + f"{module.value_name}, saved = forward({args})",
            INDENT + f"{ret} = backward(**saved)",
            INDENT + f"return {module.value_name}, {{{grad_dict}}}"]
    return "\n".join(out) + "\n" + HELPERS


def expression_module(f, wrt, name="f"):
    """Source of the module for the scalar expression f and the variables wrt (symbols)."""
    f = ops.sym(f)
    value_expr = ops.scalar(f) if ops.is_matrix(f) else f
    inputs = inputs_of([f])
    _, visits = walk(f, wrt)
    plan = backward_plan(f, wrt, visits)
    roots = [value_expr] + [a.expr for g in plan.groups for a in g.assignments] + \
        [r for r in plan.results.values() if r is not None]
    count = count_uses(roots)

    names = Names()
    for s in inputs:
        names.claim(s.name)
    dims = {d: names.fresh(str(d)) for d in dimensions_of(inputs)}
    em = Emitter(names, count, dims)
    for s in inputs:
        em.memo[s] = s.name

    # forward
    value_name = names.fresh("value")
    em.assign(value_name, value_expr)
    forward_body = em.lines
    em.forward_names = [n for n in em.memo.values() if n not in {s.name for s in inputs}]
    dims_used_forward = list(em.printer.used_dims)
    em.lines = []

    # backward
    commenter = CommentPrinter(em.memo)
    for group in plan.groups:
        if not group.assignments:
            continue
        visit = group.visit
        node_text = value_name if visit.node == f else commenter.doprint(visit.node)
        if not (isinstance(visit.node, (MatrixSymbol, sp.Symbol)) or visit.node == f
                or visit.node in em.memo):
            node_text = f"({node_text})"
        em.comment(f"d{node_text} = {commenter.doprint(visit.expansion)}")
        rules = [f"{visit.rule.name}: {visit.rule.identity}"] + \
            [f"{r.name}: {r.identity}" for r in visit.pull_rules]
        em.comment("; ".join(rules))
        for a in group.assignments:
            if a.placeholder not in em.memo:
                base = em.name_of(a.node) or em.wish(a.node)
                em.memo[a.placeholder] = names.fresh(f"grad_{base}" if base else "grad")
            target = em.memo[a.placeholder]
            if a.accumulate:
                em.accumulate(target, a.expr)
            else:
                em.assign(target, a.expr)
    grads = []
    wrt_names = [w.name for w in wrt]
    for w in wrt:
        r = plan.results.get(w)
        ph = plan.placeholders.get(w)
        if ph is not None:
            grads.append(em.memo[ph])
            continue
        target = names.fresh(f"grad_{w.name}")
        if r is None:
            zero = f"np.zeros({em.printer.shape_text(w.shape)})" if ops.is_matrix(w) else "0.0"
            em.statement(f"{target} = {zero}")
        elif isinstance(r, (MatrixSymbol, Transpose)) and not isinstance(r, Adjoint):
            em.statement(f"{target} = {em.text(r)}.copy()")
        else:
            em.assign(target, r)
        grads.append(target)
    backward_body = em.lines
    dims_used = list(em.printer.used_dims)

    module = Module(names, inputs, dims, em, value_name)
    doc = ", ".join(shape_doc(s) for s in inputs)
    head = header(to_text(f), wrt_names, value_name, name)
    return assemble(head, module, forward_body, backward_body, grads, wrt_names, doc,
                    dims_used_forward, dims_used)


def network_module(net, name="f", wrt=None):
    """Source of the module for an nn.Sequential, from its Backprop record: forward and
    backward are the network's own named lines, printed as NumPy with its comments."""
    bp = net.backprop()
    symbols = bp.symbols
    for n in symbols:
        if not is_identifier(n):
            raise ValueError(f"the network produced a name that is not an identifier: {n!r}")
    params = list(net.parameters) if wrt is None else [getattr(w, "name", w) for w in wrt]
    for p in params:
        if p not in net.parameters:
            raise ValueError(f"{p!r} is not a parameter of the network; parameters: "
                             + ", ".join(net.parameters))
    computed = {n for n, _ in bp.forward} | {n for n, _, _ in bp.backward}
    exprs = [e for _, e in bp.forward] + [e for _, e, _ in bp.backward]
    ordered = ["X"] + list(net.parameters) + ["Y"]
    inputs = [symbols[n] for n in ordered if n in symbols and n not in computed]
    inputs += [s for s in inputs_of(exprs) if s.name not in computed and s not in inputs]
    count = count_uses(exprs)

    names = Names()
    for n in list(dict.fromkeys([s.name for s in inputs] + list(symbols))):
        names.claim(n)
    dims = {d: names.fresh(str(d)) for d in dimensions_of(inputs)}
    em = Emitter(names, count, dims)
    for s in inputs:
        em.memo[s] = s.name

    value_name = bp.forward[-1][0]
    for n, e in bp.forward:
        target = symbols[n]
        if ops.is_matrix(e) and not ops.is_matrix(target):
            e = ops.scalar(e)
        em.assign(n, e)
        em.memo.setdefault(e, n)
        em.memo[target] = n
    forward_body = em.lines
    em.forward_names = [n for n, _ in bp.forward[:-1]] + \
        [n for n in em.memo.values() if n not in symbols]
    dims_used_forward = list(em.printer.used_dims)
    em.lines = []

    last_comment = None
    for n, e, comment in bp.backward:
        if comment != last_comment:
            em.comment(comment)
            last_comment = comment
        em.assign(n, e)
        em.memo[symbols[n]] = n
    grads = []
    for p in params:
        g = f"grad_{p}"
        if g not in symbols:
            g = names.fresh(g)
            em.assign(g, bp.gradients[p])
        grads.append(g)
    backward_body = em.lines
    dims_used = list(em.printer.used_dims)

    module = Module(names, inputs, dims, em, value_name)
    doc = ", ".join(shape_doc(s) for s in inputs)
    head = header(f"nn.Sequential: {net.spec()}, loss {type(net.loss).__name__}: "
                  f"{to_text(net.loss_expr)}", params, value_name, name)
    return assemble(head, module, forward_body, backward_body, grads, params, doc,
                    dims_used_forward, dims_used)
