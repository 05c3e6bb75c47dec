"""Step and Derivation records, and how a derivation reads.

A Derivation holds the function, the variables, the results and the record the engine made
while computing them (the reverse walk for a gradient, the forward expansion and the rules of
identification for a Jacobian, Hessian or HVP). Its steps are read from that record, so the
explanation cannot disagree with the result. Every step is an equation `before = after` between
differentials (or the read-off of the result), citing the rule that produced it:

    df = d(f)
       = ...                 a visit expands one differential dN with its rule
       = ...                 and identification moves G onto the children: tr(G_C.T @ dC)
    df = tr(G.T @ dX)   =>   df/dX = G          read off, then simplified

Convention (as in the seeds): the gradient has the shape of X and is the transposed Jacobian.
"""
from dataclasses import dataclass, field

import sympy as sp

from ..core import dag, ops
from ..core.nodes import AsScalar, Differential, ScalarDifferential
from ..calculus.transpose import inner
from ..printing.latex import Note, Words, latex, render_aligned, text_latex
from ..printing import display
from ..printing.text import to_text
from ..errors import MatcalcError
from ..core.shapes import describe, shape_of
from .check import check_derivation

CONVENTIONS = {
    "gradient": ("gradient convention: df/dX has the shape of X and is the transposed Jacobian, "
                 "df = tr((df/dX).T @ dX)"),
    "jacobian": ("Jacobian convention: J is p x n for f p x 1 and x n x 1, df = J @ dx; for "
                 "matrices d vec F = J @ d vec X (vec stacks columns)"),
    "hessian": "Hessian convention: H is n x n, the Jacobian of the gradient, d2f = dx.T @ H @ dx",
    "hvp": "Hessian-vector product: the differential of the gradient along the direction V",
}
CONVENTION = CONVENTIONS["gradient"]
ROUTE_PARTS = {      # (words, the read-off in the notation, words)
    "gradient": ("Convention: ", "df = tr(G.T@dX)  =>  df/dX = G",
                 ": the gradient has the shape of X (the transposed Jacobian)"),
    "jacobian": ("Convention (the first seed's route): ", "df = tr(J@dX)  =>  J",
                 ", the Jacobian, has the shape of X transposed; the gradient is J transposed"),
}
ROUTES = {route: "".join(parts) for route, parts in ROUTE_PARTS.items()}


def route_rows(route):
    """The convention of a route as rows of a LaTeX derivation: the read-off as mathematics,
    then the words (broken to the page by the layout)."""
    from ..printing.identity import identity_latex
    before, identity, after = ROUTE_PARTS[route]
    return [(None, text_latex(before) + identity_latex(identity), ""),
            (None, Words(after.lstrip(":, ")), "")]


@dataclass(frozen=True)
class Step:
    before: object       # the left side: dL, dN, d vec F, ...
    after: object        # what it equals
    rule: str            # "product rule"
    identity: str        # "d(A@B) = dA@B + A@dB"
    continued: bool = False     # the left side is the previous step's (printed as "=")

    def __repr__(self):
        return f"Step({display.shorten(display.step_summary(self), display.REPR_WIDTH - 6)})"

    def _repr_latex_(self):
        return "$$" + display.step_latex(self) + "$$"

    def _repr_html_(self):
        return display.step_html(self)


def differential_of(e):
    return Differential(e) if ops.is_matrix(e) else ScalarDifferential(e)


def differential_term(node, G):
    """tr(G.T @ dN) for a matrix node, G * dN for a scalar one."""
    if ops.is_matrix(node) and tuple(node.shape) != (1, 1):
        return inner(G, Differential(node))
    dN = differential_of(node)
    G = ops.as_scalar_if_1x1(G)
    return dN if G == 1 else sp.Mul(G, dN, evaluate=False)


def read_off_term(node, G):
    """tr(G.T @ dN) with G kept whole (not pushed through its products), the form from which
    the gradient is read off: tr((h_relu.T@grad_y_pred).T@dW2)."""
    if not ops.is_matrix(node) or tuple(node.shape) == (1, 1):
        return differential_term(node, G)
    dN = Differential(node)
    if not ops.is_matrix(G):
        return differential_term(node, G)
    if isinstance(G, (sp.OneMatrix, sp.Identity)) or dag.is_leaf(G):
        return differential_term(node, G)
    GT = sp.Transpose(G)
    if node.shape[1] == 1:
        return AsScalar(sp.MatMul(GT, dN))
    return sp.Trace(sp.MatMul(GT, dN))


