"""matcalc: symbolic matrix calculus by differential identification.

    import matcalc as mc
    f = mc.parse("x.T @ A @ x", shapes={"x": ("n",), "A": ("n", "n")})
    d = mc.grad(f, "x")
    mc.to_text(d.result)        # '(A + A.T)@x'
    print(d.latex())            # the derivation, df = ... to the gradient
    mc.jacobian(g, "x"), mc.hessian(f, "x"), mc.hvp(f, "X")    # Derivations too
    from matcalc import nn      # layered networks and their backprop derivation
    import codegen              # NumPy code (matcalc.codegen)

The layout (one idea a file): core/ (shapes, nodes, ops, the function registry, DAG walks),
notation/ (parser, builders), calculus/ (rules, the reverse and forward walks, identification,
simplification, the backward program), derive/ (grad, jacobian/hessian/hvp, Derivation, checks),
printing/ (text, LaTeX), nn/ (layers, networks, backprop), codegen/ (statements, passes, NumPy).
"""
import importlib
import importlib.util

__version__ = "0.2.0"


def __getattr__(name):
    """The subpackages and modules (`from matcalc import reference`), and the public API
    (matcalc/api.py), each imported on first use."""
    if name.startswith("__") and name != "__all__":
        raise AttributeError(name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f".{name}", __name__)
    api = importlib.import_module(".api", __name__)
    if not hasattr(api, name):
        raise AttributeError(f"module 'matcalc' has no attribute {name!r}")
    globals().update({n: getattr(api, n) for n in api.__all__})
    globals()["__all__"] = api.__all__
    return getattr(api, name)


def __dir__():
    return sorted(set(globals()) | set(__getattr__("__all__")))
