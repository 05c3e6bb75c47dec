"""Mutation check: every rule of every table is broken in turn, and its test must notice.

A rule nobody's test can kill is not tested. For each rule of the differential table, the
function registry, the transpose table and the vec table, the rule is replaced in its table by a
mutant -- its result negated, doubled, or with a term of a sum dropped (a rule whose result is
zero is shifted by one instead) -- and the numeric check of rule_lab.py, which goes through the
engine's own lookup, must fail. `test_mutation_score` reports the score; every mutant must die.
"""
import dataclasses

import pytest
import sympy as sp

from matcalc.calculus import differentials, transpose, vec_rules
from matcalc.core import functions, ops
from matcalc.core.rules import Rule

from rule_lab import (DIFFERENTIAL_SAMPLES, LINEAR_SAMPLES, VEC_SAMPLES, differential_error,
                      differential_sample, function_sample, transpose_error, vec_error)

TOL = 1e-6


def mutate_value(e, how):
    """The value of a rule made wrong -- negated, doubled, a term of a sum dropped, or (for a
    zero) shifted by one -- or None when the mutation does not change it."""
    if how == "negate":
        new = ops.neg(e) if ops.is_matrix(e) else -e
    elif how == "double":
        new = ops.scale(2, e)
    elif how == "drop":
        terms = list(e.args) if isinstance(e, (sp.MatAdd, sp.Add)) else None
        new = ops.add(*terms[:-1]) if terms else None
    else:
        new = ops.add(e, 1) if ops.is_zero(e) else None
    return None if new is None or new == e else new


MUTATIONS = ("negate", "double", "drop", "shift")


def mutant(rule, how, kind):
    """A Rule like `rule` whose results are mutated. kind: "value" (a differential or f'),
    "G" (a transpose rule's [(G', dE')]) or "L" (a vec rule's [(child, local Jacobian)])."""
    def changed(old, new):
        if new is None:
            return old
        result.applied = True
        return new

    def result(*args):
        out = rule.function(*args)
        if kind == "G":
            return [(changed(G, mutate_value(G, how)), E) for G, E in out]
        if kind == "L":
            return [(child, changed(L, mutate_value(L if L is not None else sp.Integer(1), how)))
                    for child, L in out]
        return changed(out, mutate_value(out, how))

    result.applied = False
    result.__name__ = rule.function.__name__
    result.__doc__ = rule.function.__doc__
    return Rule(rule.node_type, rule.name, result)


def cases():
    out = []
    for type_name in sorted(DIFFERENTIAL_SAMPLES):
        for how in MUTATIONS:
            out.append(("differential", type_name, how))
    for record in sorted(functions.FUNCTIONS.values(), key=lambda r: r.name):
        for how in MUTATIONS:
            out.append(("registry", record.name, how))
    for type_name in sorted(LINEAR_SAMPLES):
        for how in MUTATIONS:
            out.append(("transpose", type_name, how))
    for type_name in sorted(VEC_SAMPLES):
        for how in MUTATIONS:
            out.append(("vec", type_name, how))
    return out


class Patched:
    """Install a mutant in its table for the duration of a with-block."""

    def __init__(self, table_kind, key, how):
        self.kind, self.key, self.how = table_kind, key, how

    def __enter__(self):
        if self.kind == "registry":
            record = functions.FUNCTIONS[self.key]
            self.saved = record
            new = dataclasses.replace(record, rule=mutant(record.rule, self.how, "value"))
            self._install(record, new)
            return new.rule
        table = {"differential": differentials.STRUCTURAL, "transpose": transpose.RULES,
                 "vec": vec_rules.RULES}[self.kind]
        self.table = table
        self.types = [t for t in table if t.__name__ == self.key]
        self.saved = {t: table[t] for t in self.types}
        kind = {"differential": "value", "transpose": "G", "vec": "L"}[self.kind]
        for t in self.types:
            table[t] = mutant(self.saved[t], self.how, kind)
        return table[self.types[0]]

    def _install(self, old, new):
        functions.FUNCTIONS[old.name] = new
        for t, r in list(functions.BY_TYPE.items()):
            if r is old:
                functions.BY_TYPE[t] = new
        functions.BY_NOTATION[old.notation] = [new if r is old else r
                                               for r in functions.BY_NOTATION[old.notation]]

    def __exit__(self, *exc):
        if self.kind == "registry":
            self._install(functions.FUNCTIONS[self.key], self.saved)
        else:
            self.table.update(self.saved)


def error_of(kind, key):
    if kind == "differential":
        return differential_error(differential_sample(key))
    if kind == "registry":
        record = functions.FUNCTIONS[key]
        errors = [differential_error(function_sample(record), record.domain)]
        if record.kind == "elementwise":
            errors.append(differential_error(function_sample(record, scalar=True), record.domain))
        return max(errors)
    if kind == "transpose":
        return transpose_error(key)
    return vec_error(key)[0]


