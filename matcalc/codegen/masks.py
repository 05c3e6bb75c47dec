"""relu's mask read from the activation: step(Z) = step(relu(Z)), so backward needs only A.

relu(Z) > 0 exactly where Z > 0, so wherever the function computes A = relu(Z), the derivative
relu'(Z) = step(Z) may be read as step(A), printed as the mask `(A > 0)`. Generated code then
keeps (and saves for backward) only the activation A, and Z, read by nothing after A is made, is
a dead buffer that relu can overwrite (`A = np.maximum(Z, 0.0, out=Z)`, passes.in_place). The
rewrite is codegen's: a derivation still cites relu'(Z) = step(Z), as the rule states it.
"""
from ..core import dag, functions
from ..core.nodes import Elementwise
from ..core.rebuild import Substitution


def is_relu(node):
    return isinstance(node, Elementwise) and node.name == "relu"


def masks_from_activations(f, exprs):
    """exprs with every step(Z) replaced by step(relu(Z)) where f computes relu(Z)."""
    activations = [node for node in dag.postorder(f) if is_relu(node)]
    if not activations:
        return list(exprs)
    values = {functions.f("step", A.arg): functions.f("step", A) for A in activations}
    substitute = Substitution(values.__contains__)
    return [substitute(e, values) for e in exprs]
