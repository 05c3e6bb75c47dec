"""matcalc's printers behind SymPy's printing hooks (core/nodes.py: _sympystr, _latex, _pretty,
_numpycode): str(), sympy.latex, sympy.pretty, Jupyter's default display and
sympy.lambdify(..., "numpy") of any matcalc result print its nodes as matcalc does.

SymPy's own NumPyPrinter (1.14) has no method for three of SymPy's own matrix classes that
matcalc results contain: HadamardPower, Trace, Determinant. Those nodes are SymPy's, not
matcalc's, so they cannot carry matcalc's hooks; this module gives SymPy's printer the three
methods it lacks (`MISSING` below), each only where SymPy has none, printing through SymPy's own
recursion as its `_print_HadamardProduct` does. That is the one change the fix needs, it adds
and never replaces (a SymPy release that prints these classes itself keeps its own methods),
and plain `sympy.lambdify(args, result, "numpy")` then works on every result. The alternatives
were worse: a `_numpycode` method put on SymPy's expression classes would take precedence over
any printer, SymPy's included; subclasses of the three nodes in matcalc would change the type
every rule table dispatches on. `printer=LambdifyPrinter` still prints them (and everything of
matcalc's) as matcalc's NumPy printer does.

The nodes sit at the bottom of the pipeline and cannot import the printers; this module, loaded
with the public API (api.py), hands them over. It prints nothing itself.
"""
from dataclasses import replace

from sympy import Symbol
from sympy.printing.numpy import NumPyPrinter as SympyNumPyPrinter

from .codegen.backends import BACKENDS
from .codegen.numpy_printer import NumpyPrinter
from .core import nodes
from .printing.latex import latex
from .printing.text import to_text


# one expression stands alone (sympy.lambdify defines no helpers): sigmoid inline, not the
# generated modules' _sigmoid helper
ONE_EXPRESSION = replace(BACKENDS["numpy"], name="numpy, one expression",
                         spellings={"sigmoid": "np.exp(-np.logaddexp(0.0, -{x_}))"})


def numpy_expression(e):
    """The NumPy source of one expression (np.exp(X @ w), ...); a dimension used as a number
    (sum(x)/n) is written by its name."""
    dims = {s: s.name for s in e.free_symbols if isinstance(s, Symbol)}
    return NumpyPrinter(dims=dims, backend=ONE_EXPRESSION).doprint(e)


nodes.PRINTERS.update(text=to_text, latex=latex, numpy=numpy_expression)


def _print_hadamard_power(self, e):
    """A**p, entry by entry: numpy.power(A, p) (A or p may be a scalar; they broadcast)."""
    return f"{self._module_format(self._module + '.power')}({self._print(e.args[0])}, " \
           f"{self._print(e.args[1])})"


def _print_trace(self, e):
    """tr(A): numpy.trace(A)."""
    return f"{self._module_format(self._module + '.trace')}({self._print(e.arg)})"


def _print_determinant(self, e):
    """det(A): numpy.linalg.det(A)."""
    return f"{self._module_format(self._module + '.linalg.det')}({self._print(e.arg)})"


MISSING = {"_print_HadamardPower": _print_hadamard_power, "_print_Trace": _print_trace,
           "_print_Determinant": _print_determinant}
for _name, _method in MISSING.items():
    if not hasattr(SympyNumPyPrinter, _name):       # SymPy's own method, where it has one, wins
        setattr(SympyNumPyPrinter, _name, _method)


class LambdifyPrinter(SympyNumPyPrinter):
    """sympy.lambdify(args, expr, "numpy", printer=LambdifyPrinter): SymPy's NumPy printer, with
    the SymPy matrix classes it lacks printed by matcalc's NumPy printer."""

    def _matcalc(self, e):
        return numpy_expression(e).replace("np.", self._module_format("numpy") + ".")

    _print_HadamardPower = _print_Trace = _print_Determinant = _matcalc
