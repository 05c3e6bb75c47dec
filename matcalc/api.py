"""The public API of matcalc, loaded on first use by matcalc/__init__.py (`mc.grad`, ...).

Importing it imports SymPy and NumPy (about 0.4 s); `import matcalc` alone does not, so that
`matcalc --version` and `python -m matcalc --version` start at once.
"""
from .audit.backward import check_backward
from .derive.derivation import Derivation, Step
from .derive.gradient import grad
from .derive.second_order import JacobianError, hessian, hvp, jacobian
from .errors import (MatcalcError, NotDifferentiableError, ParseError, ShapeError,
                     UnknownNameError)
from .evaluate import dimension_sizes, evaluate
from .notation.build import *  # noqa: F401,F403  (matrix, vector, scalar, tr, tanh, ...)
from .notation.build import __all__ as _builders
from .notation.parse import parse
from .printing.latex import latex
from .printing.text import to_text
from . import sympy_printing  # noqa: F401  (SymPy's printing hooks on matcalc's nodes)


__all__ = ["parse", "grad", "jacobian", "hessian", "hvp", "to_text", "latex", "evaluate",
           "dimension_sizes", "Derivation", "Step", "MatcalcError", "ParseError", "ShapeError",
           "UnknownNameError", "NotDifferentiableError", "JacobianError", "check_backward"] + list(_builders)
