"""Random expression TEXT over the whole notation, with its shapes and how to draw its values.

A case is `Case(text, shapes, draw)`: the text as a user would type it, the declared shape of
every symbol in it, and for each symbol the kind of value to draw ('normal', 'positive' or
'spd' = B @ B.T / n + I). The text is built for a target shape, with shape bookkeeping at every
step: each subexpression is generated for a shape (rows, cols) over the dimensions "n", "m" and
"1" ((1, 1) is a scalar), and printed with Python's precedence, adding parentheses only where
the grammar needs them (and now and then where it does not).

Two front ends share one grammar, through a small "choices" object:

* `cases(target, max_depth)`: a hypothesis `@composite` strategy (shrinks toward leaves);
* `random_case(rng, target, max_depth)`: the same grammar driven by `random.Random(seed)`, for
  long campaigns outside hypothesis (benchmarks/fuzz.py).

What the grammar covers: + - * / @ .T and unary minus; powers with integer, fractional and
negative exponents; every function of matcalc/reference.py except kron, vec and commutation;
1 x 1 products used as scalars; the row broadcast X@W + b.T (and X * b.T, X / b.T); hconcat(P, Q) @ concat(R, S); transposes of sums and products;
inv/det/logdet of well-conditioned squares; softmax and logsumexp of vectors and row-wise;
diag both ways; eye and ones. Values stay mostly inside each function's domain (log of
positive things, arcsin of tanh(...), ...), but not always: now and then a fractional power or
a log gets an argument of any sign on purpose, and the checks skip the points where the
reference is not finite. What it does not do: draw values (tests/trust_checks.py does), or
decide what is checked.
"""
import random
import re
from typing import NamedTuple

from hypothesis import assume
from hypothesis import strategies as st


class Case(NamedTuple):
    text: str
    shapes: dict      # name -> () | ("n",) | ("n", "m")
    draw: dict        # name -> "normal" | "positive" | "spd"


# ---- the symbols --------------------------------------------------------------------------------
SYMBOLS = {
    "a": ((), "normal"), "c": ((), "normal"), "p": ((), "positive"),
    "x": (("n",), "normal"), "y": (("n",), "normal"), "u": (("n",), "positive"),
    "v": (("m",), "normal"), "b": (("m",), "normal"),
    "A": (("n", "n"), "normal"), "B": (("n", "n"), "normal"), "S": (("n", "n"), "spd"),
    "M": (("m", "m"), "normal"), "R": (("m", "m"), "spd"),
    "X": (("n", "m"), "normal"), "Y": (("n", "m"), "normal"), "P": (("n", "m"), "positive"),
}
SCALAR = ("1", "1")
LEAVES = {
    SCALAR: ["a", "c", "p", "2", "0.5", "3", "1.5"],
    ("n", "1"): ["x", "y", "u"], ("1", "n"): ["x.T", "y.T", "u.T"],
    ("m", "1"): ["v", "b"], ("1", "m"): ["v.T", "b.T"],
    ("n", "n"): ["A", "B", "S", "A.T", "S.T"], ("m", "m"): ["M", "R", "M.T"],
    ("n", "m"): ["X", "Y", "P"], ("m", "n"): ["X.T", "Y.T", "P.T"],
}
POSITIVE_LEAVES = {SCALAR: ["p", "2", "0.5"], ("n", "1"): ["u"], ("1", "n"): ["u.T"],
                   ("n", "m"): ["P"], ("m", "n"): ["P.T"]}
SPD = {"n": "S", "m": "R"}
DIMS = ("n", "m")

TARGETS = {
    "scalar": [SCALAR],
    "vector": [("n", "1"), ("m", "1")],
    "matrix": [("n", "m"), ("n", "n"), ("m", "n"), ("1", "m")],
}
TARGETS["nonscalar"] = TARGETS["vector"] + TARGETS["matrix"]
TARGETS["any"] = TARGETS["scalar"] + TARGETS["nonscalar"]

