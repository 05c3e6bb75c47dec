"""Derivations over named intermediates: long expressions derived the way networks are.

A gradient of a long expression, written out in full at every step, grows with the square of
its size (an RNN over T steps repeats h_{t-1} inside h_t). Here the repeated and deep
subexpressions get names first, chosen by codegen's rules (codegen/schedule.py: `worth_naming`,
`MAX_HEIGHT`, the names from the maths of `Wishes`), so that the derivation, its LaTeX and the
generated code speak of the same `Xw`, `h_tanh`, `t3`:

    Xw = X@w                                     definitions, in evaluation order
    f  = sum(log(1 + exp(-Xw)))                   the function over the names

and the walk's visits are grouped by the named node they start from. A group owned by N says

    dN = dA@W + A@dW                             N's differential, through its unnamed parts
    tr(grad_N.T@dN) = tr((grad_N@W.T).T@dA) + tr((A.T@grad_N).T@dW)
                                                 the share of dL flowing through N, identified
    grad_A = grad_N@W.T + ...                    read off once every share of A has arrived

Every line is a true equation between differentials (or a definition, or a read-off), and each
line is over names, so the size of the derivation is linear in the size of the expression.
A node that would receive shares from two groups is named too (a group's identification must
speak only of its own adjoint), so the grouping is exact. It reads the one reverse walk and the
program of statements made from it (calculus/program.py); it adds up nothing itself.
"""
from dataclasses import dataclass

import sympy as sp

from ..core import dag, ops
from ..core.nodes import ADJOINTS, Differential, Elementwise, ScalarDifferential
from ..core.shapes import describe, shape_of
from ..calculus.program import backward_statements
from ..calculus.reverse import adjoint_placeholder, differential_detector
from ..calculus.simplify import simplify
from ..calculus.transpose import inner
from ..codegen.schedule import MAX_HEIGHT, Wishes, schedule, uses, worth_naming
from ..printing.latex import Note
from ..printing.text import to_text
from .rows import Row, composed, over_names, unique_rules


def forward_names(f, variables, inputs):
    """node -> name for the subexpressions of f worth a name: used twice and worth computing
    once, or nested deeper than MAX_HEIGHT (codegen's rules, over f alone)."""
    count = uses([f])
    chosen, height = [], {}
    for node in dag.postorder(f):
        if dag.is_leaf(node) or node is f:
            height[node] = 0
            continue
        if count.get(node, 0) >= 2 and worth_naming(node, count):
            chosen.append(node)
            height[node] = 0
            continue
        height[node] = 1 + max((height[k] for k in dag.children(node)), default=0)
        if height[node] > MAX_HEIGHT:
            chosen.append(node)
            height[node] = 0
    return chosen


LONG = 160             # characters of f beyond which its derivation is written over names


def owners(walk, named):
    """node -> the set of groups it belongs to: a named node (and f) owns its own group; an
    unnamed node belongs to the groups of the visits that gave it its adjoint."""
    owner = {}
    for v in walk.visits:
        mine = {v.node} if v.node in named or v.node is walk.f else owner.get(v.node, set())
        owner[v.node] = mine
        for c in v.pulled:
            if c.child not in named:
                owner.setdefault(c.child, set()).update(mine)
    return owner


def closed(walk, named):
    """named, with every unnamed node that belongs to two groups added (repeated until no such
    node is left: naming one makes a new group)."""
    named = set(named)
    wanted = set(walk.variables)
    while True:
        shared = [n for n, groups in owners(walk, named).items()
                  if len(groups) > 1 and n not in named and n not in wanted]
        if not shared:
            return named
        named.update(shared)


def pre_activations(walk):
    """The arguments of elementwise functions that pass their adjoint on to two or more
    children (a = W@x + U@h + b inside sigmoid(a)): named, their adjoint grad_a is written once
    instead of inside every weight's share (as the textbooks write delta = grad_s*s*(1 - s))."""
    args = {v.node.args[1] for v in walk.visits if isinstance(v.node, Elementwise)}
    return {v.node for v in walk.visits if v.node in args and len(v.pulled) >= 2}


