"""check_backward: find the first wrong line of a hand-written backward pass.

    report = mc.check_backward("xor.py", nn.from_spec("dense(2,3) relu dense(3,1)", loss="mse"))
    report = mc.check_backward(forward_backward, net)             # a function of a file
    report = mc.check_backward("logreg.py", mc.grad(f, "w"), function="grad_logreg")
    print(report)            # every quantity in derivation order; the first wrong one explained
    report.ok, report.first_wrong

The right values come from the derivation: the reverse walk of the network's loss (or of the
expression of a gradient Derivation), with its named intermediates (`h`, `h_relu`, `y_pred`,
the parameters) as the program of named adjoints (calculus/program.py), evaluated at random
inputs. The user's values come from running the user's own file in a child process
(audit/child.py, through audit/runner.py, with a time limit): the locals of the function(s)
named, or what the layer objects return and store. They are matched by name (exactly, then
ignoring case, then `mapping` {your name: the derivation's}); a forward value with another name
is matched by its value, and then its gradient by the usual spellings (grad_z, dz, d_z, dL_dz,
z_grad). Then every quantity is compared in the order the derivation computes it; the first one
that differs is the report: its relative error, the kind of mistake (audit/differences.py), the
line(s) of the user's file that computed it, the derivation step that defines it (its
differential and the identity cited) and the right formula.
"""
import inspect
import pathlib
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..calculus.program import backward_statements
from ..calculus.reverse import adjoint_placeholder
from ..core import dag, functions, ops
from ..core.nodes import Differential, Named, ScalarDifferential
from ..derive.compare import jacobian_diagonal, masks_removed
from ..derive.named import symbol_like
from ..derive.rows import over_names, unique_rules
from ..errors import MatcalcError
from ..evaluate import evaluate
from ..printing import display
from ..printing.text import to_text
from . import runner
from .differences import Evidence, aligned, kind_of, relative

RTOL = 1e-7
GRADIENT_SPELLINGS = (("grad_", ""), ("dL_d", ""), ("dL_", ""), ("d_", ""), ("g_", ""),
                      ("", "_grad"), ("d", ""))


@dataclass
class Quantity:
    """One value the derivation computes, in its order."""
    name: str                 # h, grad_h, grad_W1
    role: str                 # "forward" | "backward"
    right: object             # its value at the inputs
    formula: str              # grad_h = grad_h_relu*step(h)
    step: str = ""            # dh_relu = step(h)*dh   [chain rule: d(f(X)) = f'(X)*dX; ...]
    terms: list = field(default_factory=list)          # [(text, value)] of a sum of shares
    alternatives: list = field(default_factory=list)   # [(kind, detail, value)]


@dataclass
class Finding:
    quantity: Quantity
    yours: object = None      # None: the program has no value under a name matched to it
    where: str = ""           # "Relu.backward, line 24: return np.where(X > 0, X, 0) * gr"
    relative: float = None
    kind: str = ""
    detail: str = ""

    @property
    def ok(self):
        return self.yours is not None and self.relative is not None and self.relative < RTOL


