"""The callable `codegen.compile` returns: generated NumPy code, run, and shown as its source.

`CompiledFunction` calls one function of the executed module (`value_and_grad` for a gradient
or a network, `jacobian` / `hessian` / `hvp` for those Derivations) and keeps the module's
source as `.source` and its functions as attributes (`fn.forward`, `fn.backward`,
`fn.value_and_grad`, `fn.hessian`, ...). In Jupyter it displays as the highlighted source
(printing/display.py); its repr is one line: the entry point, its arguments, what it computes.
It does not generate or execute anything itself: codegen/__init__.py does both.
"""
import inspect

from ..printing import display


class CompiledFunction:
    """fn(**arrays) -> what `entry` returns; `.source` is the module it was generated as."""

    def __init__(self, source, entry, functions, of):
        self.source = source
        self.entry = entry                 # the module function a call runs
        self.of = of                       # what it computes, in the notation
        self.__doc__ = entry.__doc__
        for name, function in functions.items():
            setattr(self, name, function)

    def __call__(self, **arrays):
        return self.entry(**arrays)

    def summary(self):
        """'value_and_grad(X, w, y) of sum(log(1 + exp(X@w))) - y.T@X@w'"""
        return f"{self.entry.__name__}{inspect.signature(self.entry)} of {self.of}"

    def __repr__(self):
        return display.angle_repr("compiled " + self.summary())

    def _repr_html_(self):
        return display.source_html(self.source, "compiled " + display.shorten(self.summary(), 200))

    def _repr_markdown_(self):
        return display.source_markdown(self.source, "compiled " + display.shorten(self.summary(), 200))
