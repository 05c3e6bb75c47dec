"""NumpyPrinter: one matcalc expression as one NumPy expression, the way a person writes it.

A subclass of the notation printer (precedence, exact-type dispatch, no recursion, names). It
prints `@`, `*`, `.T` and `np.maximum`, never nested `np.multiply`, every function by its
registry record's NumPy spelling, and it never materialises a ones, identity or diagonal
matrix that only structures a product:

    c*ones(n, m) in a sum         ->  c                        (NumPy broadcasting)
    ones(n) @ b.T in a sum        ->  b.T
    L @ ones(a, b) @ R            ->  (row sums of L) * (column sums of R)
    diag(v) @ A,  A @ diag(v)     ->  v * A,  A * v.T
    tr(A @ B.T)                   ->  np.sum(A * B)
    step(Z) inside a product      ->  (Z > 0)                  (a mask, for relu')
    step(Z) as a value            ->  np.heaviside(Z, 0.0)     (in Z's dtype)

Such a value may be *partial*: a scalar, a column or a row that NumPy broadcasts to the
expression's shape. `is_full` tells, from the expression alone, whether the printed value has
the full shape; wherever the full shape matters (an operand of `@`, a sum of entries, a value
that is stored) the printer writes `np.broadcast_to(...)` or `np.ones(...)`.

Names come from the names map (node -> identifier): inputs, named forward values and the
adjoint placeholders of the backward program. `dims` maps dimension symbols to the identifiers
of their sizes. The printer emits no statements and decides no names.
"""
import math

import sympy as sp
from sympy import HadamardPower, HadamardProduct, Identity, MatAdd, MatMul, OneMatrix, Transpose, ZeroMatrix
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.kronecker import KroneckerProduct

from ..core import dag, ops
from ..core.nodes import ADJOINTS, Elementwise
from ..core.windows import BlockArgmax, BlockMax, Im2col, blockmax
from ..printing.base import ADD, ATOM, CMP, MUL, NEG, POW, PRECEDENCE, PrintError
from ..printing.text import TextPrinter, dimension_factors
from ..errors import MatcalcError
from .backends import backend_of


def float_text(x):
    """A SymPy number as a float literal: 2 -> '2.0', 1/2 -> '0.5'."""
    return repr(float(x))


def constant_value(record, arg):
    """The float value of the elementwise function of a number, or None (not finite, or not a
    number SymPy can evaluate)."""
    from ..core import functions
    from ..evaluate import evaluate
    try:
        value = float(evaluate(functions.apply(record.name, arg), {}))
    except (TypeError, ValueError, ArithmeticError, MatcalcError):
        return None
    return sp.Float(value) if math.isfinite(value) else None


