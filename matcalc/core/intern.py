"""Hash-consing: structurally equal nodes are one object.

SymPy compares expressions structurally, recursively: two equal expressions built separately
are compared level by level down to where they share objects. For a 1000-layer network that is
a 1000-deep recursion inside a dictionary lookup. matcalc builds every node through `canonical`
(ops, the registry, the node classes, rebuild), which returns the node already built for the
same type and the same (already canonical) arguments, if there is one. Equal subexpressions are
then the same object, so equality stops at the first level (Python compares identical objects
without recursing) and memo tables keyed by nodes stay linear.

The table holds its nodes weakly: an expression no one refers to any more leaves it. Objects
that cannot be weakly referenced (SymPy's own Add, Mul, Symbol, which SymPy caches itself) are
returned as they are.
"""
import atexit
import weakref

_TABLE = weakref.WeakValueDictionary()
atexit.register(_TABLE.clear)      # before the interpreter tears SymPy down


def canonical(node):
    """The one object equal to `node` (node itself the first time)."""
    try:
        key = (type(node), node.args)
        hit = _TABLE.get(key)
        if hit is not None:
            return hit
        _TABLE[key] = node
    except TypeError:          # not weakly referenceable: SymPy caches these itself
        pass
    return node
