"""What the trust checks found in the first engine: one entry per class, each fixed.

`FIXED` (wrong answers and internal errors) and `FIXED_REFUSALS` (valid text refused) are the
classes the fuzzing found (a minimal reproducer each; FUZZ_FINDINGS.md has them at length).
tests/test_trust.py runs every reproducer, and each must pass. The property tests tolerate no
failure at all: a class found later gets an entry here once it is fixed. What this file does not
do: run anything.
"""
import re
from dataclasses import dataclass

from strategies import Case

# A fractional power of a parenthesised expression: (E**2)**0.5, (b * b)**1.5, (x**4)**-0.25
FRACTIONAL_POWER_OF_GROUP = re.compile(r"\)\*\*[-+(]*(\d*\.\d|1/)")


@dataclass(frozen=True)
class Known:
    id: str
    reason: str
    repro: tuple                 # (kind, Case, wrt, seed) for trust_checks.check
    text: str = ""               # regex the case text must match ("" matches every text)
    detail: str = ""             # regex the outcome's detail must match
    status: str = "failed"       # failed | refused

    def matches(self, outcome):
        return (outcome.status == self.status and re.search(self.detail, outcome.detail) is not None
                and (not self.text or re.search(self.text, outcome.case.text) is not None))


def case(text, shapes, draw=None):
    return Case(text, shapes, draw or {n: "normal" for n in shapes})