def killed(kind, key, how):
    """'killed', 'survived' or 'not applicable' (the mutation leaves the sample's result as is)."""
    with Patched(kind, key, how) as rule:
        try:
            error = error_of(kind, key)
        except Exception:                           # a mutant that breaks the engine is caught
            error = float("inf")
    if not rule.function.applied:
        return "not applicable"
    if error != error:                              # NaN: the check noticed
        return "killed"
    return "killed" if error > TOL else "survived"


RESULTS = {}


@pytest.mark.parametrize("kind, key, how", cases(), ids=lambda v: str(v))
def test_mutant_is_killed(kind, key, how):
    outcome = killed(kind, key, how)
    RESULTS[(kind, key, how)] = outcome
    assert outcome != "survived", f"{how} of the {kind} rule for {key} passes every check"


def test_every_rule_has_a_live_mutant():
    """Each rule is actually mutated by at least one of the mutations (none is untestable)."""
    by_rule = {}
    for (kind, key, how), outcome in RESULTS.items():
        by_rule.setdefault((kind, key), []).append(outcome)
    for rule, outcomes in by_rule.items():
        assert "killed" in outcomes, f"no mutation of {rule} was applicable"


# ---- the simplifier's rewrites and the facts of assumptions ----------------------------------------
# Each rewrite (calculus/simplify.py) and each fact (calculus/assumptions.py) is broken in turn --
# its result negated where it applies -- and the numeric check of a derivation that uses it must
# fail: a rewrite that changed the value would otherwise print a wrong human form.
from matcalc.calculus import assumptions, simplify  # noqa: E402

SOFTMAX_CE = ("-sum(y*log(softmax(z)))", {"z": ("n",), "y": ("n",)}, "z")
SIMPLIFY_SAMPLES = {
    # rewrite -> (kind, text, shapes, wrt, assume)
    "inner_product_sum": ("grad", *SOFTMAX_CE, None),
    "transposed_product": ("hvp", "logdet(X)", {"X": ("n", "n")}, "X", None),
    "symmetric_inverse": ("grad", "logdet(X.T@X)", {"X": ("n", 2)}, "X", None),
    "flip_transposed_sum": ("grad", "(x.T@A.T@A@x)/(x.T@B.T@B@x)",
                            {"x": ("n",), "A": ("p", "n"), "B": ("q", "n")}, "x", None),
}
FACT_SAMPLES = {
    "entries sum to 1": ("grad", *SOFTMAX_CE, {"y": "onehot"}),
    "entries are 0 or 1": ("grad", "sum(y**2*z)", {"z": ("n",), "y": ("n",)}, "z", {"y": "onehot"}),
    "nonnegative (abs)": ("grad", "sum(abs(y)*z)", {"z": ("n",), "y": ("n",)}, "z", {"y": "simplex"}),
    "nonnegative (relu)": ("grad", "sum(relu(y)*z)", {"z": ("n",), "y": ("n",)}, "z",
                           {"y": "onehot"}),
}


def _derive_sample(kind, text, shapes, wrt, assume):
    import matcalc as mc
    f = mc.parse(text, shapes)
    how = {"grad": mc.grad, "hvp": mc.hvp}[kind]
    return how(f, wrt, assume=assume)


def _negated_where_applied(function):
    """function, with its result negated whenever it rewrites (returns something new)."""
    def mutant(e, *rest):
        out = function(e, *rest)
        if out is None or out is e:
            return out
        mutant.applied = True
        return ops.neg(out) if ops.is_matrix(out) else -out
    mutant.applied = False
    mutant.__doc__ = function.__doc__
    return mutant


@pytest.mark.parametrize("name", sorted(SIMPLIFY_SAMPLES))
def test_simplify_rewrite_mutant_is_killed(name, monkeypatch):
    mutant = _negated_where_applied(getattr(simplify, name))
    monkeypatch.setattr(simplify, name, mutant)
    d = _derive_sample(*SIMPLIFY_SAMPLES[name])
    assert mutant.applied, f"the sample of {name} does not use it"
    assert not d.check().ok, f"negating {name} passes the check"


@pytest.mark.parametrize("name", sorted(FACT_SAMPLES))
def test_assumption_fact_mutant_is_killed(name, monkeypatch):
    fact = assumptions.FACTS[name]
    mutant = _negated_where_applied(fact.function)
    monkeypatch.setitem(assumptions.FACTS, name, dataclasses.replace(fact, function=mutant))
    d = _derive_sample(*FACT_SAMPLES[name])
    assert mutant.applied, f"the sample of {name} does not use it"
    assert not d.check().ok, f"negating the fact {name} passes the check"


def test_every_fact_and_rewrite_has_a_sample():
    assert set(FACT_SAMPLES) == set(assumptions.FACTS)
