"""Rule tables: small named functions keyed by exact node type, each citing its identity.

Every table of matcalc -- the differential rules (calculus/differentials.py and the records of
core/functions.py), the transpose rules of identification (calculus/transpose.py), the rules of
identification through vec (calculus/vec_rules.py) -- holds `Rule`s. A rule's name appears in
derivations; the first line of its docstring is the identity it implements, in the notation,
and is what a derivation cites. Lookup is by exact type, so no rule is chosen silently through
the MRO; a miss is an error that names the node and lists what the table knows.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    node_type: type
    name: str            # "product rule"
    function: object     # the rule itself, named d_<node>, pull_<op>, vec_<op>, ...

    @property
    def identity(self):
        """The first line of the rule's docstring: the identity it implements."""
        return (self.function.__doc__ or "").strip().splitlines()[0]

    def identity_at(self, node):
        """The identity as it applies at node: a rule may narrow its citation with a function
        `narrowed(node)` set on it (the power rule without its dp term when p is a number)."""
        narrowed = getattr(self.function, "narrowed", None)
        return (narrowed(node) if narrowed is not None and node is not None else None) or self.identity

    @property
    def source(self):
        """The rest of the docstring: derivation notes and sources, if any."""
        lines = (self.function.__doc__ or "").strip().splitlines()[1:]
        return "\n".join(line.strip() for line in lines).strip()

    def __call__(self, *args):
        return self.function(*args)


class RuleTable(dict):
    """node type -> Rule."""

    def __init__(self, what):
        super().__init__()
        self.what = what       # "differential rule", for the error of a miss

    def rule(self, *node_types, name):
        """Decorator: register a function as the rule for these exact node types."""
        def register(function):
            for t in node_types:
                if t in self:
                    raise AssertionError(f"two {self.what}s for {t.__name__}")
                self[t] = Rule(t, name, function)
            return function
        return register

    def rules(self):
        """The distinct rules, in registration order."""
        seen = []
        for r in self.values():
            if all(r.function is not s.function for s in seen):
                seen.append(r)
        return seen

    def known(self):
        return ", ".join(sorted({t.__name__ for t in self}))
