"""An independent evaluator of the notation's TEXT: the second opinion matcalc is checked against.

    from matcalc import reference
    reference.evaluate_text("x.T @ A @ x", {"x": ("n",), "A": ("n", "n")}, {"x": x, "A": A})

What it is. `evaluate_text(text, shapes, values, xp=numpy)` reads expression text in the notation
of docs/notation.md with `ast.parse(text, mode="eval")`, walks the tree and computes its value with the
array module `xp` (NumPy, or `autograd.numpy` so that HIPS autograd can differentiate the text as
the user typed it). Shapes are checked symbolically, dimension by dimension, from the declared
shapes, exactly as the notation states them; a shape error or anything outside the notation is a
`NotationError` naming the operation or the construct.

Why it is independent. It imports no other matcalc module: no parser, no ops, no canonical
forms, no evaluator. It shares nothing with the engine except Python's own expression grammar,
whose precedence the notation adopts. A rewrite in matcalc that changes the function therefore
cannot change this reference with it. Every function is written out plainly below, in one table.

What it does not do. It never calls eval, compile or exec. It does not differentiate (autograd
does that through it), simplify, or print. It evaluates each node once per occurrence (no sharing
of repeated subexpressions). Python's parser refuses very deep nesting, and this walk is
recursive: both raise `TooDeep` (a NotationError, "too deep for the reference evaluator") so that
callers can fall back. It does not guard domains: log of a negative entry or a fractional power
of a negative base gives NaN, as NumPy does, and callers decide what to do with it.

Semantics, as docs/notation.md states them:

* Python precedence; `@` matrix product of matrices (a scalar operand is an error);
  `*` and `/` elementwise between equal shapes, or scaling when one side is a scalar
  (`s / A` divides s by every entry); `+ -` between equal shapes, a scalar with anything; and
  one broadcasting rule for `+ - * /`: a 1 x m row with an n x m matrix (either side), applied
  to every row.
* A 1 x 1 matrix counts as a scalar wherever a scalar is allowed (`*`, `/`, `+`, `-`, function
  arguments, the value of the whole text) and stays a 1 x 1 matrix as an operand of `@`; an
  operation of a 1 x 1 matrix with a scalar gives a 1 x 1 matrix.
* `A.T` transposes (the transpose of a scalar is itself); `A ** p` is the elementwise power:
  by a numeric constant expression p, folded here without eval (`2`, `-1`, `(1/3)`, `2**2`),
  or by any operand with the shapes of `*` except the row rule (`x**a` for a scalar a, `a**x`,
  `X**Y`), computed as `xp.power` (NaN for a negative base to a non-integer power).
* The functions of the table `FUNCTIONS` below; dimension arguments (`eye(n)`, `ones(n, m)`,
  `commutation(n, m)`) are declared dimension names or positive integer literals, and
  `matrix_power(A, k)` takes a non-negative integer literal k.
"""
import ast
import math
import re

import numpy


class NotationError(ValueError):
    """Text outside the notation, a shape error, or values that do not fit the declared shapes."""


class TooDeep(NotationError):
    """The text is nested too deeply for Python's parser or for this recursive walk."""

    def __init__(self):
        super().__init__("too deep for the reference evaluator")


# ---- dimensions ---------------------------------------------------------------------------------
# A dimension is a product: (integer factor, sorted tuple of names). "n" is (1, ("n",)), 3 is
# (3, ()), and kron / vec / commutation give products such as n*m = (1, ("m", "n")); concat and
# hconcat give sums, ("+", (n, p)) for n + p.
ONE = (1, ())


