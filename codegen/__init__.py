"""codegen: the public import name of matcalc's code generation (matcalc.codegen).

    import codegen
    fn = codegen.compile(mc.parse(text, shapes), wrt=["w"])    # fn(**arrays) -> (value, grads)
    src = codegen.numpy_source(net, name="warmup")            # the module source
"""
from matcalc.codegen import compile, emit_forward_backward, numpy_source  # noqa: A004

__all__ = ["numpy_source", "compile", "emit_forward_backward"]
