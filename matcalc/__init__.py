"""matcalc (work in progress init)"""
from .notation.parse import parse
from .printing.text import to_text
from .evaluate import evaluate, dimension_sizes
from .derive.gradient import grad
from .derive.second_order import jacobian, hessian, hvp
from .errors import MatcalcError