@dataclass
class BackwardReport:
    file: str
    against: str
    sizes: dict
    findings: list
    error: dict = None        # the user's code raised: type, message, line, source, target
    notes: list = field(default_factory=list)
    given: tuple = ()         # quantities the check hands to the program (the loss's gradient)

    @property
    def first_wrong(self):
        return next((f for f in self.findings if f.yours is not None and not f.ok), None)

    @property
    def culprit(self):
        """(name, kind) of the first wrong quantity in derivation order: the first value that
        differs, or the quantity whose line raised (kind "shape" for a shape error)."""
        first = self.first_wrong
        raised = self.error.get("quantity") if self.error else None
        order = [f.quantity.name for f in self.findings]
        if raised is not None and (first is None or
                                   order.index(raised.name) < order.index(first.quantity.name)):
            words = self.error["message"].lower()
            shape = any(w in words for w in ("shape", "dimension", "broadcast", "align"))
            return raised.name, "shape" if shape else "error"
        return (first.quantity.name, first.kind) if first is not None else None

    @property
    def ok(self):
        return self.error is None and self.first_wrong is None and \
            any(f.quantity.role == "backward" and f.yours is not None for f in self.findings)

    def __repr__(self):
        culprit = self.culprit
        verdict = "all gradients right" if self.ok else (
            f"first wrong {culprit[0]} ({culprit[1]})" if culprit else "no gradient found")
        return display.angle_repr(f"BackwardReport {self.file}: {verdict}")

    def __str__(self):
        dims = ", ".join(f"{k}={v}" for k, v in sorted(self.sizes.items()))
        lines = [f"check-backward {self.file} against {self.against}"
                 + (f" (random inputs, {dims})" if dims else "")]
        lines += [f"  {n}" for n in self.notes]
        first = self.first_wrong
        after = False
        width = max([len(f.quantity.name) for f in self.findings] + [4])
        for f in self.findings:
            if f.quantity.name in self.given:
                status = "given to your code (the loss's gradient)"
            elif f.yours is None:
                status = "not computed under a name matched to it"
            elif f.ok:
                status = f"ok      {f.relative:.1e}"
            else:
                status = (f"WRONG   {f.relative:<7.2g}" if f.relative is not None else "WRONG   shape  ") \
                    + ("   (computed after the first wrong one)" if after else "")
            lines.append(f"  {f.quantity.name:<{width}}  {status}" + (f"   {f.where.split(':')[0]}"
                                                                     if f.where else ""))
            after = after or f is first
        if self.error:
            e = self.error
            lines.append(f"your code raised {e['type']}: {e['message']}")
            if e.get("line"):
                lines.append(f"  at {e.get('function') or 'the file'}, line {e['line']}: {e['source']}")
            if e.get("quantity"):
                q = e["quantity"]
                lines.append(f"  it computes {q.name}; the derivation: {q.step}")
                lines.append(f"  so {q.formula}")
        if first is not None:
            q = first.quantity
            size = f"relative error {first.relative:.2g}" if first.relative is not None else \
                "a different shape"
            lines.append(f"first wrong: {q.name} differs ({size}): {first.detail}")
            lines.append(f"  you computed ({first.where.split(': ', 1)[0]}):")
            lines += [f"      {w}" for w in first.where.split(": ", 1)[1:]]
            if q.step:
                lines.append(f"  the derivation says {q.step}")
            lines.append(f"  so {q.formula}")
        elif self.error is None:
            lines.append("all gradients right" if self.ok else
                         "no gradient of the derivation was found in the program's values")
        return "\n".join(lines)