FIXED = [
    Known(
        id="power-of-a-power",
        reason="(E**2)**p is folded to E**(2*p), which is |E|**(2*p) only for E >= 0: "
               "(x**2)**0.5 evaluates to x, not |x| (and (b*b)**0.5, first made b**2, to b); "
               "values and every derivative are wrong where E < 0",
        repro=("value", case("(x**2)**0.5", {"x": ("n",)}), None, 0),
        text=FRACTIONAL_POWER_OF_GROUP.pattern,
        detail=r"wrong value",
    ),
    Known(
        id="abs-of-a-reordered-difference",
        reason="a scalar function (abs, sqrt inside tanh, a fractional power) of a 1 x 1 "
               "expression holding a difference that SymPy reorders (y - x becomes -(x - y)) "
               "raises NotImplementedError 'noncommutative scalars in MatMul' from ops.apply / "
               "ops.hpow / simplify, or TypeError 'Mix of Matrix and Scalar symbols'",
        repro=("value", case("abs(y.T@(y - x))", {"x": ("n",), "y": ("n",)}), None, 0),
        detail=r"NotImplementedError: noncommutative scalars in MatMul|"
               r"TypeError: Mix of Matrix and Scalar symbols",
    ),
    Known(
        id="abs-of-trace-of-a-reordered-difference",
        reason="abs(tr(A.T - A)) raises TypeError 'input to Trace, -(A - A.T), is not a matrix' "
               "in ops.apply: the sign pulled out of the difference leaves Trace a scalar",
        repro=("value", case("abs(tr(A.T - A))", {"A": ("n", "n")}), None, 0),
        detail=r"TypeError: input to Trace, .*, is not a matrix",
    ),
    Known(
        id="generated-code-drops-eliminated-inputs",
        reason="when simplification removes a symbol of the text (y**0, y - y, p/p), the "
               "generated value_and_grad has no parameter for it and calling it with every "
               "symbol of the text raises TypeError 'unexpected keyword argument'",
        repro=("codegen", case("x.T @ (y - y + x)", {"x": ("n",), "y": ("n",)}), ["x"], 0),
        detail=r"generated code: TypeError: value_and_grad\(\) got an unexpected keyword",
    ),

    Known(
        id="runaway-simplification",
        reason="the gradient of logdet(A@A.T)/exp(sin(2) + 2) (and the Hessian of "
               "exp(abs(a) + 3)/sigmoid((b.T@log(b**2 + 1)).T)) runs simplify.py for about 30 s "
               "and ends in RecursionError; with the per-case time limit it is a timeout",
        repro=("grad", case("logdet(A@A.T)/exp(sin(2) + 2)", {"A": ("n", "n")}), ["A"], 0),
        detail=r"RecursionError|timeout",
    ),
    Known(
        id="common-coefficient-divides",
        reason="taking a common scalar out of a sum divided each coefficient by it: "
               "3*c**2*(1 - t**2)/(3 - 3*t**2) stays uncancelled, and where tanh saturates "
               "(t = 1) the Hessian of tanh(c*(v.T@M.T@v*(c*3))) is 0/0 = NaN (new engine, "
               "slow 20,000-case run)",
        repro=("hessian", Case("tanh(c * (v.T @ M.T @ v * (c * 3)))",
                               {"v": ("n",), "M": ("n", "n"), "c": ()},
                               {"v": "normal", "M": "normal", "c": "normal"}), "v", 2),
        detail=r"not finite",
    ),
    Known(
        id="complement-of-a-saturated-sigmoid",
        reason="sigmoid's derivative sigmoid(z)*(1 - sigmoid(z)) evaluated as a subtraction keeps "
               "one digit where sigmoid(z) rounds to within an ulp of 1 (z = 36): the HVP of "
               "arccos(sigmoid(...)) was 5.7% off while finite differences sided with autograd "
               "(new engine, fuzz seed 7); evaluate now computes 1 - sigmoid(z) as sigmoid(-z)",
        repro=("hvp", Case("arccos(sigmoid(sum(v.T @ v * b.T)))", {"b": ("m",), "v": ("m",)},
                           {"b": "normal", "v": "normal"}), "v", 278161411),
        text=r"sigmoid",
        detail=r"Hessian-vector product",
    ),
    Known(
        id="in-place-through-an-alias",
        reason="`grad_softmax = t1` names t1's buffer again; the in-place pass took the alias "
               "for a fresh array and wrote np.multiply(grad_softmax, softmax, out=grad_softmax) "
               "while t1 was still read: a wrong gradient wrt b (new engine, fuzz seed 11)",
        repro=("codegen", Case("y.T @ (Y + b.T + softmax(b.T)) @ v",
                               {"Y": ("n", "m"), "b": ("m",), "v": ("m",), "y": ("n",)},
                               {"Y": "normal", "b": "normal", "v": "normal", "y": "normal"}),
               ["Y", "b", "v", "y"], 1717133679),
        text=r"softmax",
        detail=r"wrong value: generated gradient",
    ),
    Known(
        id="value-line-reads-a-backward-name",
        reason="the value line is printed from f's scalar form, whose 1 x 1 parts can be named "
               "nodes f's own DAG does not hold: forward read t1, defined only in backward "
               "(NameError in generated code; new engine, fuzz seed 21)",
        repro=("codegen", Case("arcsin(tanh(y.T + y.T)) @ (y - x) * x.T @ log1p(x.T**2 + 1).T",
                               {"x": ("n",), "y": ("n",)}, {"x": "normal", "y": "normal"}),
               ["y"], 1002475853),
        detail=r"NameError",
    ),
    Known(
        id="max-mask-written-as-a-difference",
        reason="d(max(A)) marked the largest entry with 1 - step(max(A) - A); with A = x - 1 the "
               "constructors wrote max(A) - A as (1 + max(x - 1)) - x, which rounds away from 0 at "
               "the largest entry, so every entry was unmarked and the gradient 0/0 (fuzz seed 43); "
               "the mask is now one node, ismax(A)",
        repro=("grad", Case("min(ones(n) - x)", {"x": ("n",)}, {"x": "normal"}), ["x"],
               2961343672),
        text=r"max|min",
        detail=r"not finite",
    ),
    Known(
        id="size-of-a-concatenation-not-printable",
        reason="a ones or identity matrix whose size is a concatenation's m + n (the adjoint of "
               "sum(concat(x, y)) is ones(m + n)) made to_text raise TypeError 'Cannot convert "
               "symbols to int' (text.py's dim read a size as a name or an integer only): the "
               "Jacobian of concat(x, y)*sum(concat(x, y)) failed while printing its derivation "
               "(fuzz seed 201, found from its codegen refusal); such a matrix now prints as "
               "its blocks, concat(ones(m), ones(n)), and a selection of it is simplified away",
        repro=("jacobian", case("concat(x, y)*sum(concat(x, y))", {"x": ("n",), "y": ("m",)}),
               "x", 0),
        text=r"concat",
        detail=r"TypeError: Cannot convert symbols to int",
    ),
    Known(
        id="power-with-a-matrix-sum-in-the-exponent",
        reason="p**sum(3*b + v) (and p**tanh(sqrt((b + v + (b + b)).T@R@(...))), 2**((3*b + "
               "v).T@(3*b + v)), p**norm(3*b + v)) raised TypeError 'Mix of Matrix and Scalar "
               "symbols' in parse: SymPy's Pow runs factor_terms over a compound exponent, which "
               "went on into the matrix argument of sum/norm/the 1 x 1 product and rebuilt "
               "3*b + v as a scalar sum (fuzz seed 207, max-depth 5); matcalc's scalars of a "
               "matrix are atoms to SymPy now (SymPy's own Trace and Determinant are not: "
               "p**tr(R + 2*R.T) still fails)",
        repro=("grad", Case("p**sum(3*b + v)", {"b": ("m",), "p": (), "v": ("m",)},
                            {"b": "normal", "p": "positive", "v": "normal"}), ["p", "b", "v"], 0),
        text=r"\*\*",
        detail=r"TypeError: Mix of Matrix and Scalar symbols",
    ),
]

