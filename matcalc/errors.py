"""The errors matcalc raises for bad input.

Every error a user can provoke is a `MatcalcError`; the command line prints its message on one
line and exits with code 2. Internal invariants use `assert`, never these classes.
"""


class MatcalcError(Exception):
    """Base class of every error caused by the user's input."""


class ParseError(MatcalcError):
    """Text outside the notation. Carries the text and the 1-based column of the offence."""

    def __init__(self, message, text=None, column=None):
        self.text = text
        self.column = column
        self.reason = message
        if text is not None and column is not None:
            caret = " " * (column - 1) + "^"
            message = f"{message} at column {column}\n  {text}\n  {caret}"
        super().__init__(message)


class ShapeError(MatcalcError):
    """Operands whose shapes do not fit the operation; the message names both shapes."""


class UnknownNameError(MatcalcError):
    """An undeclared symbol, an unknown function or an unknown dimension, named in the message."""


class NotDifferentiableError(MatcalcError):
    """A node with no differential rule, or a variable that does not occur in the function."""
