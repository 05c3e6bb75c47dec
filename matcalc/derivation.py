"""Step and Derivation records, and how a derivation reads.

A Derivation holds the function, the variables, the results and the record of the reverse walk
(reverse.Visit). Its steps are the differential written out the way a student does by hand:

    df = d(f)
       = ...                 each visit expands one differential dN with its rule
       = ...                 and identification moves G onto the children: tr(G_C.T @ dC)
    df = tr(G.T @ dX)   =>   df/dX = G          read off, then simplified

Every line is the *whole* differential df = sum over pending nodes N of tr(G_N.T @ dN), rebuilt
from the visits the engine actually made, so the explanation cannot disagree with the result.
Convention (as in the seeds): the gradient has the shape of X and is the transposed Jacobian.
"""
from dataclasses import dataclass, field

import sympy as sp

from . import ops
from .check import check_derivation
from .latex import latex, render_aligned, text_latex
from .nodes import Differential, ScalarDifferential
from .text import to_text

READ_OFF = {
    "jacobian": "df = J@dx  =>  J (p x n)",
    "hessian": "d(grad f) = H@dx  =>  H (n x n), d2f = dx.T@H@dx",
    "hvp": "H[V] = d(grad f) with dX := V",
}
CONVENTIONS = {
    "jacobian": ("Jacobian convention: J is p x n for f p x 1 and x n x 1, df = J @ dx; for "
                 "matrices d vec F = J @ d vec X (vec stacks columns)"),
    "hessian": "Hessian convention: H is n x n, the Jacobian of the gradient, d2f = dx.T @ H @ dx",
    "hvp": "Hessian-vector product: the differential of the gradient along the direction V",
}
CONVENTION = ("gradient convention: df/dX has the shape of X and is the transposed Jacobian, "
              "df = tr((df/dX).T @ dX)")


@dataclass(frozen=True)
class Step:
    before: object       # e.g. dL
    after: object        # what it became
    rule: str            # "product rule"
    identity: str        # "d(A @ B) = dA @ B + A @ dB"


def differential_term(node, G):
    """tr(G.T @ dN) for a matrix node, G * dN for a scalar one."""
    if ops.is_matrix(node):
        return ops.inner(G, Differential(node))
    dN = ScalarDifferential(node)
    return dN if G == 1 else ops.as_scalar_if_1x1(G) * dN


def expanded_term(node, G, expansion):
    """The same term with dN replaced by its expansion."""
    if ops.is_matrix(node):
        return ops.inner(G, expansion)
    return expansion if G == 1 else sp.Mul(ops.as_scalar_if_1x1(G), expansion, evaluate=False)


def _sum(terms):
    terms = [t for t in terms if t != 0]
    if not terms:
        return sp.Integer(0)
    return terms[0] if len(terms) == 1 else sp.Add(*terms, evaluate=False)


