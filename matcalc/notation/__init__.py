"""The notation: parse (+ other syntaxes: matrixcalculus.py registers \"mc\"), build."""
from . import matrixcalculus  # noqa: F401  (registers syntax="mc")