# Functions NOTATION.md does not list but reference.py knows: drawn less often, since an engine
# that refuses them spends the case on a refusal.
EXTENSION_WEIGHT = 1
CORE_WEIGHT = 4
SMOOTH = {"sin": CORE_WEIGHT, "cos": CORE_WEIGHT, "tanh": CORE_WEIGHT, "sigmoid": CORE_WEIGHT,
          "softplus": CORE_WEIGHT, "arctan": EXTENSION_WEIGHT, "softsign": EXTENSION_WEIGHT,
          "gelu": EXTENSION_WEIGHT}
KINKED = {"relu": CORE_WEIGHT, "abs": CORE_WEIGHT, "sign": 1, "step": 1}
DOMAIN = {"exp": CORE_WEIGHT, "log": CORE_WEIGHT, "sqrt": CORE_WEIGHT, "log1p": EXTENSION_WEIGHT,
          "arcsin": EXTENSION_WEIGHT, "arccos": EXTENSION_WEIGHT, "tan": EXTENSION_WEIGHT}
# exponent text -> (weight, needs a positive base)
EXPONENTS = {"2": (6, False), "3": (3, False), "0": (1, False), "-1": (3, True), "(-1)": (1, True),
             "-(2)": (1, True), "0.5": (4, True), "1.5": (2, True), "-0.5": (2, True),
             "2.5": (1, True), "(0.5)": (1, True), "(1/3)": (EXTENSION_WEIGHT, True),
             "2**2": (EXTENSION_WEIGHT, False)}


# ---- choices: hypothesis or random.Random -------------------------------------------------------
class RandomChoices:
    """Choices from random.Random (plain campaigns)."""

    def __init__(self, rng):
        self.rng = rng

    def pick(self, options, weights=None):
        return self.rng.choices(list(options), weights=weights)[0]

    def chance(self, p):
        return self.rng.random() < p


class HypothesisChoices:
    """Choices from a hypothesis `draw`; the first option is where shrinking goes."""

    def __init__(self, draw):
        self.draw = draw

    def pick(self, options, weights=None):
        options = list(options)
        if weights is None:
            return self.draw(st.sampled_from(options))
        k = self.draw(st.integers(0, sum(weights) - 1))
        for option, w in zip(options, weights):
            if k < w:
                return option
            k -= w
        raise AssertionError("unreachable")

    def chance(self, p):
        # hypothesis favours small integers, so "no" goes first: the generated texts are then
        # about as long as the plain generator's, and shrinking still works through the depth
        return self.pick([False, True], [round(1000 * (1 - p)), round(1000 * p)])


# ---- printing with precedence -------------------------------------------------------------------
ADD, MUL, UNARY, POWER, ATOM = 1, 2, 3, 4, 5     # Python's levels: + -, @ * /, -x, **, f(x) x.T


class Text(NamedTuple):
    text: str
    level: int


def operand(e, level):
    """e's text, parenthesised if it binds looser than `level`."""
    return e.text if e.level >= level else f"({e.text})"


def binary(left, op, right, level):
    """Left-associative: the right operand needs parentheses at its own level too."""
    return Text(f"{operand(left, level)} {op} {operand(right, level + 1)}", level)