def name_nodes(f, walk, inputs):
    """node -> identifier for the named intermediates, in evaluation order; {} when nothing
    needs a name (f has no repeated or deep subexpression and is short: the derivation is then
    written out in full). The names are codegen's (schedule of the same walk), plus a name for
    every node that would receive shares from two groups."""
    if not forward_names(f, walk.variables, inputs) and len(to_text(f)) <= LONG:
        return {}
    sched = schedule(f, walk, inputs)
    input_set = set(inputs)
    chosen = {n: name for n, name in sched.names.items()
              if n is not f and n not in input_set and not isinstance(n, ADJOINTS)
              and not dag.is_leaf(n)}
    named = closed(walk, set(chosen) | pre_activations(walk))
    names = dict(sched.names)
    wish = Wishes(names)
    out = {}
    for node in dag.postorder(f):
        if node in named and node is not f and node not in input_set:
            if node not in names:
                base = names[node.arg] + "T" if isinstance(node, sp.Transpose) and \
                    node.arg in names else wish(node)
                names[node] = sched.allocator.fresh(base)
            out[node] = names[node]
    return out


@dataclass
class NamedForm:
    """The derivation over names: rows (data) and the symbols they are written with."""
    rows: list
    symbols: dict            # name -> symbol (forward names and adjoints)
    definitions: list        # [(symbol, expression over earlier names)] in evaluation order
    value: object            # f over the names
    results: dict            # variable name -> its gradient over the names


class NamedDerivation:
    """Builds the NamedForm of a gradient from its walk (see the module docstring)."""

    def __init__(self, f, walk, names):
        self.f, self.walk, self.names = f, walk, names
        self.symbols = {}
        self.print_names = {}
        for node, name in names.items():
            self.symbols[name] = symbol_like(node, name)
            self.print_names[node] = name
        wanted = set(walk.variables)
        named = set(names) | wanted
        self.program = backward_statements(walk, lambda child, exprs, n_uses: child in named)
        for node in named:
            name = names.get(node, getattr(node, "name", None))
            self.print_names[adjoint_placeholder(node)] = f"grad_{name}"
            self.symbols[f"grad_{name}"] = symbol_like(node, f"grad_{name}")
        self._memo = {}
        self.cited = set()
        self.has_differential = differential_detector()

    def symbolic(self, e, root_kept=False):
        """e with every named node (forward name or named adjoint) written as its symbol."""
        return over_names(e, self.print_names, self.symbols, self._memo, root_kept)

    def differential(self, node):
        sym = self.symbolic(node)
        return Differential(sym) if ops.is_matrix(sym) else ScalarDifferential(sym)

    def build(self):
        rows = []
        definitions = []
        for node, name in self.names.items():
            sym = self.symbols[name]
            expr = self.symbolic(node, root_kept=True)
            definitions.append((sym, expr))
            rows.append(Row(sym, expr, note=Note("definition", describe(shape_of(node))),
                            role="definition"))
        value = self.symbolic(self.f, root_kept=True)
        L = sp.Symbol("f")
        rows.append(Row(L, value, note=Note("the function, over the names"), role="function"))
        results = {}
        wanted = set(self.walk.variables)
        owner = {n: next(iter(g)) for n, g in owners(self.walk, set(self.names)).items()
                 if n not in wanted}
        groups = {}
        for v in self.walk.visits:
            groups.setdefault(owner[v.node], []).append(v)
        position = {o: k for k, o in enumerate(groups)}
        after = {}                 # group position -> the statements complete after it
        for st in self.program.statements:
            after.setdefault(max(position[owner[v.node]] for v in st.visits), []).append(st)
        # an adjoint whose shares all come from one group is written by its name in that
        # group's identification (tr(grad_c.T@dc)) and read off on the next line
        self.single = {st.target.arg for st in self.program.statements
                       if len({owner[v.node] for v in st.visits}) == 1}
        memo = {}
        for k, (o, group) in enumerate(groups.items()):
            rows += self.group_rows(o, group, L)
            for st in after.get(k, ()):
                target = self.symbols[self.print_names[st.target]]
                expr = simplify(self.symbolic(st.expr), memo)
                node = st.target.arg
                sources = unique_names([self.owner_name(owner[v.node]) for v in st.visits])
                what = "gradient" if node in wanted else "adjoint"
                note = Note(f"read off the {what}") if len(sources) == 1 else \
                    Note(f"read off the {what}, the shares from", ", ".join(sources))
                rows.append(Row(target, expr, role="read off", note=note, of=node))
                if node in wanted:
                    results[node.name] = expr
        for x in self.walk.variables:
            results.setdefault(x.name, ops.zero_like(x))
        return NamedForm(rows, dict(self.symbols), definitions, value, results)

    def cite(self, words, rules):
        """A Note naming the rules; each identity is written out the first time only."""
        new = [r.identity for r in rules if r.identity not in self.cited]
        self.cited.update(new)
        return Note(words, "; ".join(new))

    def owner_name(self, owner):
        return "f" if owner is self.f else self.print_names[owner]

    def symbol_text(self, node):
        return self.print_names.get(node) or getattr(node, "name", "?")

    def group_rows(self, owner, group, L):
        """dN = ..., then the share of dL through N, identified over the named children."""
        rows = []
        expansion = self.symbolic(composed(group, self.has_differential))
        rules = unique_rules([r for v in group for r in (v.rule, v.derivative) if r is not None])
        note = self.cite(", ".join(r.name for r in rules), rules)
        if owner is self.f:
            left = ScalarDifferential(L)
            rows.append(Row(left, expansion, note=note, role="differential"))
        else:
            rows.append(Row(self.differential(owner), expansion, note=note, role="differential"))
            left = share(self.adjoint_symbol(owner), self.differential(owner))     # the share of df through N
        terms = [identified_term(self.symbolic(child), self.adjoint_symbol(child)
                                 if child in self.single else self.symbolic(expr))
                 for child, expr in self.shares(group).items()]
        if terms:
            pulls = unique_rules([r for v in group for r in v.pull_rules if r.name != "linearity"])
            identified = terms[0] if len(terms) == 1 else sp.Add(*terms, evaluate=False)
            rows.append(Row(left, identified, role="differential", continued=owner is self.f,
                            note=self.cite("identification (" + ", ".join(r.name for r in pulls)
                                           + ")", pulls)))
        return rows

    def adjoint_symbol(self, node):
        return self.symbols[self.print_names[adjoint_placeholder(node)]]

    def shares(self, group):
        """child -> the sum of the shares this group sends it, over the group owner's adjoint."""
        if not hasattr(self, "_sent"):           # visit -> [(child, share)], made once
            self._sent = {}
            for st in self.program.statements:
                for expr, visit in st.parts:
                    self._sent.setdefault(id(visit), []).append((st.target.arg, expr))
        out = {}
        for v in group:
            for child, expr in self._sent.get(id(v), ()):
                out[child] = ops.add(out[child], expr) if child in out else expr
        return out


