"""The structural functions of the notation: what the parser calls for names outside the registry.

The function registry (core/functions.py) holds the functions with a derivative rule of their
own (exp, softmax, logdet, ...). The names here build structural operations, whose rules are
per-operation tables in calculus/: the trace, the inverse, diag, and the matcalc extensions for
matrix Jacobians and long products (kron, vec, commutation, matrix_power), and concatenation
(concat, hconcat). `eye`, `ones` and
`commutation` take dimensions rather than expressions.

name -> (constructor, number of arguments); dimension functions -> (constructor, min, max).
"""
from ..core import ops
from ..core.blocks import concat, hconcat
from ..core.vec import commutation, kron, vec
from ..core.windows import blockargmax, blockmax, col2im, im2col

STRUCTURAL = {
    "tr": (ops.trace, 1),
    "inv": (ops.inv, 1),
    "diag": (ops.diag, 1),
    "vec": (vec, 1),
    "kron": (kron, 2),
    "matrix_power": (ops.matrix_power, 2),
    "im2col": (im2col, 10),
    "col2im": (col2im, 11),
    "blockmax": (blockmax, 2),
    "blockargmax": (blockargmax, 2),
    "concat": (concat, 2),
    "hconcat": (hconcat, 2),
}

DIMENSION_FUNCTIONS = {
    "eye": (ops.eye, 1, 1),
    "ones": (ops.ones, 1, 2),
    "commutation": (commutation, 2, 2),
}