# ---- the right values ---------------------------------------------------------------------------
class Derived:
    """The quantities of the walk of f over the named nodes `names` (node -> name), at inputs."""

    def __init__(self, walk, names, inputs, loss_name="L"):
        self.walk, self.names, self.loss_name = walk, dict(names), loss_name
        named = set(self.names) | set(walk.variables)
        self.program = backward_statements(walk, lambda child, exprs, uses: child in named)
        self.print_names, self.symbols = {}, {}
        for node, name in self.names.items():
            self.print_names[node] = name
            if isinstance(node, Named):
                self.print_names[node.arg] = name
            self.symbols[name] = symbol_like(node, name)
        for node in named:
            g = f"grad_{self.names.get(node, getattr(node, 'name', ''))}"
            self.print_names[adjoint_placeholder(node)] = g
            self.symbols[g] = symbol_like(node, g)
        self.memo = {}
        self.env = dict(inputs)
        self.quantities = self._forward() + self._backward()

    def symbolic(self, e, root_kept=False):
        return over_names(e, self.print_names, self.symbols, self.memo, root_kept)

    def value(self, e):
        v = np.asarray(evaluate(e, self.env), dtype=float)
        return v

    def _forward(self):
        out = []
        for node in dag.postorder(self.walk.f):
            name = self.names.get(node)
            if name is None or name in self.env:
                continue
            self.env[name] = self.value(node)
            definition = self.symbolic(node.arg if isinstance(node, Named) else node, root_kept=True)
            out.append(Quantity(name, "forward", self.env[name], f"{name} = {to_text(definition)}"))
        return out

    def _backward(self):
        out = []
        for st in self.program.statements:
            name = self.print_names[st.target]
            expr = self.symbolic(st.expr)
            right = self.value(expr)
            self.env[name] = right
            q = Quantity(name, "backward", right, f"{name} = {to_text(expr)}",
                         "; ".join(self.step(v) for v in unique_rules(st.visits)))
            if len(st.parts) > 1:
                q.terms = [(to_text(self.symbolic(e)), self.value(self.symbolic(e)))
                           for e, _ in st.parts]
            q.alternatives = [("missing mask", f"the mask {m} is left out", self.value(e))
                              for m, e in masks_removed(expr)]
            q.alternatives += self.diagonal(st, right)
            out.append(q)
        return out

    def step(self, visit):
        """The differential a statement implements and the identities it cites."""
        rules = [r for r in (visit.rule, visit.derivative) if r is not None]
        cites = "; ".join(f"{r.name}: {r.identity}" for r in rules)
        if visit.node is self.walk.f:
            return f"d{self.loss_name} = d({to_text(self.symbolic(visit.node, root_kept=True))})   [{cites}]"
        node = self.symbolic(visit.node)
        d = Differential(node) if ops.is_matrix(node) else ScalarDifferential(node)
        return f"{to_text(d)} = {to_text(self.symbolic(visit.expansion))}   [{cites}]"

    def diagonal(self, st, right):
        """The statement's value with a softmax share taken with its Jacobian's diagonal only."""
        out = []
        for expr, v in st.parts:
            record = functions.record_of(v.node)
            if record is None or record.kind != "matrix of matrix":
                continue
            child = next(c.child for c in v.pulled)
            g = self.value(self.symbolic(v.adjoint)) if v.adjoint != 1 else 1.0
            share = sum(self.value(self.symbolic(e)) for e, w in st.parts if w is v)
            alt = right - share + g * jacobian_diagonal(record, self.value(child))
            out.append(("diagonal Jacobian", f"the Jacobian of {to_text(self.symbolic(v.node))} is "
                        f"kept only on its diagonal; it is full: {record.identity}", alt))
        return out


# ---- the user's values ----------------------------------------------------------------------------
def _captured(record, arrays, layer_names=None):
    """name -> (value, where) from the child's record of a function run: the top-level calls'
    locals first, then helpers' (a name already taken is kept)."""
    out = {}
    for call in sorted(record["calls"], key=lambda c: c["depth"]):
        owner = f"{call['class']}.{call['function']}" if call["class"] else call["function"]
        for name, v in call["values"].items():
            if "." in name or name in out:
                continue
            out[name] = (arrays[v["key"]], _where(owner, v["lines"]))
    return out


def _where(owner, lines):
    return f"{owner}, line{'s' if len(lines) > 1 else ''} " + ", ".join(str(n) for n, _ in lines) \
        + ": " + " / ".join(t for _, t in lines)


def _match(captured, quantities, inputs, mapping):
    """derivation name -> your name."""
    by_lower = {q.name.lower(): q.name for q in quantities}
    for name in inputs:
        by_lower.setdefault(name.lower(), name)
    chosen = {}
    for yours, ours in (mapping or {}).items():
        if ours not in by_lower.values():
            raise MatcalcError(f"--map {yours}={ours}: the derivation has no quantity {ours}; its "
                               f"quantities: {', '.join(q.name for q in quantities)}")
        chosen[ours] = yours
    base = {}          # your forward name -> the derivation's
    for yours in captured:
        ours = by_lower.get(yours.lower())
        if ours is not None and ours not in chosen:
            chosen[ours] = yours
    for ours, yours in chosen.items():
        base[yours] = ours
    for q in quantities:
        if q.role != "forward" or q.name in chosen:
            continue
        for yours, (value, _) in captured.items():
            if yours in base:
                continue
            y, r = aligned(value, q.right)
            if y.shape == r.shape and relative(y, r) < RTOL:
                chosen[q.name], base[yours] = yours, q.name
                break
    for name in inputs:
        base.setdefault(name, name)
        base.setdefault(name.lower(), name)
    for yours in captured:
        for prefix, suffix in GRADIENT_SPELLINGS:
            if yours.startswith(prefix) and yours.endswith(suffix) and len(yours) > len(prefix + suffix):
                stem = yours[len(prefix):len(yours) - len(suffix)]
                ours = base.get(stem) or base.get(stem.lower())
                if ours is not None and f"grad_{ours}" in by_lower.values():
                    chosen.setdefault(f"grad_{ours}", yours)
                    break
    return chosen


