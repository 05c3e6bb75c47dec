"""Deterministic Python identifiers for generated code: names from the maths, suffixes on clashes.

A `Names` allocator hands out identifiers for the values a generated module computes. User
symbols keep the names the parser validated; intermediates get names derived from what they
compute (`Xw`, `Xw_exp`, `h_relu`, `inv_A`); gradients are `grad_<name>`. A clash gets a numeric
suffix (`h_2`), and a name that would be long or unreadable falls back to `t1`, `t2`, ... in
order of allocation. Nothing here is random or depends on set or hash order, so the same
expression always gives byte-identical source.

Only identifiers built from validated symbol names and fixed words ever reach the source:
`is_identifier` is checked on every name handed out.
"""
import keyword
import re

from ..errors import MatcalcError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
HELPERS = {"_mc_bind", "_mc_shape_text", "_mc_like", "_mc_out", "_softmax", "_logsumexp", "_ismax", "_sigmoid"}
FUNCTIONS = {"forward", "backward", "value_and_grad", "jacobian", "hessian", "hvp"}
RESERVED = set(keyword.kwlist) | HELPERS | FUNCTIONS | {"np", "None", "True", "False"}
MAX_DERIVED = 20


def is_identifier(name):
    return bool(IDENTIFIER.match(name)) and not keyword.iskeyword(name)


class Names:
    """Allocates identifiers in call order; `taken` holds every name already in use."""

    def __init__(self, reserved=()):
        self.taken = set(RESERVED) | set(reserved)
        self.counter = 0

    def fresh(self, wish=None):
        """`wish` if free, else wish_2, wish_3, ...; t1, t2, ... when there is no usable wish."""
        if not wish or not is_identifier(wish) or len(wish) > MAX_DERIVED:
            return self.temporary()
        if wish not in self.taken:
            self.taken.add(wish)
            return wish
        k = 2
        while f"{wish}_{k}" in self.taken:
            k += 1
        name = f"{wish}_{k}"
        self.taken.add(name)
        return name

    def temporary(self):
        while True:
            self.counter += 1
            name = f"t{self.counter}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def claim(self, name):
        """A user's own (validated) name: used as is; a reserved or repeated name is an error."""
        if not is_identifier(name):
            raise MatcalcError(f"not a valid identifier: {name!r}")
        if name in self.taken or name.startswith("_mc_"):
            raise MatcalcError(f"the name {name!r} is reserved in generated code; rename the symbol")
        self.taken.add(name)
        return name
