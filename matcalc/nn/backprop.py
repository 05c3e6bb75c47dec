"""The backward pass of a Sequential network, read from the one reverse walk, layer by layer.

    bp = net.backprop()
    bp.gradients["W1"]     # X.T@grad_h          -- over the named intermediates
    bp.expanded("W1")      # the same with every intermediate written out
    print(bp.text())       # the derivation; bp.latex() is the same as one `aligned` block

`Backprop` runs calculus.reverse.walk on the network's loss once, names every layer output
(`h`, `h_relu`, `y_pred`, or `Z1`, `A1`, ...) and every parameter, and reads the program of
that walk (calculus.program): one statement per named adjoint, `grad_h = grad_h_relu*step(h)`.
The derivation groups the visits of the walk by layer and prints, for each visit, the
differential dN its rule built, dL = tr(G.T @ dN), the identification and the read-off, citing
the rules that actually ran (their docstring identities): nothing here is typed by hand.

Convention (as in the first seed): the gradient is the transposed Jacobian; grad_V has the shape
of V, and dL = tr(grad_V.T @ dV).
"""

import numpy as np
import sympy as sp
from sympy import MatrixSymbol

from ..core import ops
from ..core.nodes import Differential, Named, ScalarDifferential
from ..calculus.program import backward_statements
from ..calculus.reverse import adjoint_placeholder, differential_detector, walk
from ..calculus.simplify import simplify
from ..calculus.transpose import inner as inner_product
from ..derive.check import check_derivation
from ..derive.derivation import Derivation, Step, read_off_term, route_rows
from ..derive.rows import Row, composed, over_names, unique_rules
from ..errors import UnknownNameError
from ..evaluate import dimension_sizes, evaluate as evaluate_expr
from ..printing import display
from ..printing.identity import notes_in, prose_latex
from ..printing.latex import latex as latex_of, name_latex, render_aligned
from ..printing.text import to_text

CONVENTION = ("Convention: the gradient is the transposed Jacobian; grad_V has the shape of V "
              "and dL = tr(grad_V.T @ dV).")


def _shape_text(e):
    if not ops.is_matrix(e):
        return "scalar"
    return f"{e.shape[0]} x {e.shape[1]}"