def _judge(q, yours, where, sizes, named):
    f = Finding(q, yours, where)
    y, r = aligned(yours, q.right)
    f.relative = relative(y, r) if y.shape == r.shape else None
    if not f.ok:
        f.kind, f.detail = kind_of(Evidence(yours, q.right, sizes, q.terms, q.alternatives, named))
    return f


# ---- the check ------------------------------------------------------------------------------------
def check_backward(code, against, *, function=None, forward=None, backward=None, layers=None,
                   mapping=None, values=None, seed=0, timeout=30.0, batch_size=None):
    """Check the backward pass in `code` against the derivation of `against`.

    code: a path to the user's .py file, or a function of such a file (its forward and backward
    pass in one, or the forward pass with `backward=` the other); the file runs in a child
    process (definitions only: see audit/child.py) with a time limit of `timeout` seconds.
    against: an nn.Sequential (the derivation names h, h_relu, y_pred, W1, ...; the file may
    also hold layer classes, `layers` = {"dense": "LinearLayer", "relu": "Relu"} or found by
    name) or a gradient Derivation (mc.grad(f, wrt): the file's forward values are matched to
    the nodes of f by value). function / forward / backward: the names of the functions to run
    (found when the file has one function, or `forward` and `backward`). mapping: {your name:
    the derivation's name}. values: the inputs by the derivation's names (random otherwise).
    """
    file, function, forward, backward = _functions(code, function, forward, backward)
    rng = np.random.default_rng(seed)
    if hasattr(against, "backprop") and hasattr(against, "loss_expr"):
        return _check_net(file, against, function, forward, backward, layers, mapping, values,
                          rng, timeout, batch_size)
    if getattr(against, "kind", None) == "gradient" and getattr(against, "walk", None) is not None:
        return _check_expression(file, against, function, forward, backward, mapping, values,
                                 rng, timeout)
    raise MatcalcError("check_backward compares with an nn.Sequential network or a gradient "
                       "Derivation (mc.grad(f, wrt))")


def _functions(code, function, forward, backward):
    if callable(code):
        file = inspect.getsourcefile(code)
        if file is None:
            raise MatcalcError(f"{code.__name__} has no source file to run")
        if backward is not None:
            forward = code.__name__
        else:
            function = code.__name__
    else:
        file = str(code)
    if callable(backward):
        backward = backward.__name__
    return str(pathlib.Path(file)), function, forward, backward


def _defined(file):
    """(functions, classes) the file defines at its top level, read with ast (not run)."""
    import ast
    try:
        tree = ast.parse(pathlib.Path(file).read_text(encoding="utf-8"), filename=file)
    except OSError as e:
        raise MatcalcError(f"{file}: {e.strerror or e}") from None
    except SyntaxError as e:
        raise MatcalcError(f"{file}: syntax error at line {e.lineno}: {e.msg}") from None
    fns = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    return fns, classes


def _function_request(file, function, forward, backward, mapping):
    fns, _ = _defined(file)
    if not (function or forward or backward):
        if "forward" in fns and "backward" in fns:
            forward, backward = "forward", "backward"
        elif len(fns) == 1:
            function = fns[0]
        else:
            raise MatcalcError(f"{file}: name the function to run (--function NAME, or --forward "
                               f"and --backward); it defines: {', '.join(fns) or 'no functions'}")
    if (forward is None) != (backward is None):
        raise MatcalcError("give both --forward and --backward, or --function")
    return {"mode": "function", "function": function, "forward": forward, "backward": backward,
            "map": {k: v for k, v in (mapping or {}).items()}}