class NumpyPrinter(TextPrinter):
    """Prints one expression as NumPy; names from `names`, dimension sizes from `dims`."""
    what = "NumPy code"

    def __init__(self, names=None, dims=None, dtype=None, backend=None):
        super().__init__(names)
        self.dims = dims if dims is not None else {}
        self.dtype = dtype                  # the identifier of the inputs' float dtype, if any
        self.backend = backend_of(backend or "numpy")     # the table of spellings (backends.py)
        self.xp = self.backend.xp           # the array namespace's alias: np, jnp, torch, xp
        self.used_dims = []
        self.full_memo = {}

    def text(self, e):
        return self.p(e)[0]

    def named(self, e, name):
        return name, ATOM

    def dim(self, d):
        d = sp.sympify(d)
        if d.is_Integer:
            return str(int(d))
        if isinstance(d, sp.Add):           # concat(A, B) has m + n rows
            return "(" + " + ".join(self.dim(t) for t in d.as_ordered_terms()) + ")"
        factors = dimension_factors(d)
        if len(factors) > 1:
            return " * ".join(self.dim(f) for f in factors)
        if d not in self.dims:
            raise PrintError(f"the size of dimension {d} is not known to the generated code")
        if d not in self.used_dims:
            self.used_dims.append(d)
        if self.collecting:                 # a size is read like a name (what backward needs)
            self.collecting[-1].add(self.dims[d])
        return self.dims[d]

    def dtype_text(self):
        """The identifier of the inputs' float dtype, read like a name (what backward needs)."""
        if self.collecting:
            self.collecting[-1].add(self.dtype)
        return self.dtype

    def dtype_keyword(self):
        """', dtype=dtype' for a value made from numbers alone (np.eye, np.ones, np.full), so
        that float32 inputs give float32 arrays."""
        return "" if self.dtype is None else f", dtype={self.dtype_text()}"

    def shape_text(self, shape):
        return "(" + ", ".join(self.dim(d) for d in shape) + ")"

    # -- full and partial values ------------------------------------------------------------------
    def is_full(self, e):
        """Whether e prints as an array of e's own shape (not a value NumPy broadcasts to it)."""
        if not ops.is_matrix(e):
            return True
        hit = self.full_memo.get(e)
        if hit is None:
            hit = self._is_full(e)
            self.full_memo[e] = hit
        return hit

    def _is_full(self, e):
        """From the structure of e (a named value holds its definition's value, so it is as
        full as its definition; statements of adjoints are always stored full)."""
        if isinstance(e, (sp.MatrixSymbol, Identity) + ADJOINTS):
            return True
        if isinstance(e, (OneMatrix, ZeroMatrix)):
            return False
        if isinstance(e, MatMul):
            coeff, mats = ops.split_coeff(e)
            if len(mats) == 1:
                return self.is_full(mats[0])
            if any(isinstance(m, OneMatrix) for m in mats):
                return ones_product_full(mats, e.shape)
            return True
        if isinstance(e, (MatAdd, HadamardProduct)):
            return any(self.is_full(t) for t in e.args)
        if isinstance(e, HadamardPower):        # a ** x: the exponent carries the shape
            return any(self.is_full(a) for a in e.args if ops.is_matrix(a))
        if isinstance(e, Elementwise):
            return self.is_full(e.arg)
        return True

    def full(self, e):
        """(text, prec) of e with e's full shape."""
        text, prec = self.p(e)
        if self.is_full(e):
            return text, prec
        if isinstance(e, OneMatrix):
            return f"{self.xp}.ones({self.shape_text(e.shape)}{self.dtype_keyword()})", ATOM
        if isinstance(e, ZeroMatrix):
            return f"{self.xp}.zeros({self.shape_text(e.shape)}{self.dtype_keyword()})", ATOM
        if self.dtype is not None and not self.names_in(e):     # a number: 2.0 * ones(n, m)
            return f"{self.xp}.full({self.shape_text(e.shape)}, {text}{self.dtype_keyword()})", ATOM
        return f"{self.xp}.broadcast_to({text}, {self.shape_text(e.shape)})", ATOM

    def full_wrap(self, e, min_prec, strict=False):
        text, prec = self.full(e)
        return self.wrap_text(text, prec, min_prec, strict)

    # -- leaves -----------------------------------------------------------------------------------
    def _Symbol(self, e):
        if e.is_integer:                      # a dimension used as a number, e.g. tr(eye(n))
            return self.dim(e), ATOM
        return e.name, ATOM

    def _Number(self, e):
        text = float_text(e)
        return text, (NEG if text.startswith("-") else ATOM)

    def _Identity(self, e):
        return f"{self.xp}.eye({self.dim(e.shape[0])}{self.dtype_keyword()})", ATOM

    def _OneMatrix(self, e):
        return "1.0", ATOM

    def _ZeroMatrix(self, e):
        return "0.0", ATOM

    def _Differential(self, e):
        raise PrintError("a differential cannot be printed as NumPy code")

    _ScalarDifferential = _Differential

    def _Adjoint(self, e):
        raise PrintError(f"an adjoint no statement named (of {str(e.arg)[:40]})")

    _ScalarAdjoint = _Adjoint

    def exponent_text(self, x):
        if not x.is_Number:         # a scalar expression or a matrix: x ** a, x ** (a + 1)
            return self.wrap(x, ATOM)
        if x.is_Integer:
            return str(int(x)) if x >= 0 else f"({int(x)})"
        return float_text(x) if x >= 0 else f"({float_text(x)})"

    # -- functions --------------------------------------------------------------------------------
    def function(self, record, arg):
        number = arg if not ops.is_matrix(arg) and arg.is_number else \
            {ZeroMatrix: sp.Integer(0), OneMatrix: sp.Integer(1)}.get(type(arg))
        if record.kind == "elementwise" and number is not None:
            # a function of a number is that number (sin(2), sigmoid(1)), of ones(m) or of a zero
            # matrix a number broadcast: a Python float, which every backend takes, where
            # torch.sin(2.0) needs a tensor
            value = constant_value(record, number)
            if value is not None:
                return self._Number(value)
        if record.name == "sum" and self.backend.name == "numpy" and ops.is_matrix(arg):
            return self.entry_sum(arg), ATOM        # sum(A * B) as np.vdot(A, B)
        x = self.full(arg)[0] if record.kind != "elementwise" else self.p(arg)[0]
        x_ = self.wrap(arg, ATOM)
        if record.name == "step" and record.name not in self.backend.spellings:
            # a value in Z's dtype (the registry's np.where(Z > 0, 1.0, 0.0) is float64)
            return f"{self.xp}.heaviside({x}, 0.0)", ATOM
        if record.name in self.backend.spellings:      # a backend's own spelling is a call
            return record.spell(self.backend.spellings[record.name], x, x_), ATOM
        return record.spell(self.backend.spelling(record), x, x_), PRECEDENCE[record.numpy_prec]

    def mask(self, e):
        """step(Z) as a boolean mask, for a factor of a product: (Z > 0)."""
        return f"({self.wrap(e.arg, ADD)} > 0)", ATOM

    def _AsScalar(self, e):
        return f"{self.full_wrap(e.arg, ATOM)}[0, 0]", ATOM

    def _Transpose(self, e):
        return f"{self.full_wrap(e.arg, ATOM)}.T", ATOM

    def _Inverse(self, e):
        return f"{self.xp}.linalg.inv({self.full(e.arg)[0]})", ATOM

    def _MatrixPower(self, e):
        return f"{self.xp}.linalg.matrix_power({self.full(e.base)[0]}, {int(e.exponent)})", ATOM

    def _KroneckerProduct(self, e):
        """kron(A, B) -> np.kron(A, B), nested to the left for more factors."""
        text, prec = self.full(e.args[0])
        for factor in e.args[1:]:
            own = self.structure("kron", A=self.wrap_text(text, prec, ATOM), B=self.full_wrap(factor, ATOM))
            text, prec = own or f"{self.xp}.kron({text}, {self.full(factor)[0]})", ATOM
        return text, ATOM

    def _window(self, e):
        """_im2col(X, ...), _col2im(G, ...), _blockmax(P, g): helpers of the generated module
        (core/windows.py), spelled by the node."""
        sizes = ", ".join(str(n) for n in e.parameters)
        return f"{e.numpy}({self.full(e.arg)[0]}, {sizes})", ATOM

    _Im2col = _BlockArgmax = _window

    def _BlockMax(self, e):
        """blockmax(im2col(A, C, H, W, p, q, p, q, 0, 0), p*q), windows side by side
        (max pooling): _maxpool(A, C, H, W, p, q) reads A in place, no window matrix formed."""
        window = pooled_window(e)
        if window is None:
            return self._window(e)
        w = window
        return f"_maxpool({self.full(e.arg.arg)[0]}, {w.C}, {w.H}, {w.W}, {w.KH}, {w.KW})", ATOM

    def _Col2im(self, e):
        """col2im(G, ...) (core/windows.py), and two products it is never formed for:
        col2im(A@B) adds A times each kernel offset's columns of B onto the images
        (_col2im_product), and max pooling's adjoint col2im((G@kron(ones(g).T, eye(C)))*
        blockargmax(im2col(A), g)) with windows side by side shares G among the maxima
        M = blockmax(im2col(A), g) in A's layout (_maxpool_adjoint)."""
        sizes = ", ".join(str(n) for n in e.parameters)
        G = e.arg
        if isinstance(G, HadamardProduct) and len(G.args) == 2 and G not in self.names:
            weights = next((f for f in G.args if isinstance(f, BlockArgmax)), None)
            tiled = next((f for f in G.args if f is not weights), None)
            repeated = repeated_blocks(tiled) if weights is not None and \
                weights not in self.names else None
            maxima = blockmax(weights.arg, weights.blocks) if repeated is not None else None
            if maxima is not None and pooled_window(maxima) == e.window:
                coeff, mats = repeated
                share = self.scaled(coeff, *self.product(mats))[0]
                w = e.window
                return (f"_maxpool_adjoint({share}, {self.full(weights.arg.arg)[0]}, "
                        f"{self.p(maxima)[0]}, {w.C}, {w.H}, {w.W}, {w.KH}, {w.KW}, "
                        f"{e.parameters[-1]})"), ATOM
        repeated = repeated_blocks(G) if G not in self.names else None
        if repeated is not None and e.window.tiles() and \
                block_ones(ops.split_coeff(G)[1][-1])[2] == e.window.C:   # average pooling
            coeff, mats = repeated
            w = e.window
            share = self.scaled(coeff, *self.product(mats))[0]
            return (f"_unpool({share}, {w.C}, {w.H}, {w.W}, {w.KH}, {w.KW}, "
                    f"{e.parameters[-1]})"), ATOM
        if isinstance(G, MatMul) and G not in self.names:
            coeff, mats = ops.split_coeff(G)
            right = mats[-1] if len(mats) > 1 else None
            if right is not None and block_ones(right) is None and \
                    (dag.is_leaf(right) or right in self.names or
                     (isinstance(right, Transpose) and dag.is_leaf(right.arg))):
                left = self.scaled(coeff, *self.product(mats[:-1]))[0]
                return f"_col2im_product({left}, {self.full(right)[0]}, {sizes})", ATOM
        return self._window(e)

    CONCATENATE = {"torch": "torch.cat(({A}, {B}), dim={axis})",
                   "array_api": "xp.concat(({A}, {B}), axis={axis})"}

    def _Concat(self, e):
        """concat(A, B) -> np.concatenate((A, B), axis=0); hconcat: axis=1 (torch.cat, and the
        array API's concat, in those backends)."""
        A, B = (self.full(b)[0] for b in e.blocks)
        template = self.CONCATENATE.get(self.backend.name,
                                        f"{self.xp}.concatenate(({{A}}, {{B}}), axis={{axis}})")
        return template.format(A=A, B=B, axis=e.axis), ATOM

    def structure(self, name, **parts):
        """The backend's own spelling of a structural operation (backends.py), else None."""
        template = self.backend.structure.get(name)
        return None if template is None else template.format(dtype=self.dtype_keyword(), **parts)

    def _Vec(self, e):
        """vec(X): the columns stacked, X.reshape(-1, 1, order="F")."""
        x = self.full_wrap(e.arg, ATOM)
        return self.structure("vec", x=x) or f'{x}.reshape(-1, 1, order="F")', ATOM

    def _Commutation(self, e):
        """K(n, m) vec(A) = vec(A.T): row j + m*i of K is the unit row of entry i + n*j."""
        n, m = (self.dim(d) for d in e.dims)
        return (self.structure("commutation", n=n, m=m) or
                f'{self.xp}.eye({n} * {m})[{self.xp}.arange({n} * {m}).reshape({n}, {m}, order="F").ravel()]',
                ATOM)

    def _DiagonalOf(self, e):
        x = self.full(e.args[0])[0]
        return self.structure("diagonal", x=x) or f"{self.xp}.diagonal({x}).reshape(-1, 1)", ATOM

    def _DiagMatrix(self, e):
        own = self.structure("diagflat", x=self.full_wrap(e.args[0], ATOM))
        return own or f"{self.xp}.diagflat({self.full(e.args[0])[0]})", ATOM

    def _Trace(self, e):
        """tr(A @ B) = sum(A * B.T): O(n^2) instead of forming the product."""
        coeff, mats = ops.split_coeff(e.arg)
        plain = not any(isinstance(m, (OneMatrix, DiagMatrix, Identity)) for m in mats)
        if len(mats) == 2 and plain:
            A, B = mats
            if isinstance(B, Transpose):
                body = f"{self.xp}.sum({self.full_wrap(A, MUL)} * {self.full_wrap(B.arg, MUL, True)})"
            elif isinstance(A, Transpose):
                body = f"{self.xp}.sum({self.full_wrap(A.arg, MUL)} * {self.full_wrap(B, MUL, True)})"
            else:
                body = f"{self.xp}.sum({self.full_wrap(A, MUL)} * {self.full_wrap(B, ATOM)}.T)"
            return self.scaled(coeff, body, ATOM)
        return f"{self.xp}.trace({self.full(e.arg)[0]})", ATOM

    # -- products ---------------------------------------------------------------------------------
    def scaled(self, coeff, body, body_prec):
        """coeff * body: `-body`, `2.0 * body`, `body / n`."""
        coeff = sp.sympify(coeff)
        if coeff == 1:
            return body, body_prec
        if coeff == -1:
            return f"-{body if body_prec > NEG else self.parens(body)}", NEG
        operand = body if body_prec > MUL else self.parens(body)
        c_text, c_prec = self.p(coeff)
        if c_prec < MUL:
            c_text = self.parens(c_text)
        return f"{c_text} * {operand}", MUL

    def _MatMul(self, e):
        coeff, mats = ops.split_coeff(e)
        body, prec = self.product(mats)
        return self.scaled(coeff, body, prec)

    def product(self, mats):
        """The matrix product of `mats` (no coefficient), without materialising ones or diag."""
        if len(mats) == 1:
            return self.p(mats[0])
        blocks = block_ones(mats[-1])
        if blocks is not None:        # the max-pooling mask: blocks repeated or summed, no kron
            kind, g, C = blocks
            windows = mats[0] if len(mats) == 2 and isinstance(mats[0], Im2col) and \
                mats[0] not in self.names else None
            if kind == "sum" and windows is not None and windows.window.tiles() and \
                    C == windows.window.C:       # sum pooling, read from the images in place
                w = windows.window
                return (f"_sumpool({self.full(windows.arg)[0]}, {w.C}, {w.H}, {w.W}, {w.KH}, "
                        f"{w.KW})"), ATOM
            left, lprec = self.product(mats[:-1])
            if kind == "repeat":      # A @ kron(ones(g).T, eye(C)): A repeated g times across
                return f"np.tile({left}, (1, {g}))", ATOM
            return f"np.reshape({left}, (-1, {g}, {C})).sum(axis=1)", ATOM   # the g blocks summed
        if any(isinstance(m, OneMatrix) for m in mats):
            return self.ones_product(mats)
        i = next((k for k, m in enumerate(mats) if isinstance(m, DiagMatrix) and m not in self.names),
                 None)
        if i is not None:
            v = mats[i].args[0]
            if isinstance(v, Elementwise) and v.name == "step" and v not in self.names:
                scale, scale_prec = self.mask(v)              # relu'(z) as the mask (z > 0)
            else:
                scale, scale_prec = self.full(v)
            if i == 0:                # diag(v) @ R = v * R  (scales the rows)
                rest, prec = self.product(mats[1:])
                return (f"{self.wrap_text(scale, scale_prec, MUL)} * "
                        f"{self.wrap_text(rest, prec, MUL, True)}"), MUL
            left, lprec = self.product(mats[:i])
            if i == len(mats) - 1:    # L @ diag(v) = L * v.T  (scales the columns)
                return (f"{self.wrap_text(left, lprec, MUL)} * "
                        f"{self.wrap_text(scale, scale_prec, ATOM)}.T"), MUL
            right, rprec = self.product(mats[i + 1:])      # L @ diag(v) @ R = L @ (v * R)
            return (f"{self.wrap_text(left, lprec, MUL)} @ ({self.wrap_text(scale, scale_prec, MUL)}"
                    f" * {self.wrap_text(right, rprec, MUL, True)})"), MUL
        return self.chain(mats), MUL

    def chain(self, mats):
        """A @ B @ C, associated so that a trailing column vector is multiplied first."""
        operands = [self.full_wrap(m, MUL, strict=True) for m in mats]
        if len(mats) > 2 and mats[-1].shape[1] == 1 and mats[0].shape[0] != 1:
            text = operands[-1]
            for k, op in enumerate(reversed(operands[:-1])):
                text = f"{op} @ {text if k == 0 else self.parens(text)}"
            return text
        return " @ ".join(operands)

    def ones_product(self, mats):
        """M0 @ ones(a0, b0) @ M1 @ ones(a1, b1) @ ... @ Mk, with ones(a, b) = 1_a @ 1_b.T:
        (M0 @ 1) * (1.T @ M1 @ 1) * ... * (1.T @ Mk): a column of row sums, scalar sums of the
        middle segments, a row of column sums; an absent end segment is a broadcast 1."""
        segments, current = [], []
        for m in mats:
            if isinstance(m, OneMatrix):
                segments.append(current)
                current = []
            else:
                current.append(m)
        segments.append(current)
        parts = []
        first, middle, last = segments[0], segments[1:-1], segments[-1]
        if first:
            parts.append(self.row_totals(first))
        for seg in middle:
            if seg:
                parts.append(self.entry_sum(ops.matmul(*seg)))
            else:
                raise AssertionError("adjacent ones are merged by ops.matmul")
        if last:
            parts.append(self.column_totals(last))
        if not parts:
            return "1.0", ATOM
        if len(parts) == 1:
            return parts[0], ATOM
        return " * ".join(parts), MUL

    def entry_sum(self, M):
        """The sum of M's entries: np.sum(M), or for M = A * B (A * A, A**2) of two full
        operands of M's shape, np.vdot(A, B): BLAS's dot of the entries, 3-6x faster than
        np.sum(A * B), with no array A * B (a sum-of-squares loss). NumPy only."""
        pair = None
        if isinstance(M, HadamardProduct) and len(M.args) == 2:
            pair = M.args
        elif isinstance(M, HadamardPower) and M.args[1] == 2:
            pair = (M.args[0], M.args[0])
        if self.backend.name == "numpy" and pair is not None and all(
                ops.is_matrix(a) and tuple(a.shape) == tuple(M.shape) and self.is_full(a)
                and not (isinstance(a, Elementwise) and a.name == "step") for a in pair):
            return f"{self.xp}.vdot({self.full(pair[0])[0]}, {self.full(pair[1])[0]})"
        return f"{self.xp}.sum({self.full(M)[0]})"

    def row_totals(self, mats):
        """(M) @ ones(m): the column of row sums of the product M."""
        if mats[-1].shape[1] == 1:
            return self.full_wrap(ops.matmul(*mats), ATOM)      # a column is its own row sum
        if len(mats) == 1 and isinstance(mats[0], Transpose):
            by_product = self.ones_row_product([mats[0].arg])
            if by_product is not None:
                return f"({by_product}).T"
            return f"{self.full_wrap(mats[0].arg, ATOM)}.sum(axis=0, keepdims=True).T"
        return f"{self.full_wrap(ops.matmul(*mats), ATOM)}.sum(axis=1, keepdims=True)"

    def column_totals(self, mats):
        """ones(n).T @ (M): the row of column sums of the product M."""
        if mats[0].shape[0] == 1:
            return self.full_wrap(ops.matmul(*mats), ATOM)      # a row is its own column sum
        if len(mats) == 1 and isinstance(mats[0], Transpose):
            return f"{self.full_wrap(mats[0].arg, ATOM)}.sum(axis=1, keepdims=True).T"
        by_product = self.ones_row_product(mats)
        if by_product is not None:
            return f"({by_product})"
        return f"{self.full_wrap(ops.matmul(*mats), ATOM)}.sum(axis=0, keepdims=True)"

    def ones_row_product(self, mats):
        """ones(n).T @ M0 @ M1 ... as `np.ones((1, n), dtype=dtype) @ M0 @ M1`, NumPy only and
        only where the inputs' dtype is known (a ones row of another dtype would promote): a
        matrix-vector product, 2-4x faster than NumPy's column sums `M.sum(axis=0)` (a
        reduction across rows), and evaluated left to right, so `M0 @ M1` is never formed.
        None where it does not apply."""
        if self.backend.name != "numpy" or self.dtype is None:
            return None
        ones = f"{self.xp}.ones((1, {self.dim(mats[0].shape[0])}){self.dtype_keyword()})"
        return " @ ".join([ones] + [self.full_wrap(m, MUL, strict=True) for m in mats])

    def _HadamardProduct(self, e):
        parts = []
        for i, f in enumerate(e.args):
            if isinstance(f, HadamardPower) and ops.negative_number(f.args[1]):
                t = self.wrap(ops.hpow(f.args[0], -f.args[1]), MUL, strict=True)
                parts.append(("1.0 / " if i == 0 else " / ") + t)
                continue
            if isinstance(f, Elementwise) and f.name == "step" and f not in self.names:
                t = self.mask(f)[0]
            else:
                t = self.wrap(f, MUL, strict=i > 0)
            parts.append((" * " if i else "") + t)
        return "".join(parts), MUL

    def _HadamardPower(self, e):
        base, exp = e.args
        if exp == -1:
            return f"1.0 / {self.wrap(base, MUL, strict=True)}", MUL
        if ops.negative_number(exp):
            return f"1.0 / {self.wrap(base, POW, strict=True)} ** {self.exponent_text(-exp)}", MUL
        if exp == sp.S.Half:
            return f"{self.xp}.sqrt({self.text(base)})", ATOM
        text, prec = self.p(base)
        if exp == 2 and (base in self.names or isinstance(base, sp.MatrixSymbol)):
            return f"{text} * {text}", MUL
        if exp == 2:
            return f"{self.xp}.square({text})", ATOM
        return f"{text if prec > POW else self.parens(text)} ** {self.exponent_text(exp)}", POW

    # -- sums (a broadcast term is elided next to a full one) --------------------------------------
    def _MatAdd(self, e):
        terms = [(ops.is_negative_term(t), ops.neg(t) if ops.is_negative_term(t) else t)
                 for t in e.args]
        elide = any(self.broadcast_part(t, e.shape) is None and self.is_full(t) for _, t in terms)
        out = [(neg, self.term_text(t, e.shape, elide)) for neg, t in terms]
        return self.join_terms(out), ADD

    def term_text(self, term, shape, elide=True):
        part = self.broadcast_part(term, shape) if elide else None
        text, prec = self.p(term if part is None else part)
        return self.parens(text) if prec <= ADD else text

    # -- scalars ----------------------------------------------------------------------------------
    def _Mul(self, e):
        coeff, rest = e.as_coeff_Mul()
        num, den = [], []
        for f in sp.Mul.make_args(rest):
            if isinstance(f, sp.Pow) and ops.negative_number(f.exp):
                den.append(f.base ** -f.exp)
            else:
                num.append(f)
        text = " * ".join(self.wrap(f, MUL, strict=i > 0) for i, f in enumerate(num)) if num else "1.0"
        prec = MUL if len(num) > 1 or den else (self.p(num[0])[1] if num else ATOM)
        for d in den:
            text = f"{text} / {self.wrap(d, MUL, strict=True)}"
            prec = MUL
        return self.scaled(coeff, text, prec)

    def _Pow(self, e):
        base, exp = e.args
        if exp == sp.S.Half:
            return f"{self.xp}.sqrt({self.text(base)})", ATOM
        if ops.negative_number(exp):
            return self._Mul(sp.Mul(1, e, evaluate=False))
        return f"{self.wrap(base, POW, strict=True)} ** {self.exponent_text(exp)}", POW