def share(G, dN):
    """tr(G.T@dN) for a matrix, G*dN for a scalar; a sum is kept a sum of shares."""
    parts = list(dN.args) if isinstance(dN, (sp.MatAdd, sp.Add)) else [dN]
    if len(parts) > 1:
        return sp.Add(*[inner_or_product(G, p) for p in parts], evaluate=False)
    return inner_or_product(G, dN)


def inner_or_product(G, dN):
    if ops.is_matrix(dN) and tuple(dN.shape) != (1, 1):
        return inner(G, dN)
    G = ops.as_scalar_if_1x1(G)
    dN = ops.as_scalar_if_1x1(dN)
    return sp.Mul(G, dN, evaluate=False)


def identified_term(child, G):
    """tr(G.T@dC), or G*dC for a scalar child, G kept whole."""
    dC = Differential(child) if ops.is_matrix(child) else ScalarDifferential(child)
    if ops.is_matrix(child) and tuple(child.shape) != (1, 1):
        if not ops.is_matrix(G):
            G = ops.scale(G, sp.OneMatrix(*child.shape))
        if child.shape[1] == 1:
            from ..core.nodes import AsScalar
            return AsScalar(sp.MatMul(sp.Transpose(G), dC))
        return sp.Trace(sp.MatMul(sp.Transpose(G), dC))
    return sp.Mul(ops.as_scalar_if_1x1(G), ops.as_scalar_if_1x1(dC), evaluate=False)


def symbol_like(node, name):
    if ops.is_matrix(node):
        return ops.matrix_symbol(name, *node.shape)
    return sp.Symbol(name, real=True)


def unique_names(names):
    out = []
    for n in names:
        if n not in out:
            out.append(n)
    return out


def named_form(f, walk, inputs):
    """The NamedForm of the gradient whose walk is given, or None when nothing needs a name."""
    names = name_nodes(f, walk, inputs)
    if not names:
        return None
    return NamedDerivation(f, walk, names).build()


SHORT = 300            # characters up to which a result is also printed written out in full


def note_text(note):
    return f"{note.rule}: {note.identity}" if note.identity else note.rule