# ---- the grammar --------------------------------------------------------------------------------
class Grammar:
    """Builds the text of an expression of a given shape; records the dimensions it writes."""

    def __init__(self, choices):
        self.choose = choices
        self.dimension_arguments = set()     # dimensions written in eye(...), ones(...)

    # -- entry points --
    def expression(self, shape, depth, top=False):
        """Text of `shape` = (rows, cols), at most `depth` levels deep."""
        if depth <= 0 or (not top and self.choose.chance(0.25)):
            return self.leaf(shape)
        productions = self.productions(shape)
        names = list(productions)
        make = productions[self.choose.pick(names, [productions[n][0] for n in names])][1]
        e = make(shape, depth - 1)
        if e.level < ATOM and self.choose.chance(0.05):
            e = Text(f"({e.text})", ATOM)                  # a redundant pair of parentheses
        return e

    def productions(self, shape):
        """name -> (weight, builder(shape, depth)) for the productions that fit the shape."""
        r, c = shape
        scalar = shape == SCALAR
        p = {
            "add": (4, self.add), "subtract": (3, self.subtract), "negate": (1, self.negate),
            "hadamard": (3, self.hadamard), "scale": (4, self.scale), "divide": (2, self.divide),
            "matmul": (5, self.matmul), "smooth": (4, self.smooth), "kinked": (2, self.kinked),
            "domain": (4, self.domain), "power": (4, self.power),
            "variable_power": (EXTENSION_WEIGHT, self.variable_power),
            "scale_by_product": (2, self.scale_by_product),
            "entrywise_pair": (EXTENSION_WEIGHT, self.entrywise_pair),
        }
        if not scalar:
            p.update(transpose=(2, self.transpose), softmax=(2, self.softmax),
                     block_product=(EXTENSION_WEIGHT, self.block_product))
        if r != "1" and c != "1":
            p.update(row_broadcast=(3, self.row_broadcast), ones=(1, self.ones))
            if r != c:
                p.update(row_scale=(EXTENSION_WEIGHT, self.row_scale))
        if r == c and r != "1":
            p.update(inverse=(2, self.inverse), diag_matrix=(1, self.diag_matrix),
                     eye=(1, self.eye), matrix_power=(EXTENSION_WEIGHT, self.matrix_power))
        if c == "1" and r != "1":
            p.update(diag_vector=(1, self.diag_vector), row_logsumexp=(2, self.row_logsumexp),
                     solve=(1, self.solve), ones=(1, self.ones))
        if r == "1" and c != "1":
            p.update(softmax=(1, self.softmax), product_times_row=(1, self.product_times_row))
        if scalar:
            p.update(trace=(3, self.trace), entry_sum=(3, self.entry_sum), norm=(2, self.norm),
                     mean=(EXTENSION_WEIGHT, self.mean), det=(1, self.det),
                     largest=(EXTENSION_WEIGHT, self.largest), p_norm=(EXTENSION_WEIGHT, self.p_norm),
                     logdet=(2, self.logdet), logsumexp=(2, self.logsumexp),
                     bilinear=(3, self.bilinear), sqrt_quadratic=(2, self.sqrt_quadratic),
                     transposed_product=(1, self.transposed_product))
        return p

    def leaf(self, shape):
        text = self.choose.pick(LEAVES[shape])
        return self.named(text)

    def named(self, text):
        """A symbol, or its transpose, as an operand."""
        return Text(text, ATOM)

    def sub(self, shape, depth):
        return self.expression(shape, depth)

    def inner_dimension(self, r, c):
        """k for an (r, k) @ (k, c) product; k = 1 (an outer product) only between matrices."""
        return self.choose.pick(DIMS + ("1",) if r != "1" and c != "1" else DIMS)

    # -- operators --
    def add(self, shape, d):
        return binary(self.sub(shape, d), "+", self.sub(shape, d), ADD)

    def subtract(self, shape, d):
        return binary(self.sub(shape, d), "-", self.sub(shape, d), ADD)

    def negate(self, shape, d):
        return Text("-" + operand(self.sub(shape, d), UNARY), UNARY)

    def hadamard(self, shape, d):
        return binary(self.sub(shape, d), "*", self.sub(shape, d), MUL)

    def scale(self, shape, d):
        s, e = self.sub(SCALAR, d), self.sub(shape, d)
        return binary(s, "*", e, MUL) if self.choose.chance(0.5) else binary(e, "*", s, MUL)

    def divide(self, shape, d):
        form = self.choose.pick(["elementwise", "by_scalar", "scalar_over"], [5, 3, 2])
        if form == "by_scalar":
            return binary(self.sub(shape, d), "/", self.positive(SCALAR, d), MUL)
        if form == "scalar_over" and shape != SCALAR:          # s / A: s over every entry
            return binary(self.sub(SCALAR, d), "/", self.positive(shape, d), MUL)
        return binary(self.sub(shape, d), "/", self.positive(shape, d), MUL)

    def matmul(self, shape, d):
        r, c = shape
        k = self.inner_dimension(r, c)
        return binary(self.sub((r, k), d), "@", self.sub((k, c), d), MUL)

    def block_product(self, shape, d):
        """hconcat(P, Q) @ concat(R, S): concatenations whose n + m dimension the product
        consumes (the grammar's shapes are over n, m and 1 only)."""
        r, c = shape
        k1, k2 = self.choose.pick(DIMS), self.choose.pick(DIMS)
        return binary(self.call("hconcat", self.sub((r, k1), d), self.sub((r, k2), d)), "@",
                      self.call("concat", self.sub((k1, c), d), self.sub((k2, c), d)), MUL)

    def transpose(self, shape, d):
        r, c = shape
        return Text(operand(self.sub((c, r), d), ATOM) + ".T", ATOM)

    def power(self, shape, d):
        names = list(EXPONENTS)
        exponent = self.choose.pick(names, [EXPONENTS[n][0] for n in names])
        needs_positive = EXPONENTS[exponent][1]
        form = self.choose.pick(["positive", "square", "any"], [6, 2, 2] if needs_positive
                                else [1, 1, 8])
        if form == "positive":
            base = self.positive(shape, d)
        elif form == "square":                    # (E**2)**0.5 and friends
            base = Text(f"{operand(self.sub(shape, d), ATOM)}**2", POWER)
        else:                                     # any sign: (-x)**0.5 gives NaN, skipped
            base = self.sub(shape, d)
        return Text(f"{operand(base, ATOM)}**{exponent}", POWER)

    def variable_power(self, shape, d):
        """A varying exponent (issue 14): E**a, E**(scalar text) of a mostly positive base (the
        domain where log(E), in the derivative, is real), or p**E, a positive scalar to a
        bounded matrix of powers."""
        form = self.choose.pick(["symbol", "expression", "scalar base"], [3, 1, 1])
        if form == "scalar base":
            return Text(f"p**{operand(self.bounded(shape, d - 1), ATOM)}", POWER)
        exponent = (self.named(self.choose.pick(["a", "c", "p"])) if form == "symbol"
                    else self.bounded(SCALAR, d - 1))
        return Text(f"{operand(self.positive(shape, d - 1), ATOM)}**{operand(exponent, ATOM)}",
                    POWER)

    def scale_by_product(self, shape, d):
        """A 1 x 1 product used as a scalar: (x.T@y)*A."""
        k = self.choose.pick(DIMS)
        product = binary(self.sub(("1", k), d), "@", self.sub((k, "1"), d), MUL)
        return binary(product, "*", self.sub(shape, d), MUL)

    def row_broadcast(self, shape, d):
        """X@W + b.T: a 1 x c row onto an r x c matrix, either side, + or -."""
        r, c = shape
        M, row = self.sub(shape, d), self.sub(("1", c), d)
        op = self.choose.pick(["+", "-"])
        return binary(M, op, row, ADD) if self.choose.chance(0.7) else binary(row, op, M, ADD)

    def row_scale(self, shape, d):
        """X * b.T, X / b.T, b.T * X: a 1 x c row times or over an r x c matrix (r != c, so
        that * is not read as a mistaken @)."""
        r, c = shape
        M, row = self.sub(shape, d), self.sub(("1", c), d)
        op = self.choose.pick(["*", "/"])
        return binary(M, op, row, MUL) if self.choose.chance(0.7) else binary(row, op, M, MUL)

    def product_times_row(self, shape, d):
        """A 1 x 1 product stays a matrix as an operand of @: (x.T@y)@b.T."""
        k = self.choose.pick(DIMS)
        product = binary(self.sub(("1", k), d), "@", self.sub((k, "1"), d), MUL)
        return Text(f"({product.text})@{operand(self.sub(shape, d), MUL + 1)}", MUL)

    # -- elementwise functions --
    def call(self, name, *args):
        return Text(f"{name}({', '.join(a.text for a in args)})", ATOM)

    def weighted(self, table):
        names = list(table)
        return self.choose.pick(names, [table[n] for n in names])

    def smooth(self, shape, d):
        return self.call(self.weighted(SMOOTH), self.sub(shape, d))

    def kinked(self, shape, d):
        return self.call(self.weighted(KINKED), self.sub(shape, d))

    def domain(self, shape, d):
        f = self.weighted(DOMAIN)
        if f == "exp":
            arg = self.sub(shape, d) if self.choose.chance(0.5) else self.bounded(shape, d)
        elif f in ("log", "sqrt", "log1p"):
            arg = self.positive(shape, d)
        else:                                    # arcsin, arccos, tan
            arg = self.bounded(shape, d)
        return self.call(f, arg)

    def positive(self, shape, d):
        """Mostly positive text of the shape; now and then anything (then NaN is skipped)."""
        options = {"leaf": 3 if shape in POSITIVE_LEAVES else 0, "exp": 2, "square_plus_one": 2,
                   "sigmoid": 1, "softplus": 1, "one_plus_abs": 1, "any": 1}
        form = self.weighted(options)
        if form == "leaf" or d <= 0:
            if shape in POSITIVE_LEAVES:
                return self.named(self.choose.pick(POSITIVE_LEAVES[shape]))
            return Text(f"{operand(self.leaf(shape), ATOM)}**2 + 1", ADD)
        if form == "exp":
            return self.call("exp", self.bounded(shape, d - 1))
        if form == "square_plus_one":
            return Text(f"{operand(self.sub(shape, d - 1), ATOM)}**2 + 1", ADD)
        if form in ("sigmoid", "softplus"):
            return self.call(form, self.sub(shape, d - 1))
        if form == "one_plus_abs":
            return Text(f"1 + abs({self.sub(shape, d - 1).text})", ADD)
        return self.sub(shape, d - 1)

    def bounded(self, shape, d):
        """Mostly text with entries in (-1, 1); now and then anything."""
        form = self.choose.pick(["tanh", "half_sin", "sigmoid", "any"], [4, 2, 2, 1])
        if form == "any":
            return self.sub(shape, d)
        if form == "half_sin":
            return Text(f"0.5*sin({self.sub(shape, d).text})", MUL)
        return self.call(form, self.sub(shape, d))

    # -- matrix functions --
    def well_conditioned(self, k, d):
        """A k x k matrix far from singular: the spd symbol, E@E.T + eye(k), or a small
        perturbation of the spd symbol (not symmetric)."""
        form = self.choose.pick(["symbol", "gram", "perturbed"], [3, 2, 2])
        if form == "symbol" or d <= 0:
            return self.named(SPD[k])
        if form == "gram":
            self.dimension_arguments.add(k)
            E = operand(self.sub((k, self.choose.pick(DIMS)), d - 1), ATOM)
            return Text(f"{E}@{E}.T + eye({k})", ADD)
        spd = self.named(SPD[k]).text
        return Text(f"{spd} + 0.1*tanh({self.sub((k, k), d - 1).text})", ADD)

    def inverse(self, shape, d):
        return self.call("inv", self.well_conditioned(shape[0], d))

    def solve(self, shape, d):
        r = shape[0]
        return binary(self.call("inv", self.well_conditioned(r, d)), "@", self.sub(shape, d), MUL)

    def det(self, shape, d):
        return self.call("det", self.well_conditioned(self.choose.pick(DIMS), d))

    def logdet(self, shape, d):
        return self.call("logdet", self.well_conditioned(self.choose.pick(DIMS), d))

    def diag_matrix(self, shape, d):
        return self.call("diag", self.sub((shape[0], "1"), d))

    def diag_vector(self, shape, d):
        return self.call("diag", self.sub((shape[0], shape[0]), d))

    def eye(self, shape, d):
        self.dimension_arguments.add(shape[0])
        return Text(f"eye({shape[0]})", ATOM)

    def ones(self, shape, d):
        r, c = shape
        self.dimension_arguments.update({r, c} - {"1"})
        return Text(f"ones({r})" if c == "1" else f"ones({r}, {c})", ATOM)

    def matrix_power(self, shape, d):
        return Text(f"matrix_power({self.sub(shape, d).text}, {self.choose.pick(['0', '1', '2', '3'])})",
                    ATOM)

    def softmax(self, shape, d):
        return self.call("softmax", self.sub(shape, d))

    def row_logsumexp(self, shape, d):
        return self.call("logsumexp", self.sub((shape[0], self.choose.pick(DIMS)), d))

    def logsumexp(self, shape, d):
        return self.call("logsumexp", self.sub((self.choose.pick(DIMS), "1"), d))

    def any_shape(self):
        return self.choose.pick([s for s in LEAVES])

    def trace(self, shape, d):
        k = self.choose.pick(DIMS)
        return self.call("tr", self.sub((k, k), d))

    def entry_sum(self, shape, d):
        return self.call("sum", self.sub(self.any_shape(), d))

    def norm(self, shape, d):
        return self.call("norm", self.sub(self.any_shape(), d))

    def mean(self, shape, d):
        return self.call("mean", self.sub(self.any_shape(), d))

    def largest(self, shape, d):
        return self.call(self.choose.pick(["max", "min"]), self.sub(self.any_shape(), d))

    def p_norm(self, shape, d):
        name = self.choose.pick(["norm1", "norm(, 1)", "norm(, 3)"])
        A = self.sub(self.any_shape(), d)
        if name == "norm1":
            return self.call("norm1", A)
        return Text(f"norm({A.text}, {name[-2]})", ATOM)

    def entrywise_pair(self, shape, d):
        """maximum/minimum/max/min of two, clip: kinks where the arguments meet."""
        name = self.choose.pick(["maximum", "minimum", "max", "min", "clip"])
        if name == "clip":
            return Text(f"clip({self.sub(shape, d).text}, -1, 2)", ATOM)
        return self.call(name, self.sub(shape, d), self.sub(shape, d))

    def bilinear(self, shape, d):
        k, j = self.choose.pick(DIMS), self.choose.pick(DIMS)
        left = binary(self.sub(("1", k), d), "@", self.sub((k, j), d), MUL)
        return binary(left, "@", self.sub((j, "1"), d), MUL)

    def sqrt_quadratic(self, shape, d):
        """sqrt(w.T@S@w) with the same column w twice and S positive definite."""
        k = self.choose.pick(DIMS)
        w = operand(self.sub((k, "1"), d), ATOM)
        return Text(f"sqrt({w}.T@{self.named(SPD[k]).text}@{w})", ATOM)

    def transposed_product(self, shape, d):
        k = self.choose.pick(DIMS)
        product = binary(self.sub(("1", k), d), "@", self.sub((k, "1"), d), MUL)
        return Text(f"({product.text}).T", ATOM)


