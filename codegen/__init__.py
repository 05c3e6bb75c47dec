"""codegen: NumPy forward/backward modules from matcalc derivations and networks.

    import codegen, matcalc as mc
    f = mc.parse("sum(log(1 + exp(X @ w))) - y.T @ X @ w", {"X": ("N", "d"), "w": ("d",), "y": ("N",)})
    print(codegen.numpy_source(f, wrt=["w"], name="logreg"))   # module source: forward, backward,
    fn = codegen.compile(f, wrt=["w"])                          #   value_and_grad
    value, grads = fn(X=X, w=w, y=y)                            # grads["w"] has w's shape

    net_fn = codegen.compile(net)            # an nn.Sequential: (loss, {"W1": ..., ...})

The generated module imports only NumPy. Its `forward` checks and binds the inputs and returns
(value, saved); `backward(**saved)` returns the gradients; `value_and_grad` does both and returns
the gradients in the caller's shapes and dtypes.

Pipeline: matcalc.reverse.walk -> schedule.py (what backward computes, what gets a name) ->
printer.py (NumPy text) -> emit.py (statements, names, functions) -> this module (the API).
`compile` executes only source produced here, in a fresh namespace.
"""
from matcalc.errors import MatcalcError
from matcalc.grad import resolve, scalar_function

from .derived import derived_module
from .emit import expression_module, network_module

__all__ = ["numpy_source", "compile", "emit_forward_backward"]


def _is_derivation(obj):
    return hasattr(obj, "kind") and hasattr(obj, "variables") and hasattr(obj, "results")


def _is_network(obj):
    return hasattr(obj, "backprop") and callable(obj.backprop)


def numpy_source(expr, wrt=None, name="f"):
    """Source of a NumPy module computing `expr` (a matcalc expression) and its gradients with
    respect to `wrt` (names or symbols), or of an nn.Sequential network's loss and gradients.

    A Derivation of kind jacobian / hessian / hvp gives a module with one function named after
    the kind (derived.py); one of kind gradient, the module for its f and variables."""
    if _is_derivation(expr):
        if expr.kind != "gradient":
            return derived_module(expr, name=None if name == "f" else name)
        expr, wrt = expr.f, [v.name for v in expr.variables] if wrt is None else wrt
    if _is_network(expr):
        return network_module(expr, name=name, wrt=wrt)
    if isinstance(expr, str):
        raise MatcalcError("numpy_source() needs an expression: mc.parse(text, shapes) first")
    f = scalar_function(expr, what="codegen")
    if wrt is None:
        raise MatcalcError("numpy_source() needs wrt: the variables to differentiate by")
    variables, _ = resolve(f, wrt)
    return expression_module(f, variables, name=name)


emit_forward_backward = numpy_source


def compile(expr_or_net, wrt=None, name="f"):  # noqa: A001 - the public name the issue asks for
    """A Python function fn(**arrays) -> (value, {name: gradient}) running generated NumPy code.

    The callable carries the module source as `fn.source` and the module's `forward`,
    `backward` and `value_and_grad` as attributes. For a Derivation of kind jacobian / hessian /
    hvp it is fn(**arrays) -> ndarray (the Jacobian, Hessian or HVP), with `fn.source`.
    """
    if _is_derivation(expr_or_net) and expr_or_net.kind != "gradient":
        kind = expr_or_net.kind
        source = numpy_source(expr_or_net, name=name)
        namespace = {"__name__": f"matcalc_generated_{kind}"}
        exec(builtins_compile(source, f"<matcalc codegen {kind}>", "exec"), namespace)
        function = namespace[kind]

        def derived(**arrays):
            return function(**arrays)

        derived.source = source
        derived.__doc__ = function.__doc__
        setattr(derived, kind, function)
        return derived
    source = numpy_source(expr_or_net, wrt=wrt, name=name)
    namespace = {"__name__": f"matcalc_generated_{name}"}
    exec(builtins_compile(source, f"<matcalc codegen {name}>", "exec"), namespace)
    value_and_grad = namespace["value_and_grad"]

    def fn(**arrays):
        return value_and_grad(**arrays)

    fn.source = source
    fn.forward = namespace["forward"]
    fn.backward = namespace["backward"]
    fn.value_and_grad = value_and_grad
    fn.__doc__ = value_and_grad.__doc__
    return fn


import builtins as _builtins  # noqa: E402

builtins_compile = _builtins.compile
