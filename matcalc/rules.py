"""Rule tables: small named functions keyed by exact node type, each citing its identity.

Every table of matcalc -- the differential rules (differentials.py), the transpose rules of
identification (identify.py), the Jacobian identification rules (jacobian.py) -- is a
RuleTable. A rule's name appears in derivations; the first line of its docstring is the
identity it implements, in the notation, and is what a derivation cites. Lookup is by exact
type, so no rule is chosen silently through the MRO.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    node_type: type
    name: str            # "product rule"
    function: object     # the rule itself, named d_<node>, pull_<op>, ...

    @property
    def identity(self):
        """The first line of the rule's docstring: the identity it implements."""
        return (self.function.__doc__ or "").strip().splitlines()[0]

    def __call__(self, *args):
        return self.function(*args)


class RuleTable(dict):
    """node type -> Rule."""

    def rule(self, *node_types, name):
        """Decorator: register a function as the rule for these exact node types."""
        def register(function):
            for t in node_types:
                self[t] = Rule(t, name, function)
            return function
        return register