@dataclass
class Derivation:
    f: object
    variables: list
    single: bool
    raw: dict
    results: dict
    visits: list
    kind: str = "gradient"
    _steps: list = field(default=None, repr=False)

    @property
    def result(self):
        """The result for the (first) variable."""
        return self.results[self.variables[0].name]

    @property
    def steps(self):
        if self._steps is None:
            if self.kind == "gradient":
                self._steps = self._build_steps()
            else:   # jacobian.py records its forward expansion as Steps already
                self._steps = list(self.visits) + [
                    Step(self.raw[x.name], self.results[x.name], f"read off the {self.kind}",
                         READ_OFF[self.kind]) for x in self.variables]
        return self._steps

    def _build_steps(self):
        frontier = [[self.f, sp.Integer(1)]]

        def line(replace_at=None, replacement=None):
            terms = []
            for i, (node, G) in enumerate(frontier):
                terms.append(replacement if i == replace_at else differential_term(node, G))
            return _sum(terms)

        steps = [Step(ScalarDifferential(self.f), line(), "differential",
                      "take the differential of both sides")]
        current = steps[0].after
        for v in self.visits:
            at = next(i for i, (node, _) in enumerate(frontier) if node == v.node)
            expanded = line(at, expanded_term(v.node, v.adjoint, v.expansion))
            if to_text(expanded) != to_text(current):
                steps.append(Step(current, expanded, v.rule.name, v.rule.identity))
                current = expanded
            del frontier[at]
            inserted = 0
            for child, G in v.pulled:
                hit = next((e for e in frontier if e[0] == child), None)
                if hit is not None:
                    hit[1] = ops.add(hit[1], G)
                else:
                    frontier.insert(at + inserted, [child, G])
                    inserted += 1
            identified = line()
            if to_text(identified) != to_text(current):
                names = ", ".join(r.name for r in v.pull_rules)
                identities = "; ".join(r.identity for r in v.pull_rules)
                steps.append(Step(current, identified, f"identification ({names})", identities))
                current = identified
        for x in self.variables:
            G = self.raw[x.name]
            steps.append(Step(differential_term(x, G) if not ops.is_zero(G) else sp.Integer(0),
                              G, "read off the gradient",
                              f"df = tr(G.T@d{x.name})  =>  df/d{x.name} = G"))
            if self.results[x.name] != G:
                steps.append(Step(G, self.results[x.name], "simplify",
                                  "common factors, transposes, like terms"))
        return steps

    # ---- rendering -----------------------------------------------------------------------------
    def text(self):
        """The derivation in plain text, one line per step, in the notation."""
        if self.kind != "gradient":
            return self._text_records()
        lines = [f"f = {to_text(self.f)}"]
        lhs = "df"
        rows = []
        for s in self.steps:
            if s.rule == "read off the gradient":
                break
            rows.append((to_text(s.after), f"[{s.rule}: {s.identity}]"))
        width = max((len(r) for r, _ in rows), default=0)
        for i, (rhs, note) in enumerate(rows):
            prefix = f"{lhs} = " if i == 0 else " " * len(lhs) + " = "
            lines.append(f"{prefix}{rhs.ljust(min(width, 60))}  {note}")
        for x in self.variables:
            G_raw, G = self.raw[x.name], self.results[x.name]
            lines.append(f"=> df/d{x.name} = {to_text(G_raw)}")
            if G != G_raw:
                lines.append(" " * (len(x.name) + 6) + f" = {to_text(G)}   [simplify]")
        lines.append(CONVENTION)
        return "\n".join(lines)

    def latex(self):
        """One aligned LaTeX block from df = ... to the result (standard amsmath only)."""
        if self.kind != "gradient":
            return self._latex_records()
        rows = []
        lhs = r"\mathrm{d}f"
        first = True
        for s in self.steps:
            if s.rule == "read off the gradient":
                break
            note = "" if s.rule == "differential" else text_latex(f"{s.rule}: {s.identity}")
            rows.append((lhs if first else "", latex(s.after), note))
            first = False
        for x in self.variables:
            G_raw, G = self.raw[x.name], self.results[x.name]
            name = latex(x)
            rows.append((rf"\frac{{\partial f}}{{\partial {name}}}", latex(G_raw),
                         text_latex("read off the gradient: df = tr(G.T@dX) gives G")))
            if G != G_raw:
                rows.append(("", latex(G), text_latex("simplify")))
        body = render_aligned(rows)
        convention = (r"\text{Convention: } \tfrac{\partial f}{\partial X} \text{ has the shape of } "
                      r"X \text{ and is the transposed Jacobian, } \mathrm{d}f = "
                      r"\operatorname{tr}\left(\left(\tfrac{\partial f}{\partial X}\right)^{T}"
                      r" \mathrm{d}X\right)")
        return body.replace("\n\\end{aligned}", " \\\\\n" + "&" + convention + "\n\\end{aligned}")

    def _text_records(self):
        lines = [f"f = {to_text(self.f)}"]
        for st in self.steps:
            lines.append(f"{to_text(st.before)} = {to_text(st.after)}   [{st.rule}: {st.identity}]")
        for x in self.variables:
            lines.append(f"=> {self.kind} wrt {x.name} = {to_text(self.results[x.name])}")
        lines.append(CONVENTIONS[self.kind])
        return "\n".join(lines)

    def _latex_records(self):
        rows = [(latex(st.before), latex(st.after), text_latex(f"{st.rule}: {st.identity}"))
                for st in self.steps]
        rows.append((text_latex(self.kind), latex(self.result), ""))
        body = render_aligned(rows)
        return body.replace("\n\\end{aligned}",
                            " \\\\\n&" + text_latex(CONVENTIONS[self.kind]) + "\n\\end{aligned}")

    def _repr_latex_(self):
        return "$$" + self.latex() + "$$"

    def __str__(self):
        return "\n".join(f"d f/d{name} = {to_text(r)}" for name, r in self.results.items())

    # ---- checking ------------------------------------------------------------------------------
    def check(self, values=None, sizes=None, seed=0):
        """Compare each result with central finite differences of f (random-direction test).

        values: name -> array (random, in-domain values are drawn when omitted); sizes: dimension
        name -> size (random 2..5 when omitted). Returns a CheckReport; report.ok when every
        relative error is below 1e-6.
        """
        return check_derivation(self, values=values, sizes=sizes, seed=seed)