def expanded_results(d):
    """(name, the simplified gradient written out) for the results short enough to print."""
    out, sizes = [], {}
    for x in d.variables:
        G = d.results[x.name]
        if tree_size(G, SHORT, sizes) <= SHORT:   # never print a DAG that unfolds too far
            text = to_text(G)
            if len(text) <= SHORT:
                out.append((x.name, text))
    return out


def tree_size(e, cap, size):
    """The number of nodes e has written out as a tree, counted over the DAG (capped); size is
    a memo shared by the calls of one derivation."""
    for n in dag.postorder(e, lambda m: () if m in size else dag.children(m)):
        if n not in size:
            size[n] = min(cap + 1, 1 + sum(size[k] for k in dag.children(n)))
    return size[e]


def named_text(form, d, route="gradient"):
    """The derivation over names in plain text: definitions, then one line per row."""
    from .derivation import ROUTES
    lines = [ROUTES[route], "Named intermediates (the names the generated code uses):"]
    definitions = [r for r in form.rows if r.role in ("definition", "function")]
    width = max(len(to_text(r.lhs)) for r in definitions)
    for row in definitions:
        left = f"  {to_text(row.lhs):>{width}} = {to_text(row.rhs)}"
        lines.append(f"{left:<50}  [{row.note.identity}]" if row.note.identity else left)
    lines.append("")
    body = [r for r in form.rows if r.role not in ("definition", "function")]
    width = min(24, max((len(to_text(r.lhs)) for r in body if not r.continued), default=0))
    for row in body:
        lhs = "" if row.continued else to_text(row.lhs)
        lines.append(f"{lhs:>{width}} = {to_text(row.rhs)}   [{note_text(row.note)}]")
    full = dict(expanded_results(d))
    for x in d.variables:
        if route == "jacobian":
            lines.append(f"=> df = tr(J@d{x.name}) with J = grad_{x.name}.T   [read off the "
                         f"Jacobian]")
            lines.append(f"=> df/d{x.name} = J.T = {to_text(form.results[x.name])}")
            continue
        lines.append(f"=> df/d{x.name} = {to_text(form.results[x.name])}")
        if x.name in full and full[x.name] != to_text(form.results[x.name]):
            lines.append(" " * (len(x.name) + 6) + f" = {full[x.name]}   [written out, simplified]")
    return "\n".join(lines)


def named_latex(form, d, notes="below", route="gradient"):
    """The derivation over names as one aligned block (standard amsmath only). A note that
    only repeats rule names already cited (its identities were written out before) is left
    out: a long derivation cites the same few rules hundreds of times."""
    from ..printing.latex import render_aligned
    return render_aligned(named_latex_rows(form, d, route), notes)


def named_latex_rows(form, d, route="gradient"):
    """The rows of named_latex, (lhs, rhs, note) as printing.latex.render_aligned takes them."""
    from ..printing.latex import Words, latex, name_latex
    from .derivation import route_rows

    def side(e):
        return name_latex(e.name) if isinstance(e, sp.Symbol) else latex(e)
    seen = set()

    def note(n):
        if isinstance(n, Note) and not n.identity:
            if n.rule in seen:
                return ""
            seen.add(n.rule)
        return n
    rows = route_rows(route) + [
            (None, Words("Named intermediates (the names the generated code uses):"), "")]
    for row in form.rows:
        if row.role == "definition":           # the shape on the line, as a network's is
            shape = (rf"\qquad [{latex(row.lhs.shape[0])} \times {latex(row.lhs.shape[1])}]"
                     if ops.is_matrix(row.lhs) else r"\qquad \text{scalar}")
            rows.append((side(row.lhs), latex(row.rhs) + shape, ""))
        elif row.role == "function":
            rows.append((side(row.lhs), row.rhs, row.note))
    for row in form.rows:
        if row.role not in ("definition", "function"):
            rows.append(("" if row.continued else side(row.lhs), row.rhs, note(row.note)))
    full = dict(expanded_results(d))
    for x in d.variables:
        if route == "jacobian":
            rows.append(("J", ops.transpose(form.results[x.name]),
                         Note("read off the Jacobian", f"df = tr(J@d{x.name})  =>  J")))
        rows.append((rf"\frac{{\partial f}}{{\partial {latex(x)}}}", form.results[x.name],
                     Note("the gradient, over the names" if route == "gradient" else
                          "the gradient is the transposed Jacobian, J.T")))
        if x.name in full and full[x.name] != to_text(form.results[x.name]):
            rows.append(("", d.results[x.name], Note("written out, simplified")))
    return rows