def expanded_term(node, G, expansion):
    """The same term with dN replaced by its expansion."""
    if ops.is_matrix(node) and tuple(node.shape) != (1, 1):
        return inner(G, expansion)
    G = ops.as_scalar_if_1x1(G)
    expansion = ops.as_scalar_if_1x1(expansion)
    return expansion if G == 1 else sp.Mul(G, expansion, evaluate=False)


def _sum(terms):
    terms = [t for t in terms if t != 0]
    if not terms:
        return sp.Integer(0)
    return terms[0] if len(terms) == 1 else sp.Add(*terms, evaluate=False)


def cited(rule, derivative=None, node=None):
    """(name, identity) a step cites: the rule as it applies at node, and an elementwise
    function's f' beside it."""
    if derivative is None:
        return rule.name, rule.identity_at(node)
    return rule.name, f"{rule.identity_at(node)}, {derivative.identity}"


def gradient_steps(f, walk, variables, raw, results, assumptions=None):
    """The steps of a gradient, read from the visits of the reverse walk."""
    terms = [[f, sp.Integer(1)]]

    def line(replace_at=None, replacement=None):
        return _sum([replacement if i == replace_at else differential_term(n, G)
                     for i, (n, G) in enumerate(terms)])

    dF = ScalarDifferential(f)
    steps = [Step(dF, line(), "differential", "take the differential of both sides")]

    def add(after, rule, identity):
        if to_text(after) != to_text(steps[-1].after):
            steps.append(Step(dF, after, rule, identity, continued=True))

    def collect(node, G):
        """Merge the terms of one node into tr(G.T @ dN) with its whole adjoint G."""
        at = [i for i, (n, _) in enumerate(terms) if n is node or n == node]
        if len(at) > 1:
            for i in reversed(at[1:]):
                del terms[i]
            terms[at[0]][1] = G
            add(line(), "collect terms", "tr(A.T@dN) + tr(B.T@dN) = tr((A + B).T@dN)")
        return at[0]

    for v in walk.visits:
        at = collect(v.node, v.value)
        name, identity = cited(v.rule, v.derivative, v.node)
        add(line(at, expanded_term(v.node, v.value, v.expansion)), name, identity)
        del terms[at]
        for k, c in enumerate(v.pulled):
            terms.insert(at + k, [c.child, c.value])
        names = ", ".join(r.name for r in v.pull_rules)
        add(line(), f"identification ({names})", "; ".join(r.identity for r in v.pull_rules))
    for x in variables:
        if any(n == x for n, _ in terms):
            collect(x, raw[x.name])
    for x in variables:
        G = raw[x.name]
        steps.append(Step(read_off_term(x, G) if not ops.is_zero(G) else sp.Integer(0), G,
                          "read off the gradient", f"df = tr(G.T@d{x.name})  =>  df/d{x.name} = G"))
        if to_text(results[x.name]) != to_text(G):
            using = assumptions.note(G) if assumptions else ""
            steps.append(Step(G, results[x.name], "simplify",
                              "common factors, transposes, like terms" + (f"; {using}" if using else "")))
    return steps


