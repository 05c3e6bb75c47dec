"""matcalc: symbolic matrix calculus by differential identification.

    import matcalc as mc
    f = mc.parse("x.T @ A @ x", shapes={"x": ("n",), "A": ("n", "n")})
    d = mc.grad(f, "x")
    mc.to_text(d.result)        # '(A + A.T)@x'
    print(d.latex())            # the derivation, df = ... to the gradient
    mc.jacobian(g, "x"), mc.hessian(f, "x"), mc.hvp(f, "X")    # Derivations too
    from matcalc import nn      # layered networks and their backprop derivation
"""
from .build import (det, diag, exp, eye, inv, log, logdet, logsumexp, matrix, norm, ones, relu,
                    scalar, sigmoid, softmax, softplus, sqrt, step, tanh, tr, vector)
from .build import abs_ as abs  # noqa: A001
from .build import sum_ as sum  # noqa: A001
from .build import cos, sin, sign  # noqa: F401
from .derivation import Derivation, Step
from .errors import (MatcalcError, NotDifferentiableError, ParseError, ShapeError,
                     UnknownNameError)
from .evaluate import dimension_sizes, evaluate
from .grad import grad
from .jacobian import hessian, hvp, jacobian
from .parse import parse
from .text import to_text

__version__ = "0.1.0"

__all__ = [
    "parse", "grad", "jacobian", "hessian", "hvp", "to_text", "evaluate", "dimension_sizes", "Derivation", "Step",
    "MatcalcError", "ParseError", "ShapeError", "UnknownNameError", "NotDifferentiableError",
    "matrix", "vector", "scalar", "tr", "det", "logdet", "inv", "diag", "eye", "ones", "norm",
    "sum", "exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "sqrt", "abs",
    "step", "sign", "softmax", "logsumexp",
]