# ---- cases --------------------------------------------------------------------------------------
def build_case(choices, target, max_depth):
    """A Case for a target shape, or None when the text writes a dimension (in eye/ones) that
    no symbol of the text carries (the size would have to come from outside)."""
    grammar = Grammar(choices)
    text = grammar.expression(target, max_depth, top=True).text
    shapes = {name: SYMBOLS[name][0] for name in symbols_in(text, SYMBOLS)}
    carried = {d for shape in shapes.values() for d in shape}
    if not grammar.dimension_arguments <= carried:
        return None
    return Case(text, shapes, {name: SYMBOLS[name][1] for name in shapes})


@st.composite
def cases(draw, target="any", max_depth=4):
    """Hypothesis strategy: a Case whose value has one of the shapes of TARGETS[target]."""
    choices = HypothesisChoices(draw)
    shape = choices.pick(TARGETS[target])
    case = build_case(choices, shape, draw(st.integers(1, max_depth)))
    assume(case is not None and case.shapes)
    return case


def random_case(rng, target="any", max_depth=4):
    """The same grammar driven by a random.Random: a Case (retries until one is well-formed)."""
    choices = RandomChoices(rng)
    while True:
        shape = choices.pick(TARGETS[target])
        case = build_case(choices, shape, rng.randint(1, max_depth))
        if case is not None and case.shapes:
            return case


def symbols_in(text, shapes):
    """The declared symbols that occur in the text, sorted."""
    return sorted(name for name in shapes if re.search(rf"(?<![\w.]){name}(?!\w)", text))


if __name__ == "__main__":          # a look at what the grammar writes
    generator = random.Random(0)
    for _ in range(20):
        print(random_case(generator).text)