def _draw_net_inputs(net, rng, batch_size):
    sizes = {}
    taken = {int(getattr(l, n)) for l in net.layers for n in ("n_in", "n_out")
             if str(getattr(l, n, "x")).isdigit()}
    if not str(net.batch).isdigit():
        sizes[str(net.batch)] = batch_size or next(n for n in range(5, 100) if n not in taken)
    values = {}
    for name, symbol in {"X": net.X, "Y": net.Y, **net.parameters}.items():
        shape = tuple(int(d) if d.is_Integer else sizes[d.name] for d in symbol.shape)
        values[name] = rng.standard_normal(shape)
    return values, sizes


def _check_net(file, net, function, forward, backward, layers, mapping, values, rng, timeout,
               batch_size):
    drawn, sizes = _draw_net_inputs(net, rng, batch_size)
    values = {**drawn, **(values or {})}
    if sizes:
        sizes = {name: int(np.shape(values["X"])[0]) for name in sizes}
    names = dict(net.output_names())
    derived = Derived(net.backprop().walk, names, values)
    _, classes = _defined(file)
    plan = None if (function or forward or backward) else _layer_plan(net, classes, layers)
    notes = []
    if plan is not None:
        request, grad_output = plan
        inputs = {**values, grad_output: derived.env[grad_output]}
        record, arrays = runner.run(file, request, inputs, timeout)
        captured = _layer_values(net, record, arrays, names)
        notes.append(f"layers {', '.join(l['class'] for l in request['layers'])}; "
                     f"{grad_output} (the loss's gradient) given to the last layer's backward")
    else:
        request = _function_request(file, function, forward, backward, mapping)
        record, arrays = runner.run(file, request, values, timeout)
        captured = _captured(record, arrays)
    against = f"{net.spec()}, loss {net.loss.name}"
    report = _report(file, against, derived, captured, values,
                     mapping if plan is None else None, record, sizes, notes)
    report.given = (plan[1],) if plan is not None else ()
    return report


def _check_expression(file, d, function, forward, backward, mapping, values, rng, timeout):
    from ..derive.check import draw_values
    symbols = ops.free_variables(d.f)
    dims = sorted({n.name for s in symbols.values() if isinstance(s, sp.MatrixSymbol)
                   for n in s.shape if n.is_Symbol})
    sizes = {name: 3 + i for i, name in enumerate(dims)}
    values = {**draw_values(symbols, sizes, rng, 0, d.assumptions), **(values or {})}
    request = _function_request(file, function, forward, backward, mapping)
    record, arrays = runner.run(file, request, values, timeout)
    captured = _captured(record, arrays)
    names = _nodes_by_value(d, captured, values, mapping)
    derived = Derived(d.walk, names, values, loss_name="f")
    return _report(file, f"the gradient of {to_text(d.f)}", derived, captured, values, mapping,
                   record, sizes, [])


def _nodes_by_value(d, captured, values, mapping):
    """node of f -> your name, for each forward value of yours equal to a node's value."""
    names, used = {}, set(values)
    wanted = {v.node for v in d.walk.visits if v.node is not d.walk.f}
    ours = set((mapping or {}).values())
    for node in dag.postorder(d.f):
        if node not in wanted or node in d.variables:
            continue
        right = np.asarray(evaluate(node, values), dtype=float)
        for yours, (value, _) in captured.items():
            if yours in used or any(yours.startswith(p) and p for p, _ in GRADIENT_SPELLINGS[:5]) \
                    or yours in ours:
                continue
            y, r = aligned(value, right)
            if y.shape == r.shape and relative(y, r) < RTOL:
                names[node] = yours
                used.add(yours)
                break
    return names


