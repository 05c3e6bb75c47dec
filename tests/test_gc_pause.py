"""The public entry points pause the cyclic collector while they build, and restore it after."""
import gc

import pytest

import codegen
import matcalc as mc
from matcalc.core.gc_pause import without_cyclic_gc


def test_the_collector_is_paused_inside_and_restored_after():
    seen = []

    @without_cyclic_gc
    def inner():
        seen.append(gc.isenabled())

    @without_cyclic_gc
    def outer():
        inner()
        seen.append(gc.isenabled())
    assert gc.isenabled()
    outer()
    assert seen == [False, False] and gc.isenabled()


def test_a_collector_the_user_turned_off_stays_off():
    gc.disable()
    try:
        mc.grad(mc.parse("sum(exp(x))", {"x": ("n",)}), "x")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_inside_restores_the_collector():
    with pytest.raises(mc.MatcalcError):
        mc.parse("tr(X @@ A)", {"X": ("n", "n"), "A": ("n", "n")})
    assert gc.isenabled()
    f = mc.parse("sum(tanh(X @ W))", {"X": ("N", "d"), "W": ("d", "k")})
    codegen.numpy_source(f, wrt=["W"])
    mc.hessian(mc.parse("x.T @ A @ x", {"x": ("n",), "A": ("n", "n")}), "x")
    assert gc.isenabled()