@dataclass
class Derivation:
    f: object
    variables: list
    single: bool
    raw: dict
    results: dict
    walk: object = None            # the reverse walk, for a gradient
    kind: str = "gradient"
    records: list = None           # the steps of a Jacobian / Hessian / HVP, made by its engine
    gradient: object = None        # the gradient a Hessian or HVP starts from
    direction: object = None       # the direction V of an HVP
    _steps: list = field(default=None, repr=False)
    assumptions: dict = None       # name -> kind assumed (calculus/assumptions.Assumptions)

    @property
    def result(self):
        """The result for the (first) variable."""
        return self.results[self.variables[0].name]

    @property
    def steps(self):
        if self._steps is None:
            if self.kind == "gradient":
                self._steps = gradient_steps(self.f, self.walk, self.variables, self.raw,
                                             self.results, self.assumptions)
            else:
                self._steps = list(self.records)
        return self._steps

    @property
    def named(self):
        """The derivation over named intermediates (derive/named.py), or None when the
        expression is short enough to be written out in full at every step."""
        if "_named" not in self.__dict__:
            self.__dict__["_named"] = None
            if self.kind == "gradient" and self.walk is not None:
                from ..codegen.schedule import inputs_of
                from .named import named_form
                self.__dict__["_named"] = named_form(self.f, self.walk, inputs_of(self.f))
        return self.__dict__["_named"]

    def lines(self):
        """Every equation the derivation prints, as Rows (derive/rows.py) in printed order: the
        data the printers read and the check that each line is a true equation reads."""
        from .rows import Row
        if self.named is not None:
            rows = list(self.named.rows)
            for x in self.variables:
                rows.append(Row(sp.Symbol(f"df/d{x.name}"), self.named.results[x.name],
                                role="gradient", of=x))
            return rows
        f = sp.Symbol("f")
        head = [Row(f, self.f, role="function")]
        if self.kind == "gradient":
            dF = ScalarDifferential(f)
            rows = head + [Row(dF, s.after, role="differential", continued=i > 0)
                    for i, s in enumerate(st for st in self.steps
                                          if st.rule not in ("read off the gradient", "simplify"))]
            for x in self.variables:
                G_raw, G = self.raw[x.name], self.results[x.name]
                rows.append(Row(sp.Symbol(f"df/d{x.name}"), G_raw, role="gradient", of=x))
                if to_text(G) != to_text(G_raw):
                    rows.append(Row(sp.Symbol(f"df/d{x.name}"), G, role="gradient", of=x,
                                    continued=True))
            return rows
        role = {"the gradient (mc.grad)": "gradient", "read off J": "jacobian",
                "read off H": "hessian", "the directional derivative of the gradient": "hvp"}
        x = self.variables[0]
        rows = head + [Row(st.before, st.after, role=role.get(st.rule, "differential"), of=x,
                           continued=st.continued) for st in self.steps]
        rows.append(Row(sp.Symbol(self.kind), self.result, role=self.kind, of=x))
        return rows

    # ---- rendering -----------------------------------------------------------------------------
    def text(self, route="gradient"):
        """The derivation in plain text, one line per step, in the notation. route: how a
        gradient is read off, "gradient" (df = tr(G.T@dX) => df/dX = G) or "jacobian" (the first
        seed's: df = tr(J@dX) => J, and the gradient is J.T)."""
        if self.named is not None:
            from .named import named_text        # named.py reads codegen, which reads this
            return named_text(self.named, self, route)
        if self.kind != "gradient":
            return self._text_records()
        if route not in ROUTES:
            raise MatcalcError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
        lines = [ROUTES[route], f"f = {to_text(self.f)}"]
        rows = [(to_text(s.after), f"[{s.rule}: {s.identity}]") for s in self.steps
                if s.rule not in ("read off the gradient", "simplify")]
        width = max((len(r) for r, _ in rows), default=0)
        for i, (rhs, note) in enumerate(rows):
            prefix = "df = " if i == 0 else "   = "
            lines.append(f"{prefix}{rhs.ljust(min(width, 60))}  {note}")
        for x in self.variables:
            G_raw, G = self.raw[x.name], self.results[x.name]
            if route == "jacobian":
                X = x.name
                lines.append(f"=> df = tr(J@d{X}) with J = {to_text(ops.transpose(G_raw))}   "
                             f"[read off the Jacobian: df = tr(J@d{X})  =>  J = df/d{X} as a "
                             f"Jacobian ({describe(shape_of(ops.transpose(x)))})]")
                lines.append(f"=> df/d{X} = J.T = {to_text(G_raw)}   [the gradient is the "
                             f"transposed Jacobian]")
            else:
                lines.append(f"=> df/d{x.name} = {to_text(G_raw)}")
            if to_text(G) != to_text(G_raw):
                using = self.assumptions.note(G_raw) if self.assumptions else ""
                lines.append(" " * (len(x.name) + 6) + f" = {to_text(G)}   [simplify"
                             + (f", {using}" if using else "") + "]")
        return "\n".join(lines)

    def latex(self, notes="below", route="gradient"):
        """One aligned LaTeX block from df = ... to the result (standard amsmath only). notes:
        where the cited identities go, "below" each line, "tags" (numbered, with a legend) or
        "right" (a column); long sums break over several lines. route as for text()."""
        if route not in ROUTES:
            raise MatcalcError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
        if self.named is None and self.kind != "gradient":
            return self._latex_records(notes)
        return render_aligned(self.latex_rows(route), notes)

    def latex_rows(self, route="gradient"):
        """The rows of latex() for a gradient, (lhs, rhs, note) as printing.latex.render_aligned
        takes them: a longer derivation (nn.Recurrent's) sets them among its own lines."""
        if route not in ROUTES:
            raise MatcalcError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
        if self.named is not None:
            from .named import named_latex_rows
            return named_latex_rows(self.named, self, route)
        if self.kind != "gradient":
            raise MatcalcError(f"latex_rows is for gradients; use latex() for a {self.kind}")
        rows = route_rows(route)
        for i, s in enumerate(st for st in self.steps
                              if st.rule not in ("read off the gradient", "simplify")):
            note = "" if s.rule == "differential" else Note(s.rule, s.identity)
            rows.append((r"\mathrm{d}f" if i == 0 else "", s.after, note))
        read_offs = [s for s in self.steps if s.rule == "read off the gradient"]
        for x, read in zip(self.variables, read_offs):
            G_raw, G = self.raw[x.name], self.results[x.name]
            gradient = rf"\frac{{\partial f}}{{\partial {latex(x)}}}"
            if route == "jacobian":
                X = x.name
                rows.append((r"J", ops.transpose(G_raw), Note(
                    "read off the Jacobian", f"df = tr(J@d{X})  =>  J = df/d{X}")))
                rows.append((gradient, G_raw, Note("the gradient is the transposed Jacobian",
                                                   "df/dX = J.T")))
            else:
                rows.append((gradient, G_raw, Note(read.rule, read.identity)))
            if to_text(G) != to_text(G_raw):
                using = self.assumptions.note(G_raw) if self.assumptions else ""
                rows.append(("", G, Note("simplify" + (f", {using}" if using else ""))))
        return rows

    def _text_records(self):
        lines = [f"f = {to_text(self.f)}"]
        for st in self.steps:
            lhs = "" if st.continued else to_text(st.before)
            lines.append(f"{lhs:>10} = {to_text(st.after)}   [{st.rule}: {st.identity}]")
        for x in self.variables:
            lines.append(f"=> {self.kind} wrt {x.name} = {to_text(self.results[x.name])}")
        lines.append(self.convention())
        return "\n".join(lines)

    def convention(self):
        """The convention line, in the derivation's own names and dimensions."""
        if self.kind in ("gradient", "hvp"):
            return CONVENTIONS[self.kind]
        x = self.variables[0]
        X, size = x.name, describe(shape_of(self.result))
        if self.kind == "hessian":
            return (f"Hessian convention: H is {size} ({X} is {describe(shape_of(x))}), the "
                    f"Jacobian of the gradient g: dg = H@d{X}, d2f = d{X}.T@H@d{X}")
        if ops.is_matrix(self.f) and self.f.shape[1] == 1 and ops.is_matrix(x) and x.shape[1] == 1:
            return f"Jacobian convention: J is {size}, df = J@d{X}"
        return f"Jacobian convention: J is {size}, d vec F = J@vec(d{X}) (vec stacks columns)"

    def _latex_records(self, notes="below"):
        rows = [("" if st.continued else latex(st.before), st.after, Note(st.rule, st.identity))
                for st in self.steps]
        rows.append((text_latex(self.kind), self.result, ""))
        rows.append((None, Words(self.convention()), ""))
        return render_aligned(rows, notes)

    def _repr_latex_(self):
        return display.derivation_latex(self)

    def _repr_html_(self):
        return display.derivation_html(self, "Derivation: " + display.derivation_summary(self))

    def __str__(self):
        return "\n".join(f"d f/d{name} = {to_text(r)}" for name, r in self.results.items())

    def __repr__(self):
        return display.angle_repr("Derivation " + display.derivation_summary(self))

    # ---- checking ------------------------------------------------------------------------------
    def check(self, values=None, sizes=None, seed=0):
        """Compare each result with central finite differences of the function as written.

        values: name -> array (random, in-domain values are drawn when omitted); sizes: dimension
        name -> size (random 2..5 when omitted). Returns a CheckReport; report.ok when every
        relative error is below 1e-6.
        """
        return check_derivation(self, values=values, sizes=sizes, seed=seed)

    def compare(self, formula, wrt=None, seed=0):
        """Is the formula (text in the notation) this result? A Comparison (derive/compare.py):
        .ok, the kind of mistake and a counterexample when it is not."""
        from .compare import compare
        return compare(self, formula, wrt=wrt, seed=seed)