def _report(file, against, derived, captured, values, mapping, record, sizes, notes):
    quantities = derived.quantities
    chosen = _match(captured, quantities, values, mapping)
    named = [(q.name, q.right) for q in quantities if q.role == "forward"] + \
        [(k, np.asarray(v, float)) for k, v in values.items()]
    findings = []
    for q in quantities:
        yours = chosen.get(q.name)
        if yours is None or yours not in captured:
            findings.append(Finding(q))
            continue
        value, where = captured[yours]
        if yours != q.name:
            where = where.replace(": ", f" ({yours}): ", 1)
        findings.append(_judge(q, value, where, sizes, named))
    report = BackwardReport(str(file), against, sizes, findings, notes=notes)
    if record.get("error"):
        report.error = dict(record["error"])
        report.error["quantity"] = _quantity_at_error(report.error, quantities, chosen, findings)
    return report


def _quantity_at_error(error, quantities, chosen, findings):
    """The derivation's quantity the failing line assigns (by your name), if any."""
    source = error.get("source") or ""
    target = source.split("=")[0].strip() if "=" in source and "==" not in source.split("=")[0] else ""
    target = target.split("[")[0].strip()
    for q in quantities:
        if chosen.get(q.name) == target or q.name.lower() == target.lower():
            return q
    first_missing = next((f.quantity for f in findings if f.yours is None
                          and f.quantity.role == "backward"), None)
    return first_missing


# ---- layer objects ----------------------------------------------------------------------------------
LAYER_WORDS = {"dense": ("linear", "dense", "fc", "affine")}


def _layer_plan(net, classes, layers):
    """(the child's request, the loss gradient's name) when the file's classes can play the
    network's layers, else None."""
    layers = dict(layers or {})
    kinds = ["dense" if hasattr(layer, "n_in") else getattr(layer, "name", "") for layer in net.layers]
    for key, cls in layers.items():
        if key not in kinds:
            raise MatcalcError(f"--layer {key}={cls}: the network has no {key} layer; its layers: "
                               + ", ".join(dict.fromkeys(kinds)))
        if cls not in classes:
            raise MatcalcError(f"--layer {key}={cls}: the file defines no class {cls}; it "
                               f"defines: {', '.join(classes) or 'no classes'}")
    chosen = []
    for key in kinds:
        cls = layers.get(key)
        if cls is None:
            words = LAYER_WORDS.get(key, (key,))
            hits = [c for c in classes if any(w in c.lower() for w in words if w)]
            if len(hits) != 1:
                return None
            cls = hits[0]
        chosen.append(cls)
    specs = []
    for k, (layer, cls) in enumerate(zip(net.layers, chosen)):
        params = list(net.layer_parameters[k])
        spec = {"class": cls, "args": [int(layer.n_in), int(layer.n_out)] if hasattr(layer, "n_in")
                else []}
        if params:
            W = params[0]
            spec.update(W=W, W_shape=[int(layer.n_in), int(layer.n_out)])
            if len(params) > 1:
                spec["b"] = params[1]
        specs.append(spec)
    out_names = list(net.output_names().values())
    grad_output = f"grad_{out_names[-1]}"
    return {"mode": "layers", "layers": specs, "input": "X", "grad_output": grad_output}, grad_output


def _layer_values(net, record, arrays, names):
    """derivation name -> (value, where) from the layer objects' calls."""
    ids = record.get("layers") or []
    out_names = list(names.values())
    captured = {}
    for call in record["calls"]:
        if call["self"] not in ids or "returned" not in call:
            continue
        k = ids.index(call["self"])
        owner = f"{call['class']}.{call['function']}"
        returned = (arrays[call["returned"]["key"]], _where(owner, call["returned"]["lines"]))
        if call["function"] == "forward":
            captured.setdefault(out_names[k], returned)
        elif call["function"] == "backward":
            if k > 0:
                captured.setdefault(f"grad_{out_names[k - 1]}", returned)
            params = list(net.layer_parameters[k])
            for attr, v in call["values"].items():
                if not attr.startswith("self.") or "grad" not in attr.lower() or not params:
                    continue
                stem = attr[5:].lower().replace("grad", "").strip("_")
                p = params[1] if len(params) > 1 and (stem.startswith("b") or "bias" in stem) \
                    else params[0]
                captured.setdefault(f"grad_{p}", (arrays[v["key"]], _where(owner, v["lines"])))
    return captured
