"""Every row of the rule tables is checked numerically, parametrised over the tables themselves,
so a new row without a sample fails here (the samples and checks are in rule_lab.py):

* differential rules of the structural operations: dN with dX := V against d/dt N(X + tV);
* transpose rules of identification, the dot-product test: tr(G.T @ E(V)) = sum tr(G_C.T @ V);
* vec rules (local Jacobians): J @ vec(V) against vec(E(V)), and each rule is used by its sample;
* the identity each rule states is what it builds, applied to the placeholders of its docstring.

The function registry's records are checked in test_registry.py.
"""
import pytest
import sympy as sp

import matcalc as mc
from matcalc.calculus import differentials, transpose, vec_rules
from matcalc.core import ops
from matcalc.core.nodes import Differential, ScalarDifferential

from rule_lab import (DIFFERENTIAL_SAMPLES, LINEAR_SAMPLES, VEC_SAMPLES, contains_type,
                      differential_error, differential_sample, transpose_error, vec_error, vec_samples)

TOL = 1e-6


def test_every_differential_rule_has_a_sample():
    assert {t.__name__ for t in differentials.STRUCTURAL} == set(DIFFERENTIAL_SAMPLES)


@pytest.mark.parametrize("type_name", sorted(DIFFERENTIAL_SAMPLES))
def test_differential_rule_matches_finite_differences(type_name):
    node = differential_sample(type_name)
    assert type(node).__name__ == type_name
    assert differential_error(node) < TOL


def test_every_transpose_rule_has_a_sample():
    assert {t.__name__ for t in transpose.RULES} == set(LINEAR_SAMPLES)


@pytest.mark.parametrize("type_name", sorted(LINEAR_SAMPLES))
def test_transpose_rule_dot_product(type_name):
    assert transpose_error(type_name) < 1e-10


def test_every_vec_rule_has_a_sample():
    assert {t.__name__ for t in vec_rules.RULES} == set(VEC_SAMPLES)


@pytest.mark.parametrize("type_name", sorted(VEC_SAMPLES))
def test_vec_rule_local_jacobian(type_name):
    for x, E in vec_samples(type_name):
        assert contains_type(E, type_name)
    error, used = vec_error(type_name)
    assert error < 1e-10
    assert any(r.node_type.__name__ == type_name for r in used)


# ---- what the rules state is what they build -----------------------------------------------------
DIFFERENTIAL_IDENTITIES = {
    # rule function -> (a node over the docstring's placeholder names, its shapes)
    "d_add": ("A + B", {"A": ("n", "m"), "B": ("n", "m")}),
    "d_matmul": ("A @ B", {"A": ("n", "m"), "B": ("m", "p")}),
    "d_mul": ("a*b", {"a": (), "b": ()}),
    "d_hadamard": ("A * B", {"A": ("n", "m"), "B": ("n", "m")}),
    "d_transpose": ("A.T", {"A": ("n", "m")}),
    "d_inverse": ("inv(A)", {"A": ("n", "n")}),
    "d_trace": ("tr(A)", {"A": ("n", "n")}),
    "d_diag": ("diag(A)", {"A": ("n", "n")}),
    "d_matrix_power": ("X@X@X", {"X": ("n", "n")}),
    "d_as_scalar": ("abs(a.T@b)", {"a": ("n",), "b": ("n",)}),
    "d_im2col": ("im2col(X, 1, 28, 28, 3, 3, 2, 2, 1, 1)", {"X": ("N", 784)}),
    "d_col2im": ("col2im(G, 8, 14, 14, 3, 3, 2, 2, 1, 1, 8)", {"G": (49, 72)}),
    "d_blockmax": ("blockmax(P, 4)", {"P": ("n", 32)}),
    "d_concat": ("concat(A, B)", {"A": ("n", "m"), "B": ("p", "m")}),
}


def placeholder(e):
    return Differential(e) if ops.is_matrix(e) else ScalarDifferential(e)


@pytest.mark.parametrize("function_name", sorted(DIFFERENTIAL_IDENTITIES))
def test_differential_rule_builds_its_identity(function_name):
    text, shapes = DIFFERENTIAL_IDENTITIES[function_name]
    node = mc.parse(text, shapes)
    if function_name == "d_as_scalar":
        node = node.args[0]
    rule = differentials.rule_for(node)
    assert rule.function.__name__ == function_name
    built = mc.to_text(rule(node, placeholder))
    lhs, rhs = rule.identity.split(" = ", 1)
    assert built == rhs, (built, rule.identity)


VEC_IDENTITIES = {
    # op type -> (variable, the differential over the docstring's placeholders, how J is read)
    "MatMul": ("X", "A@dX@B", "vec({E}) = {J}@vec(dX)"),
    "Transpose": ("X", "dX.T", "vec({E}) = {J}@vec(dX)"),
    "HadamardProduct": ("X", "A*dX", "vec({E}) = {J}@vec(dX)"),
    "DiagMatrix": ("v", "diag(dv)", "vec({E}) = {J}@dv"),
    "DiagonalOf": ("M", "diag(dM)", "{E} = {J}@vec(dM)"),
    "Trace": ("M", "tr(dM)", "{E} = {J}@vec(dM)"),
}
VEC_SHAPES = {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "q"), "M": ("k", "k"), "v": ("k",)}


@pytest.mark.parametrize("type_name", sorted(VEC_IDENTITIES))
def test_vec_rule_builds_its_identity(type_name):
    """Applied to the placeholders of its docstring, a vec rule states its own identity."""
    name, text, form = VEC_IDENTITIES[type_name]
    x = mc.parse(name, VEC_SHAPES)
    shapes = dict(VEC_SHAPES, **{"d" + name: VEC_SHAPES[name]})
    if name == "X" and type_name == "HadamardProduct":
        shapes["A"] = VEC_SHAPES["X"]
    E = mc.parse(text, shapes).xreplace({mc.parse("d" + name, shapes): Differential(x)})
    rule = next(r for t, r in vec_rules.RULES.items() if t.__name__ == type_name)
    [(child, J)] = rule.function(E, lambda e: e.has(Differential(x)))
    assert form.format(E=mc.to_text(E), J=mc.to_text(J)) == rule.identity


def test_power_rules_state_the_general_exponent():
    A = mc.parse("A**3", {"A": ("n", "m")})
    assert mc.to_text(differentials.rule_for(A)(A, placeholder)) == "3*A**2*dA"
    assert differentials.rule_for(A).identity == "d(A**p) = p*A**(p - 1)*dA + A**p*log(A)*dp"
    a = mc.parse("a**3", {"a": ()})
    assert mc.to_text(differentials.rule_for(a)(a, placeholder)) == "3*a**2*da"
    assert differentials.rule_for(a).identity == "d(a**p) = p*a**(p - 1)*da + a**p*log(a)*dp"
    Ap = mc.parse("A**p", {"A": ("n", "m"), "p": ()})           # a varying exponent: both terms
    assert mc.to_text(differentials.rule_for(Ap)(Ap, placeholder)) == \
        "p*A**(p - 1)*dA + dp*A**p*log(A)"


def test_every_table_row_names_an_identity():
    for table in (differentials.STRUCTURAL, transpose.RULES, vec_rules.RULES):
        for rule in table.rules():
            assert " = " in rule.identity, (rule.function.__name__, rule.identity)


def test_unknown_node_is_a_clear_error():
    class Strange(sp.Expr):
        pass
    with pytest.raises(mc.NotDifferentiableError, match="no differential rule for Strange"):
        differentials.rule_for(Strange())
