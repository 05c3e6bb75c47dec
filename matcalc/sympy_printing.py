"""matcalc's printers behind SymPy's printing hooks (core/nodes.py: _sympystr, _latex, _pretty,
_numpycode): str(), sympy.latex, sympy.pretty, Jupyter's default display and
sympy.lambdify(..., "numpy") of any matcalc result print its nodes as matcalc does.

SymPy's own NumPyPrinter has no method for three of SymPy's own matrix classes that matcalc
results contain (HadamardPower, Trace, Determinant); for those pass
`printer=LambdifyPrinter` to sympy.lambdify, which prints them (and everything of matcalc's)
as matcalc's NumPy printer does.

The nodes sit at the bottom of the pipeline and cannot import the printers; this module, loaded
with the public API (api.py), hands them over. It prints nothing itself.
"""
from sympy.printing.numpy import NumPyPrinter as SympyNumPyPrinter

from .codegen.numpy_printer import NumpyPrinter
from .core import nodes
from .printing.latex import latex
from .printing.text import to_text


def numpy_expression(e):
    """The NumPy source of one expression (np.exp(X @ w), ...)."""
    return NumpyPrinter().doprint(e)


nodes.PRINTERS.update(text=to_text, latex=latex, numpy=numpy_expression)


class LambdifyPrinter(SympyNumPyPrinter):
    """sympy.lambdify(args, expr, "numpy", printer=LambdifyPrinter): SymPy's NumPy printer, with
    the SymPy matrix classes it lacks printed by matcalc's NumPy printer."""

    def _matcalc(self, e):
        return numpy_expression(e).replace("np.", self._module_format("numpy") + ".")

    _print_HadamardPower = _print_Trace = _print_Determinant = _matcalc