class Backprop:
    """The backward pass of a Sequential network (see the module docstring).

    forward:   [(name, expr)] in evaluation order over the named symbols, the last ("loss", L)
    backward:  [(name, expr, comment)] in evaluation order; comment = the differential it implements
    gradients: parameter name -> expression over the named symbols
    symbols:   name -> SymPy symbol, for X, Y, the parameters and every forward/backward name
    steps:     [Step] of every differential and identification, in order
    walk:      the reverse walk (calculus.reverse.Walk) everything is read from
    """

    def __init__(self, net):
        self.net = net
        self.symbols = {"X": net.X, "Y": net.Y, **net.parameters}
        self.node_names = net.output_names()     # layer output (a Named node) -> name
        self.layer_of = {}                       # layer output node -> (layer, its input node)
        previous = net.X
        for layer, out in zip(net.layers, net.outputs):
            if out in self.node_names and out not in self.layer_of:
                self.layer_of[out] = (layer, previous)
                self.symbols[out.name] = ops.matrix_symbol(out.name, *out.shape)
            previous = out
        params = list(net.parameters.values())
        self.walk = walk(net.loss_expr, params)
        named_nodes = set(self.node_names) | set(params)
        self.program = backward_statements(self.walk, lambda child, exprs, uses: child in named_nodes)
        self.print_names = dict(self.node_names)
        for node, name in self.node_names.items():
            self.print_names[node.arg] = name        # the value under the name prints as it
        for node in named_nodes:
            name = self.node_names.get(node, getattr(node, "name", None))
            self.print_names[adjoint_placeholder(node)] = f"grad_{name}"
            self.symbols[f"grad_{name}"] = ops.matrix_symbol(f"grad_{name}", *node.shape)
        self.symbols["loss"] = sp.Symbol("loss")
        self.loss_symbol = sp.Symbol("L")
        self._symbolic_memo = {}
        self._build_lists()
        self._rows = self._steps = None
        self.has_differential = differential_detector()

    @property
    def rows(self):
        """The lines of the derivation (data), built when first asked for."""
        if self._rows is None:
            self._rows, self._steps = [], []
            self._build_rows()
        return self._rows

    @property
    def steps(self):
        self.rows
        return self._steps

    # -- the symbolic form: every named node as its symbol --
    def symbolic(self, e, root_kept=False):
        """e with every named node (forward name or named adjoint) written as its symbol."""
        return over_names(e, self.print_names, self.symbols, self._symbolic_memo, root_kept)

    def _build_lists(self):
        self.forward = [(name, self.symbolic(node.arg, root_kept=True))
                        for node, name in self.node_names.items()]
        self.forward.append(("loss", self.symbolic(self.net.loss_expr, root_kept=True)))
        self.backward = []
        self.gradients = {}
        memo = {}
        for st in self.program.statements:
            name = self.print_names[st.target]
            expr = simplify(self.symbolic(st.expr), memo)
            if st.accumulate:
                expr = ops.add(self.symbols[name], expr)
            self.backward.append((name, expr, self.comment(st.visit)))
        by_name = {name: expr for name, expr, _ in self.backward}
        for p in self.net.parameters.values():
            self.gradients[p.name] = by_name.get(f"grad_{p.name}", ops.zero_like(p))
        self.gradients = {p: self.gradients[p] for p in self.net.parameters}

    def comment(self, visit):
        """The differential a backward line implements: d(N) = its expansion, over names."""
        dN = self.differential(visit.node)
        return f"{to_text(dN)} = {to_text(self.symbolic(visit.expansion))}" if visit.node \
            is not self.walk.f else f"dL = tr(G.T @ d({to_text(self.symbolic(visit.node))}))"

    def differential(self, node):
        sym = self.symbolic(node)
        return Differential(sym) if ops.is_matrix(sym) else ScalarDifferential(sym)

    # -- the derivation rows --
    def _build_rows(self):
        rows = self._rows
        rows.append(Row(None, None, heading="Forward pass (shapes on the right):"))
        for name, expr in self.forward[:-1]:
            sym = self.symbols[name]
            rows.append(Row(sym, expr, note=_shape_text(sym), shape=True, role="definition"))
        rows.append(Row(self.loss_symbol, self.forward[-1][1], note="scalar", shape=True,
                        role="function"))
        dL = ScalarDifferential(self.loss_symbol)
        groups = self._groups()
        for owner, visits in groups:
            if owner is None:
                self._loss_rows(dL, visits)
            else:
                self._layer_rows(dL, owner, visits)

    def _groups(self):
        """[(layer output node or None for the loss, [visits])] in walk order."""
        groups = [(None, [])]
        for v in self.walk.visits:
            if v.node in self.layer_of:
                groups.append((v.node, []))
            groups[-1][1].append(v)
        return groups

    def _statements_of(self, visit):
        return [st for st in self.program.statements if st.visit is visit]

    def _loss_rows(self, dL, visits):
        rows = self._rows
        rows.append(Row(None, None, heading=f"Loss ({type(self.net.loss).__name__}):"))
        read = []
        for v in visits:
            read += self._statements_of(v)
        cites = unique_rules([f"{r.name}: {r.identity_at(v.node) if r is v.rule else r.identity}"
                              for v in visits for r in (v.rule, v.derivative, *v.pull_rules)
                              if r is not None])
        identity = "; ".join(cites)
        terms = [read_off_term(self.symbolic(st.target.arg),
                                   self.symbolic(st.expr)) for st in read]
        form = terms[0] if len(terms) == 1 else sp.Add(*terms, evaluate=False)
        rows.append(Row(dL, form, note="differential of the loss, brought to the form: "
                                        "dL = tr(G.T@dX)"))
        self._steps.append(Step(dL, form, "loss differential", identity))
        for st in read:
            name = self.print_names[st.target]
            rows.append(Row(self.symbols[name], self.symbolic(st.expr), role="read off",
                            of=st.target.arg, note=f"read off: the gradient w.r.t. {to_text(self.symbolic(st.target.arg))}"))

    def _layer_rows(self, dL, owner, visits):
        """The layer's differential (its visits' expansions composed: dZ = dA@W + A@dW +
        ones(N)@db.T), dL = tr(G.T @ dZ), the identification and the read-off lines."""
        rows = self._rows
        layer, _ = self.layer_of[owner]
        kind = layer.title
        name = self.node_names[owner]
        rows.append(Row(None, None, heading=f"{kind} {name} = "
                                             f"{to_text(self.symbolic(owner.arg, root_kept=True))}:"))
        inner = [v for v in visits if not isinstance(v.node, Named)]
        if not inner:
            return
        dZ = Differential(self.symbols[name])
        expansion = self.symbolic(composed(inner, self.has_differential))
        cited = unique_rules([(r.name, r.identity_at(v.node) if r is v.rule else r.identity)
                              for v in inner for r in (v.rule, v.derivative) if r is not None])
        note = "; ".join(f"{name}: {identity}" for name, identity in cited)
        rows.append(Row(dZ, expansion, note=note))
        self._steps.append(Step(dZ, expansion, cited[0][0], "; ".join(i for _, i in cited)))
        G = self.symbols[f"grad_{name}"]
        parts = list(expansion.args) if isinstance(expansion, sp.MatAdd) else [expansion]
        traced = sp.Add(*[inner_product(G, t) for t in parts], evaluate=False) if len(parts) > 1 \
            else inner_product(G, expansion)
        rows.append(Row(inner_product(G, dZ), traced,
                        note=f"the share of dL through {name}: dL = ... + tr(grad_{name}.T @ d{name})"))
        statements = [st for v in inner for st in self._statements_of(v)]
        terms = [read_off_term(self.symbolic(st.target.arg), self.symbolic(st.expr))
                 for st in statements]
        identified = terms[0] if len(terms) == 1 else sp.Add(*terms, evaluate=False)
        pulls = unique_rules([r for v in inner for r in v.pull_rules if r.name != "linearity"])
        identities = "; ".join(f"{r.name}: {r.identity}" for r in pulls)
        rows.append(Row(None, identified, note=identities, continued=True))
        self._steps.append(Step(traced, identified, "identification", identities))
        for st in statements:
            target = self.print_names[st.target]
            rows.append(Row(self.symbols[target], self.symbolic(st.expr), role="read off",
                            of=st.target.arg,
                            note=f"read off: the gradient w.r.t. {to_text(self.symbolic(st.target.arg))}"))

    # -- use --
    def values(self, values):
        """name -> NumPy value of every forward and backward name, from X, Y and the parameters."""
        env = dict(values)
        lines = [(n, e) for n, e in self.forward] + [(n, e) for n, e, _ in self.backward]
        # the batch size, read off X: a line over images' pixel rows (N*H*W x C) alone, as
        # batchnorm's backward is, names N in no symbol of its own
        sizes = dimension_sizes(self.net.X, values) if "X" in values else None
        for name, expr in lines:
            value = evaluate_expr(expr, env, sizes=sizes)
            if ops.is_matrix(self.symbols[name]) and np.ndim(value) == 0:
                value = np.reshape(value, (1, 1))      # evaluate() returns 1 x 1 as a scalar
            env[name] = value
        return env

    def evaluate(self, values):
        """parameter name -> NumPy gradient, shaped like the value given for the parameter."""
        env = self.values(values)
        sizes = dimension_sizes(self.net.X, values) if "X" in values else None
        out = {}
        for p, G in self.gradients.items():
            value = evaluate_expr(G, env, sizes=sizes) if not isinstance(G, MatrixSymbol) else env[G.name]
            out[p] = np.reshape(value, np.shape(values[p]))
        return out

    def expanded(self, name):
        """The gradient of parameter `name` (or the adjoint of any named node) with every
        intermediate substituted: a plain expression in X, Y and the parameters."""
        if name in self.net.parameters:
            G = self.walk.gradients.get(self.net.parameters[name])
            return G if G is not None else ops.zero_like(self.net.parameters[name])
        for node, n in self.node_names.items():
            if n == name:
                return node
            if f"grad_{n}" == name:
                return next(v.value for v in self.walk.visits if v.node is node)
        if name == "loss":
            return self.net.loss_expr
        raise UnknownNameError(f"no quantity named {name!r}; names: {', '.join(self.symbols)}")

    def derivation(self):
        """The gradients as a Derivation of the whole loss (for .check())."""
        params = list(self.net.parameters.values())
        results = {p.name: self.expanded(p.name) for p in params}
        return Derivation(f=self.net.loss_expr, variables=params, single=False, raw=results,
                          results=results, walk=self.walk, kind="gradient")

    def check(self, values=None, sizes=None, seed=0):
        """Every parameter's gradient against central differences of the loss, evaluated by the
        independent evaluator of the loss as the notation writes it."""
        source = (to_text(self.net.loss_expr), dict(self.net.shapes))
        return check_derivation(self.derivation(), values=values, sizes=sizes, seed=seed,
                                source=source)

    # -- rendering --
    def text(self):
        """The derivation in plain text, in the notation."""
        lines = [CONVENTION]
        for row in self.rows:
            if row.heading:
                lines.append("")
                lines.append(row.heading)
                continue
            lhs = "" if row.continued else _text_symbol(row.lhs)
            body = f"  {lhs:>12} = {to_text(row.rhs)}"
            lines.append(f"{body:<56}  # {row.note}" if row.note else body)
        return "\n".join(lines)

    def latex(self, notes="below"):
        """The derivation as one amsmath `aligned` block (KaTeX/MathJax/pdflatex safe). notes:
        where the cited rules go, "below" each line, "tags" (numbered, with a legend) or
        "right" (a column). Shapes of the forward pass stand beside their lines."""
        rows = route_rows("gradient")
        for row in self.rows:
            if row.heading:
                rows.append((None, prose_latex(row.heading), ""))
                continue
            lhs = "" if row.continued else _latex_symbol(row.lhs)
            if row.shape:
                shape = rf"[{_shape_latex(row.lhs)}]" if ops.is_matrix(row.lhs) else r"\text{scalar}"
                if notes == "right":
                    rows.append((lhs, row.rhs, shape))
                else:
                    rows.append((lhs, rf"{latex_of(row.rhs)} \qquad {shape}", ""))
                continue
            note = notes_in(row.note) if isinstance(row.note, str) else row.note
            rows.append((lhs, row.rhs, note))
        return render_aligned(rows, notes)

    def _repr_latex_(self):
        return display.derivation_latex(self)

    def _repr_html_(self):
        return display.derivation_html(self, "Backprop " + display.backprop_summary(self))

    def __repr__(self):
        return display.angle_repr("Backprop " + display.backprop_summary(self))


def _shape_latex(e):
    return rf"{latex_of(e.shape[0])} \times {latex_of(e.shape[1])}"


def _text_symbol(s):
    if isinstance(s, ScalarDifferential):
        return f"d{to_text(s.arg)}"
    return to_text(s)


def _latex_symbol(s):
    if isinstance(s, sp.Symbol):
        return name_latex(s.name)
    return latex_of(s)