def dimension(spec):
    """A declared dimension (a name or a positive integer) as a product."""
    if isinstance(spec, bool):
        raise NotationError(f"bad dimension {spec!r}")
    if isinstance(spec, int):
        if spec <= 0:
            raise NotationError(f"dimensions are positive, got {spec}")
        return (spec, ())
    if isinstance(spec, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", spec):
        return (1, (spec,))
    if isinstance(spec, str) and re.fullmatch(r"[1-9][0-9]*", spec):    # "3" from --shape X=3,3
        return (int(spec), ())
    raise NotationError(f"bad dimension {spec!r}: a name or a positive integer")


def terms_of(d):
    """The products a dimension adds up: (d,) for a product, its terms for a sum."""
    return d[1] if d[0] == "+" else (d,)


def dimension_sum(a, b):
    """n + p, the rows of concat(A, B): ("+", sorted products), equal names merged (n + n is
    2*n); a sum of one product is that product."""
    merged = {}
    for count, names in terms_of(a) + terms_of(b):
        merged[names] = merged.get(names, 0) + count
    terms = tuple(sorted((count, names) for names, count in merged.items()))
    return terms[0] if len(terms) == 1 else ("+", terms)


def dimension_product(a, b):
    """n*m; a sum multiplies out, (n + p)*m = n*m + p*m."""
    if a[0] == "+" or b[0] == "+":
        out = None
        for x in terms_of(a):
            for y in terms_of(b):
                term = dimension_product(x, y)
                out = term if out is None else dimension_sum(out, term)
        return out
    return (a[0] * b[0], tuple(sorted(a[1] + b[1])))


def dimension_text(d):
    if d[0] == "+":
        return "(" + " + ".join(dimension_text(t) for t in d[1]) + ")"
    factors = ([str(d[0])] if d[0] != 1 or not d[1] else []) + list(d[1])
    return "*".join(factors)


def shape_text(shape):
    return "scalar" if shape is None else " x ".join(dimension_text(d) for d in shape)


# ---- operands -----------------------------------------------------------------------------------
class Operand:
    """A value with its symbolic shape: None for a scalar, (rows, cols) for a matrix."""

    __slots__ = ("array", "shape")

    def __init__(self, array, shape):
        self.array = array
        self.shape = shape

    @property
    def is_matrix(self):
        return self.shape is not None

    @property
    def is_scalar(self):
        """A scalar, or a 1 x 1 matrix (which counts as one wherever a scalar is allowed)."""
        return self.shape is None or self.shape == (ONE, ONE)

    @property
    def is_square(self):
        return self.shape is not None and self.shape[0] == self.shape[1]

    @property
    def is_column(self):
        return self.shape is not None and self.shape[1] == ONE


def scalar_with(a, b):
    """The shape of an operation of the scalar-like a with b: b's, but 1 x 1 if either is."""
    if b.shape is None and a.shape is not None:
        return a.shape
    return b.shape


# ---- the functions ------------------------------------------------------------------------------
# Elementwise functions: array -> array of the same shape (scalars too), written with xp only.
def sigmoid(xp, X):
    """1 / (1 + exp(-X)) = exp(-log(1 + exp(-X))), without overflow for large |X|."""
    return xp.exp(-xp.logaddexp(0.0, -X))


def relu(xp, X):
    """X where X > 0 else 0 (derivative 0 at the kink, as the notation says); NaN stays NaN.
    The 0 is +0: 0.0 * X alone is -0.0 for a negative X, and P / relu(b.T) was -inf there, so
    the reference dropped entries that are +inf (fuzz seed 207)."""
    return xp.where(X > 0, X, xp.abs(0.0 * X))


def softplus(xp, X):
    """log(1 + exp(X)), computed as logaddexp(0, X)."""
    return xp.logaddexp(0.0, X)


def step(xp, X):
    """1 where X > 0 else +0 (as relu); NaN stays NaN."""
    return xp.where(X > 0, 1.0, xp.abs(0.0 * X))


def softsign(xp, X):
    """X / (1 + |X|)."""
    return X / (1.0 + xp.abs(X))


def gelu(xp, X):
    """0.5 X (1 + tanh(sqrt(2/pi) (X + 0.044715 X**3))), the tanh approximation."""
    return 0.5 * X * (1.0 + xp.tanh(math.sqrt(2.0 / math.pi) * (X + 0.044715 * X ** 3)))


ELEMENTWISE = {
    "exp": lambda xp, X: xp.exp(X),
    "log": lambda xp, X: xp.log(X),
    "sin": lambda xp, X: xp.sin(X),
    "cos": lambda xp, X: xp.cos(X),
    "tan": lambda xp, X: xp.tan(X),
    "tanh": lambda xp, X: xp.tanh(X),
    "arctan": lambda xp, X: xp.arctan(X),
    "arcsin": lambda xp, X: xp.arcsin(X),
    "arccos": lambda xp, X: xp.arccos(X),
    "sqrt": lambda xp, X: xp.sqrt(X),
    "abs": lambda xp, X: xp.abs(X),
    "sign": lambda xp, X: xp.sign(X),
    "log1p": lambda xp, X: xp.log1p(X),
    "sigmoid": sigmoid,
    "relu": relu,
    "softplus": softplus,
    "step": step,
    "softsign": softsign,
    "gelu": gelu,
}


# Functions of one matrix: (xp, Operand) -> Operand; each checks the shape it needs.
def needs(condition, what, f, A):
    if not condition:
        raise NotationError(f"{f}() needs {what}, got {shape_text(A.shape)}")


def trace(xp, A):
    needs(A.is_square, "a square matrix", "tr", A)
    return Operand(xp.trace(A.array), None)


def determinant(xp, A):
    needs(A.is_square, "a square matrix", "det", A)
    return Operand(xp.linalg.det(A.array), None)


def log_abs_determinant(xp, A):
    """log |det(A)|."""
    needs(A.is_square, "a square matrix", "logdet", A)
    return Operand(xp.linalg.slogdet(A.array)[1], None)


def inverse(xp, A):
    needs(A.is_square, "a square matrix", "inv", A)
    return Operand(xp.linalg.inv(A.array), A.shape)


def entry_sum(xp, A):
    return Operand(xp.sum(A.array), None)


def frobenius_norm(xp, A):
    """sqrt(sum of the squared entries); |a| for a scalar."""
    return Operand(xp.sqrt(xp.sum(A.array * A.array)), None)


def entry_mean(xp, A):
    return Operand(xp.sum(A.array) / numpy.size(A.array), None)


def softmax(xp, A):
    """exp(z - max z) / sum(exp(z - max z)) over a column's entries, or over each row."""
    needs(A.is_matrix, "a vector or a matrix", "softmax", A)
    axis = 0 if A.is_column else 1
    Z = A.array - xp.max(A.array, axis=axis, keepdims=True)
    E = xp.exp(Z)
    return Operand(E / xp.sum(E, axis=axis, keepdims=True), A.shape)


def logsumexp(xp, A):
    """log(sum(exp(z))) = max z + log(sum(exp(z - max z))) of a column (a scalar), or per row
    of an N x C matrix (N x 1)."""
    needs(A.is_matrix, "a vector or a matrix", "logsumexp", A)
    if A.is_column:
        top = xp.max(A.array)
        return Operand(top + xp.log(xp.sum(xp.exp(A.array - top))), None)
    top = xp.max(A.array, axis=1, keepdims=True)
    rows = top + xp.log(xp.sum(xp.exp(A.array - top), axis=1, keepdims=True))
    return Operand(rows, (A.shape[0], ONE))


def diag(xp, A):
    """A column v (n x 1) -> the n x n matrix with v on its diagonal, eye(n) * v.T;
    a square matrix -> the column of its diagonal, the row sums of A * eye(n)."""
    if A.is_column:
        n = numpy.shape(A.array)[0]
        return Operand(xp.eye(n) * xp.transpose(A.array), (A.shape[0], A.shape[0]))
    needs(A.is_square, "a column vector or a square matrix", "diag", A)
    n = numpy.shape(A.array)[0]
    return Operand(xp.sum(A.array * xp.eye(n), axis=1, keepdims=True), (A.shape[0], ONE))


def vec(xp, A):
    """The columns of A (n x m) stacked into an nm x 1 column: the rows of A.T, in order."""
    needs(A.is_matrix, "a matrix", "vec", A)
    return Operand(xp.reshape(xp.transpose(A.array), (-1, 1)),
                   (dimension_product(A.shape[0], A.shape[1]), ONE))


def kron(xp, A, B):
    """kron(A, B)[i*r + k, j*s + l] = A[i, j] * B[k, l] for A p x q and B r x s."""
    for M in (A, B):
        needs(M.is_matrix, "two matrices", "kron", M)
    (p, q), (r, s) = numpy.shape(A.array), numpy.shape(B.array)
    blocks = A.array[:, None, :, None] * B.array[None, :, None, :]     # index order i, k, j, l
    return Operand(xp.reshape(blocks, (p * r, q * s)),
                   (dimension_product(A.shape[0], B.shape[0]),
                    dimension_product(A.shape[1], B.shape[1])))


def concatenation(xp, axis, A, B):
    """concat(A, B): the rows of A, then the rows of B (axis 0); hconcat(A, B): the columns of
    A, then the columns of B (axis 1). The other dimension must be equal."""
    name = ("concat", "hconcat")[axis]
    for M in (A, B):
        needs(M.is_matrix, "two matrices", name, M)
    if A.shape[1 - axis] != B.shape[1 - axis]:
        raise NotationError(f"{name}() of {shape_text(A.shape)} and {shape_text(B.shape)}: the "
                            f"{('columns', 'rows')[axis]} differ")
    joined = dimension_sum(A.shape[axis], B.shape[axis])
    shape = (joined, A.shape[1]) if axis == 0 else (A.shape[0], joined)
    return Operand(xp.concatenate([A.array, B.array], axis=axis), shape)


def largest_entry(xp, A):
    return Operand(xp.max(A.array), None)


def largest_entry_indicator(xp, A):
    """1 where A has its largest entry, else 0."""
    return Operand(xp.where(A.array == xp.max(A.array), 1.0, 0.0), A.shape)


def smallest_entry(xp, A):
    return Operand(xp.min(A.array), None)


def sum_of_absolute_values(xp, A):
    """norm1: the sum of |a_ij|."""
    return Operand(xp.sum(xp.abs(A.array)), None)


def euclidean_norm(xp, A):
    """norm2 of a vector: sqrt(sum of squares)."""
    needs(A.is_scalar or A.is_column or A.shape[0] == ONE, "a vector", "norm2", A)
    return Operand(xp.sqrt(xp.sum(A.array * A.array)), None)


MATRIX_FUNCTIONS = {
    "tr": trace, "det": determinant, "logdet": log_abs_determinant, "inv": inverse,
    "sum": entry_sum, "norm": frobenius_norm, "mean": entry_mean, "max": largest_entry,
    "ismax": largest_entry_indicator, "min": smallest_entry, "norm1": sum_of_absolute_values, "norm2": euclidean_norm,
    "softmax": softmax, "logsumexp": logsumexp, "diag": diag, "vec": vec,
}


# Functions of dimensions: (xp, sizes...) -> array.
def identity(xp, n):
    return xp.eye(n)


def ones(xp, n, m=1):
    return xp.ones((n, m))


def commutation(xp, n, m):
    """K (nm x nm) with K @ vec(A) = vec(A.T) for A n x m: A[i, j] sits at j*n + i of vec(A)
    and at i*m + j of vec(A.T), so K[i*m + j, j*n + i] = 1."""
    rows = [[1.0 if col == (row % m) * n + row // m else 0.0 for col in range(n * m)]
            for row in range(n * m)]
    return xp.array(rows)


DIMENSION_FUNCTIONS = {"eye": (identity, 1, 1), "ones": (ones, 1, 2),
                       "commutation": (commutation, 2, 2)}


def dimension_function_shape(name, dims):
    if name == "eye":
        return (dims[0], dims[0])
    if name == "ones":
        return (dims[0], dims[1] if len(dims) == 2 else ONE)
    n_m = dimension_product(dims[0], dims[1])
    return (n_m, n_m)


MAX_MATRIX_POWER = 1000

# Functions of several arguments, entry by entry (equal shapes or a scalar with anything):
# name -> (xp, arrays...) -> array; max/min of two are maximum/minimum.
ENTRYWISE = {
    "maximum": lambda xp, A, B: xp.maximum(A, B),
    "minimum": lambda xp, A, B: xp.minimum(A, B),
    "max": lambda xp, A, B: xp.maximum(A, B),
    "min": lambda xp, A, B: xp.minimum(A, B),
    "clip": lambda xp, X, low, high: xp.minimum(xp.maximum(X, low), high),
}

# Convolution in matrix notation: name -> (xp, Operand, sizes...) -> Operand, the sizes being
# integer literals. Written with a 0/1 matrix S that picks, for each output pixel (oh, ow) and
# kernel offset (i, j), the input pixel (oh*SH + i - PH, ow*SW + j - PW) it reads (none in the
# padding): im2col is a product with S, col2im a product with S.T. (matcalc evaluates both with
# strided slices instead, core/windows.py.)
def window_selection(H, W, KH, KW, SH, SW, PH, PW):
    """S (OH*OW*KH*KW x H*W), rows in (oh, ow, i, j) order, and (OH, OW)."""
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    S = numpy.zeros((OH * OW * KH * KW, H * W))
    row = 0
    for oh in range(OH):
        for ow in range(OW):
            for i in range(KH):
                for j in range(KW):
                    h, w = oh * SH + i - PH, ow * SW + j - PW
                    if 0 <= h < H and 0 <= w < W:
                        S[row, h * W + w] = 1.0
                    row += 1
    return S, OH, OW


def image_count(A, C, H, W, f):
    """N, the number of C x H x W images whose entries A holds, as a dimension."""
    rows, cols = A.shape
    count, names = dimension_product(rows, cols)
    if count % (C * H * W):
        raise NotationError(f"{f}() needs N*{C}*{H}*{W} entries, got {shape_text(A.shape)}")
    return (count // (C * H * W), names)


def im2col(xp, A, C, H, W, KH, KW, SH, SW, PH, PW):
    S, OH, OW = window_selection(H, W, KH, KW, SH, SW, PH, PW)
    N = image_count(A, C, H, W, "im2col")
    images = xp.reshape(A.array, (-1, H * W, C))
    windows = xp.einsum("qp,npc->nqc", S, images)
    return Operand(xp.reshape(windows, (-1, KH * KW * C)),
                   (dimension_product(N, dimension(OH * OW)), dimension(KH * KW * C)))


def col2im(xp, G, C, H, W, KH, KW, SH, SW, PH, PW, C_out):
    S, OH, OW = window_selection(H, W, KH, KW, SH, SW, PH, PW)
    count, names = G.shape[0]
    if count % (OH * OW) or G.shape[1] != dimension(KH * KW * C):
        raise NotationError(f"col2im() needs N*{OH * OW} x {KH * KW * C} windows, "
                            f"got {shape_text(G.shape)}")
    entries = (count // (OH * OW) * H * W * C, names)
    if entries[0] % C_out:
        raise NotationError(f"col2im(): {C_out} columns do not hold {dimension_text(entries)} entries")
    windows = xp.reshape(G.array, (-1, OH * OW * KH * KW, C))
    images = xp.einsum("qp,nqc->npc", S, windows)
    return Operand(xp.reshape(images, (-1, C_out)),
                   ((entries[0] // C_out, names), dimension(C_out)))


def blockmax(xp, P, g):
    """The largest of the g entries P[r, k*C + c], k = 0..g-1, for every r and c."""
    count, names = P.shape[1]
    if names or count % g:
        raise NotationError(f"blockmax(P, {g}) needs {g}*C columns, got {shape_text(P.shape)}")
    C = count // g
    blocks = [P.array[:, k * C:(k + 1) * C] for k in range(g)]
    largest = blocks[0]
    for block in blocks[1:]:
        largest = xp.maximum(largest, block)
    return Operand(largest, (P.shape[0], dimension(C)))


def blockargmax(xp, P, g):
    """1/k at each of the k entries P[r, k*C + c] (k = 0..g-1) equal to their largest, else 0."""
    largest = blockmax(xp, P, g).array
    C = largest.shape[1]
    hits = [(P.array[:, k * C:(k + 1) * C] == largest) * 1.0 for k in range(g)]
    ties = sum(hits)
    return Operand(xp.concatenate([hit / ties for hit in hits], axis=1), P.shape)


WINDOW_FUNCTIONS = {"im2col": (im2col, 9), "col2im": (col2im, 10), "blockmax": (blockmax, 1),
                    "blockargmax": (blockargmax, 1)}

FUNCTIONS = (set(ELEMENTWISE) | set(MATRIX_FUNCTIONS) | set(DIMENSION_FUNCTIONS)
             | set(ENTRYWISE) | set(WINDOW_FUNCTIONS) | {"matrix_power", "kron", "concat", "hconcat"})


# ---- the constant folder for exponents ----------------------------------------------------------
CONSTANT_OPERATIONS = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b,
}


def constant(node, text):
    """The float value of a numeric constant expression (numbers, unary +/-, + - * / **)."""
    if isinstance(node, ast.Constant):
        return number(node, text)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = constant(node.operand, text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in CONSTANT_OPERATIONS:
        a, b = constant(node.left, text), constant(node.right, text)
        try:
            value = CONSTANT_OPERATIONS[type(node.op)](a, b)
        except (ZeroDivisionError, OverflowError) as e:
            raise NotationError(f"the exponent of ** does not evaluate: {e}") from None
        if not isinstance(value, float) or not math.isfinite(value):
            raise NotationError("the exponent of ** is not a finite real number")
        return value
    raise NotationError("the exponent of ** must be a numeric constant")


def is_constant(node):
    """Whether an exponent is a numeric constant expression (only numbers and operators)."""
    return all(isinstance(n, (ast.Constant, ast.UnaryOp, ast.BinOp, ast.operator, ast.unaryop))
               for n in ast.walk(node))


NUMBER = re.compile(r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")


def literal(node, text):
    """A numeric literal written as the notation writes numbers (no 1_000, 0x10, 1j, True)."""
    value = node.value
    written = ast.get_source_segment(text, node)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or written is None or not NUMBER.fullmatch(written):
        raise NotationError(f"{written or repr(value)} is not a number of the notation")
    return value


def number(node, text):
    """The finite float value of a numeric literal."""
    try:
        value = float(literal(node, text))
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise NotationError(f"the number {ast.get_source_segment(text, node)} is too large")
    return value


# ---- the walk -----------------------------------------------------------------------------------
class Reader:
    """Evaluates one parsed text: symbols, sizes and the array module are fixed per text."""

    def __init__(self, text, symbols, sizes, xp):
        self.text = text
        self.symbols = symbols       # name -> Operand
        self.sizes = sizes           # dimension name -> int
        self.xp = xp

    def where(self, node):
        return f" at column {node.col_offset + 1}"

    def value(self, node):
        method = getattr(self, "read_" + type(node).__name__, None)
        if method is None:
            raise NotationError(f"{describe(node)} is not part of the notation{self.where(node)}")
        return method(node)

    def read_Constant(self, node):
        return Operand(numpy.float64(number(node, self.text)), None)

    def read_Name(self, node):
        if node.id in self.symbols:
            return self.symbols[node.id]
        if node.id in self.sizes:              # a dimension used as a number: sum(x)/n
            return Operand(numpy.float64(self.sizes[node.id]), None)
        if node.id in FUNCTIONS:
            raise NotationError(f"function {node.id}() needs its arguments in parentheses")
        raise NotationError(f"undeclared symbol {node.id!r}{self.where(node)}")

    def read_Attribute(self, node):
        if node.attr != "T":
            raise NotationError(f"attribute access .{node.attr} is not allowed (only .T)")
        A = self.value(node.value)
        if not A.is_matrix:
            return A
        return Operand(self.xp.transpose(A.array), (A.shape[1], A.shape[0]))

    def read_UnaryOp(self, node):
        if isinstance(node.op, ast.USub):
            A = self.value(node.operand)
            return Operand(-A.array, A.shape)
        if isinstance(node.op, ast.UAdd):
            return self.value(node.operand)
        raise NotationError(f"the operator {operator_text(node.op)} is not part of the notation")

    def read_BinOp(self, node):
        if isinstance(node.op, ast.Pow):
            base = self.value(node.left)
            if is_constant(node.right):
                p = constant(node.right, self.text)
                return Operand(self.xp.power(base.array, p), base.shape)
            power = elementwise_operation("**", self.xp.power, rows_broadcast=False)
            return power(base, self.value(node.right))
        operation = BINARY.get(type(node.op))
        if operation is None:
            raise NotationError(f"the operator {operator_text(node.op)} is not part of the notation"
                                f"{self.where(node)}")
        return operation(self.value(node.left), self.value(node.right))

    def read_Call(self, node):
        if not isinstance(node.func, ast.Name):
            raise NotationError(f"only the functions of the notation can be called{self.where(node)}")
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise NotationError(f"{name}() takes plain arguments, no keywords or *args")
        if name not in FUNCTIONS:
            raise NotationError(f"unknown function {name!r}{self.where(node)}")
        if name in DIMENSION_FUNCTIONS:
            return self.dimension_call(name, node.args)
        if name == "matrix_power":
            return self.matrix_power(node.args)
        if name in WINDOW_FUNCTIONS:
            return self.window_call(name, node.args)
        if name in ("concat", "hconcat"):
            if len(node.args) != 2:
                raise NotationError(f"{name}() takes two arguments")
            return concatenation(self.xp, ("concat", "hconcat").index(name),
                                 self.value(node.args[0]), self.value(node.args[1]))
        if name == "kron":
            if len(node.args) != 2:
                raise NotationError("kron() takes two arguments")
            return kron(self.xp, self.value(node.args[0]), self.value(node.args[1]))
        if name == "norm" and len(node.args) == 2:
            return self.p_norm(node.args)
        if name in ENTRYWISE and (name not in MATRIX_FUNCTIONS or len(node.args) != 1):
            return self.entrywise(name, node.args)
        if len(node.args) != 1:
            raise NotationError(f"{name}() takes one argument, got {len(node.args)}")
        A = self.value(node.args[0])
        if name in ELEMENTWISE:
            return Operand(ELEMENTWISE[name](self.xp, A.array), A.shape)
        return MATRIX_FUNCTIONS[name](self.xp, A)

    def entrywise(self, name, args):
        """maximum(A, B), clip(X, low, high): every argument of one shape, or a scalar."""
        operands = [self.value(a) for a in args]
        arity = 3 if name == "clip" else 2
        if len(operands) != arity:
            raise NotationError(f"{name}() takes {arity} arguments, got {len(operands)}")
        shapes = {A.shape for A in operands if not A.is_scalar}
        if len(shapes) > 1:
            raise NotationError(f"{name}() needs arguments of one shape (or scalars)")
        shape = shapes.pop() if shapes else next(
            (A.shape for A in operands if A.shape is not None), None)
        return Operand(ENTRYWISE[name](self.xp, *[A.array for A in operands]), shape)

    def p_norm(self, args):
        """norm(A, p) = (sum |a_ij|**p)**(1/p), p a positive constant."""
        A, p = self.value(args[0]), constant(args[1], self.text)
        if not p > 0:
            raise NotationError("norm(A, p) needs p a positive number")
        return Operand(self.xp.sum(self.xp.abs(A.array) ** p) ** (1.0 / p), None)

    def dimension_call(self, name, args):
        build, low, high = DIMENSION_FUNCTIONS[name]
        if not low <= len(args) <= high:
            raise NotationError(f"{name}() takes {low} to {high} dimensions, got {len(args)}")
        dims = [self.dimension_argument(a) for a in args]
        sizes = [self.size(d) for d in dims]
        return Operand(build(self.xp, *sizes), dimension_function_shape(name, dims))

    def dimension_argument(self, node):
        if isinstance(node, ast.Name):
            if node.id not in self.sizes:
                raise NotationError(f"unknown dimension {node.id!r}: declare it in a shape "
                                    f"or pass its size in sizes=")
            return dimension(node.id)
        if isinstance(node, ast.Constant) and isinstance(literal(node, self.text), int) \
                and node.value > 0:
            return dimension(node.value)
        raise NotationError("a dimension is a declared name or a positive integer")

    def size(self, d):
        count, names = d
        for name in names:
            count *= self.sizes[name]
        return count

    def window_call(self, name, args):
        """im2col(X, 9 sizes), col2im(G, 10 sizes), blockmax(P, g): integer literal sizes."""
        build, count = WINDOW_FUNCTIONS[name]
        if len(args) != count + 1:
            raise NotationError(f"{name}() takes a matrix and {count} integers, got {len(args) - 1}")
        sizes = []
        for a in args[1:]:
            if not (isinstance(a, ast.Constant) and isinstance(literal(a, self.text), int)):
                raise NotationError(f"the sizes of {name}() are integer literals")
            sizes.append(a.value)
        A = self.value(args[0])
        needs(A.is_matrix, "a matrix", name, A)
        return build(self.xp, A, *sizes)

    def matrix_power(self, args):
        if len(args) != 2:
            raise NotationError("matrix_power() takes a matrix and an integer")
        A = self.value(args[0])
        needs(A.is_square, "a square matrix", "matrix_power", A)
        k = args[1]
        if not (isinstance(k, ast.Constant) and isinstance(literal(k, self.text), int)):
            raise NotationError("matrix_power(A, k) needs k a non-negative integer literal")
        if k.value > MAX_MATRIX_POWER:
            raise NotationError(f"matrix_power(A, k) with k > {MAX_MATRIX_POWER} is more than the "
                                f"reference evaluator multiplies out")
        n = numpy.shape(A.array)[0]
        power = self.xp.eye(n)
        for _ in range(k.value):
            power = power @ A.array
        return Operand(power, A.shape)


def describe(node):
    names = {
        ast.Subscript: "a subscript", ast.Lambda: "a lambda", ast.Compare: "a comparison",
        ast.BoolOp: "a boolean operator", ast.IfExp: "a conditional expression",
        ast.Tuple: "a tuple", ast.List: "a list", ast.Dict: "a dict", ast.Set: "a set",
        ast.JoinedStr: "an f-string", ast.Starred: "a starred expression",
        ast.NamedExpr: "an assignment expression",
    }
    return names.get(type(node), type(node).__name__)


def operator_text(op):
    symbols = {ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<", ast.RShift: ">>",
               ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Invert: "~", ast.Not: "not"}
    return symbols.get(type(op), type(op).__name__)


# ---- the binary operators -----------------------------------------------------------------------
def mismatch(symbol, a, b):
    return NotationError(f"shape mismatch in {symbol}: {shape_text(a.shape)} {symbol} "
                         f"{shape_text(b.shape)}")


def is_row_onto(row, M):
    """row is 1 x m and M is n x m with n not 1: the one broadcasting rule."""
    return (row.is_matrix and M.is_matrix and row.shape[0] == ONE and M.shape[0] != ONE
            and row.shape[1] == M.shape[1])


def elementwise_operation(symbol, combine, rows_broadcast):
    """A binary elementwise operation: equal shapes, a scalar with anything, and (where
    rows_broadcast) a 1 x m row onto an n x m matrix."""
    def operation(a, b):
        if a.shape == b.shape:
            shape = a.shape
        elif a.is_scalar:
            shape = scalar_with(a, b)
        elif b.is_scalar:
            shape = scalar_with(b, a)
        elif rows_broadcast and is_row_onto(a, b):
            shape = b.shape
        elif rows_broadcast and is_row_onto(b, a):
            shape = a.shape
        else:
            raise mismatch(symbol, a, b)
        return Operand(combine(a.array, b.array), shape)
    return operation


def matrix_product(a, b):
    for side, M in (("left", a), ("right", b)):
        if not M.is_matrix:
            raise NotationError(f"@ needs matrices, but its {side} operand is a scalar")
    if a.shape[1] != b.shape[0]:
        raise mismatch("@", a, b)
    return Operand(a.array @ b.array, (a.shape[0], b.shape[1]))


BINARY = {
    ast.Add: elementwise_operation("+", lambda a, b: a + b, rows_broadcast=True),
    ast.Sub: elementwise_operation("-", lambda a, b: a - b, rows_broadcast=True),
    ast.Mult: elementwise_operation("*", lambda a, b: a * b, rows_broadcast=True),
    ast.Div: elementwise_operation("/", lambda a, b: a / b, rows_broadcast=True),
    ast.MatMult: matrix_product,
}


# ---- binding the values -------------------------------------------------------------------------
def bind(shapes, values, sizes, xp):
    """(name -> Operand, dimension name -> size) from the declared shapes and the values."""
    symbols, bound = {}, dict(sizes or {})
    for name, spec in shapes.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in FUNCTIONS:
            raise NotationError(f"bad symbol name {name!r}")
        if name not in values:
            continue
        dims = tuple(dimension(d) for d in spec)
        if len(dims) > 2:
            raise NotationError(f"{name}: shapes have at most two dimensions, got {spec!r}")
        v = values[name]
        given = tuple(numpy.shape(v))
        if not dims:
            if int(numpy.prod(given)) != 1:
                raise NotationError(f"{name} is a scalar, got an array of shape {given}")
            if isinstance(v, (int, float)):
                v = numpy.float64(v)        # NumPy's rules: 1/0 is inf, (-1)**0.5 is nan
            symbols[name] = Operand(xp.reshape(v, ()) if given else v, None)
            continue
        if len(dims) == 1:
            dims = (dims[0], ONE)
            if len(given) == 1:
                v = xp.reshape(v, (given[0], 1))
                given = (given[0], 1)
        if len(given) != 2:
            raise NotationError(f"{name} is {shape_text(dims)}, got an array of shape {given}")
        for d, n in zip(dims, given):
            count, names = d
            if not names and count != n:
                raise NotationError(f"{name} is {shape_text(dims)}, got shape {given}")
            for dim_name in names:
                if bound.setdefault(dim_name, n) != n:
                    raise NotationError(f"{name} has {dim_name} = {n}, but {dim_name} = "
                                        f"{bound[dim_name]} elsewhere")
        symbols[name] = Operand(v, dims)
    return symbols, bound


def parse(text):
    """The ast of the text, or a NotationError; the text is parsed, never evaluated."""
    if not isinstance(text, str):
        raise NotationError(f"the expression must be a string, got {type(text).__name__}")
    if not text.isascii():
        raise NotationError("the notation is written in ASCII")
    try:
        return ast.parse(text, mode="eval").body
    except (RecursionError, MemoryError):
        raise TooDeep() from None
    except SyntaxError as e:
        if "too many nested" in str(e) or "too complex" in str(e):
            raise TooDeep() from None
        raise NotationError(f"not an expression of the notation: {e.msg}") from None


def evaluate_text(text, shapes, values, xp=numpy, sizes=None):
    """The value of the notation text with the symbols of `shapes` bound to `values`.

    shapes: name -> () | (n,) | (n, m), dimensions names or positive ints. values: name -> array
    or number (vectors 1-D or n x 1); dimension sizes are read off them, and `sizes` gives those
    used only in eye/ones/commutation. Returns a scalar (a Python float or 0-d value) for scalars
    and 1 x 1 results, a 2-D array otherwise. Raises NotationError (TooDeep when nested too deep).
    """
    tree = parse(text)
    symbols, bound = bind(shapes or {}, values or {}, sizes, xp)
    for name in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}:
        if name in (shapes or {}) and name not in symbols:
            raise NotationError(f"no value given for {name!r}")
    try:
        result = Reader(text, symbols, bound, xp).value(tree)
    except RecursionError:
        raise TooDeep() from None
    if result.is_matrix and result.shape == (ONE, ONE):
        return result.array[0, 0]
    return result.array