def ones_product_full(mats, shape):
    """Whether M0 @ ones @ ... @ Mk prints full: each end segment present, or the result has
    a single row (no first segment needed) or a single column (no last one); with neither end
    segment it prints as a number."""
    rows, cols = shape
    first, last = not isinstance(mats[0], OneMatrix), not isinstance(mats[-1], OneMatrix)
    return (first or rows == 1) and (last or cols == 1) and (first or last)


__all__ = ["NumpyPrinter", "float_text", "CMP"]


def pooled_window(e):
    """The window of blockmax(im2col(A, window), KH*KW) when the windows lie side by side (max
    pooling read from A in place), else None."""
    if not isinstance(e, BlockMax) or not isinstance(e.arg, Im2col):
        return None
    w = e.arg.window
    return w if w.tiles() and e.blocks == w.KH * w.KW else None


def repeated_blocks(e):
    """(coeff, [factors]) when e is coeff * factors @ kron(ones(g).T, eye(C)) (G repeated across
    g blocks), else None."""
    if not isinstance(e, MatMul):
        return None
    coeff, mats = ops.split_coeff(e)
    blocks = block_ones(mats[-1]) if len(mats) > 1 else None
    if blocks is None or blocks[0] != "repeat":
        return None
    return coeff, mats[:-1]


def block_ones(m):
    """("repeat", g, C) for kron(ones(g).T, eye(C)), ("sum", g, C) for kron(ones(g), eye(C))
    (or their transposes), else None: the products that repeat or add blocks of C columns."""
    transposed = isinstance(m, Transpose)
    K = m.arg if transposed else m
    if not isinstance(K, KroneckerProduct) or len(K.args) != 2:
        return None
    ones, eye = K.args
    if not isinstance(ones, OneMatrix) or not isinstance(eye, Identity) or not eye.rows.is_Integer:
        return None
    rows, cols = (ones.cols, ones.rows) if transposed else (ones.rows, ones.cols)
    if rows == 1 and cols.is_Integer:
        return "repeat", int(cols), int(eye.rows)
    if cols == 1 and rows.is_Integer:
        return "sum", int(rows), int(eye.rows)
    return None