# Valid text that the engine refuses with a MatcalcError whose message is wrong: not silent,
# so the property tests count these as refusals, but each is a bug with a strict xfail.
FIXED_REFUSALS = [
    Known(
        id="scalar-function-of-a-reordered-difference-refused",
        reason="sqrt(exp(sum(y - x))) is refused with 'sum() needs a matrix or vector, got a "
               "scalar' (likewise abs(sum(y - x)), exp(sum(y - x))**0.5): the sign pulled out of "
               "the reordered difference y - x = -(x - y) leaves sum() a scalar",
        repro=("value", case("sqrt(exp(sum(y - x)))", {"x": ("n",), "y": ("n",)}), None, 0),
        detail=r"needs a matrix or vector, got a scalar",
        status="refused",
    ),
    Known(
        id="abs-of-a-positive-function-refused",
        reason="abs(exp(sigmoid(a))) becomes re(...) in the expression, which mc.evaluate "
               "('cannot evaluate re') and grad ('no differential rule for re') then refuse",
        repro=("value", case("abs(exp(sigmoid(a)))", {"a": ()}), None, 0),
        detail=r"cannot evaluate re|no differential rule for re",
        status="refused",
    ),
    Known(
        id="hessian-of-diag-inside-abs-refused",
        reason="the Hessian of x.T@x + tr(abs(diag(x))) is refused with 'diag() needs a vector "
               "or a square matrix, got a scalar' (its gradient is fine)",
        repro=("hessian", case("x.T@x + tr(abs(diag(x)))", {"x": ("n",)}), "x", 0),
        detail=r"diag\(\) needs a vector or a square matrix, got a scalar",
        status="refused",
    ),
    Known(
        id="square-jacobian-not-evaluable",
        reason="the Jacobian of a function of a square matrix has dimension n**2, which "
               "mc.evaluate cannot size ('the size of dimension n**2 is unknown'): the engine "
               "cannot evaluate its own result (n x m matrices, with size n*m, are fine)",
        repro=("jacobian", case("-A", {"A": ("n", "n")}), "A", 0),
        detail=r"the size of dimension \w+\*\*2 is unknown",
        status="refused",
    ),
    Known(
        id="size-of-a-concatenation-not-evaluable",
        reason="mc.evaluate could not size a dimension m + n, the rows of concat(x, y) "
               "('the size of dimension m + n is unknown'): the gradient of sum(concat(x, y)), "
               "hconcat(eye(n), 0*ones(n, m))@ones(m + n) (now simplified to ones(n)), and the "
               "Jacobian of concat(x, y)*sum(concat(x, y)), which holds eye(m + n), were refused "
               "(fuzz seed 201)",
        repro=("jacobian", case("concat(x, y)*sum(concat(x, y))", {"x": ("n",), "y": ("m",)}),
               "y", 0),
        detail=r"the size of dimension .* \+ .* is unknown",
        status="refused",
    ),
    Known(
        id="size-of-a-concatenation-not-in-generated-code",
        reason="the NumPy printer knew the size of n and of n*m but not of m + n: codegen of "
               "sum(hconcat(Y, S) @ concat(M, Y)) was refused with 'the size of dimension m + n "
               "is not known to the generated code' (fuzz seeds 201, 202, 203)",
        repro=("codegen", Case("sum(hconcat(Y, S) @ concat(M, Y))",
                               {"M": ("m", "m"), "S": ("n", "n"), "Y": ("n", "m")},
                               {"M": "normal", "S": "spd", "Y": "normal"}),
               ["M", "S", "Y"], 1206217300),
        detail=r"the size of dimension .* \+ .* is not known to the generated code",
        status="refused",
    ),
]
