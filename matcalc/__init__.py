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

__version__ = "0.2.0"

__all__ = ["parse", "grad", "jacobian", "hessian", "hvp", "to_text", "latex", "evaluate",
           "dimension_sizes", "Derivation", "Step", "MatcalcError", "ParseError", "ShapeError",
           "UnknownNameError", "NotDifferentiableError", "JacobianError", "check_backward"] + list(_builders)
