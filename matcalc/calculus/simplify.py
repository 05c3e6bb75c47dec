"""The human form of a result: small named rewrites applied bottom-up, once per shared node.

SymPy leaves `X@A + X@A.T` alone (simplify/factor_terms do not factor matrix products), so the
form a person writes comes from these rewrites, each an identity:

    merge_diagonals      a*diag(u) + b*diag(v) -> diag(a*u + b*v)
    rebuild              every node goes back through ops, whose constructors already merge
                         X + X -> 2*X, cancel X.T.T, and push transposes through products
    integer_floats       1.0*X -> X, 2.0*X -> 2*X (floats that are whole numbers)
    common_coefficient   c*A + c*B -> c*(A + B)
    common_right_factor  A@X + B@X -> (A + B)@X
    common_left_factor   X@A + X@B -> X@(A + B)
    flip_transposed_sum  (A@B.T + C.T).T -> B@A.T + C   when that leaves fewer transposes
    logistic             exp(Z)/(1 + exp(Z)) -> sigmoid(Z)
    elementwise_algebra  ((1 - y)/(1 - s) - y/s)*s*(1 - s) -> s - y: Hadamard products, powers
                         and sums are commutative scalar algebra, so SymPy's cancel/factor
                         simplify them; kept only when strictly smaller
    plain_first          in a factored sum, untransposed terms first: A.T + A -> A + A.T
    inner_product_sum    u.T@(v/u) -> sum(v): u.T@W = sum(u*W), taken when u*W cancels
    ones_product_sum     tr(ones(n, m)@M) -> sum(M), ones(n).T@w -> sum(w): a sum of entries
                         written as a product with ones (the read-off of a scalar variable)
    assumed facts        sum(y) -> 1 for a y assumed one-hot or on the simplex, y**2 -> y for
                         one-hot, ... (calculus/assumptions.py; each use is recorded)
    symmetric_inverse    inv(M).T -> inv(M) when M.T = M (X.T@X, A + A.T)
    block_product        hconcat(P, Q)@concat(R, S) -> P@R + Q@S when one of them is zero:
                         hconcat(eye(n), 0)@concat(A, B) -> A, the block a selection picks;
                         concat(P, Q)@R -> concat(P@R, Q@R) (L@hconcat likewise) when P or Q
                         is an eye or a zero block: concat(eye(m), 0)@A -> concat(A, 0);
                         a ones matrix next to a concatenation splits as its blocks:
                         hconcat(eye(n), 0)@ones(n + p) -> ones(n); a selection of a
                         selection (nested concat's adjoints) distributes to one selection
    block_sum            concat(A, B) + concat(C, D) -> concat(A + C, B + D), equal blocks
    transposed_product   B.T@A.T@C.T -> (C@A@B).T when that removes at least two transposes
                         (one saved transpose is not worth the parentheses: A.T@B.T stays, as in
                         the Cookbook's (101)); a last pass, so factoring sees the leaves

The walk is one memoised pass over the expression DAG (no recursion), so the cost is linear in
its size; the rewrites inside a node look only at that node's terms and factors. The pass of
transposed_product runs on the result, with its own memo kept inside the caller's.
"""
from functools import partial

import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Identity, Inverse, MatAdd, MatMul, OneMatrix,
                   Trace, Transpose, ZeroMatrix)
from sympy.matrices.expressions.diagonal import DiagMatrix

from ..core import dag, functions, ops
from ..core.blocks import Concat, joined
from ..core.nodes import Elementwise
from ..core.rebuild import rebuild as rebuild_node


class _LastPass:
    """The key, in a caller's memo, of the memo of the transposed_product pass."""


def simplify(e, memo=None, assume=None):
    """The human form of e. `memo` (a dict) may be shared between calls that simplify
    expressions with common parts, such as the gradients of all parameters of a network.
    `assume` (calculus/assumptions.Assumptions) adds the facts of assumed variables and records
    where they were used; a memo is shared only between calls with the same assumptions."""
    memo = {} if memo is None else memo
    fn = simplify_node if assume is None else partial(simplify_node, assume=assume)
    out = dag.transform(e, fn, memo)
    return dag.transform(out, transposed_product_node, memo.setdefault(_LastPass, {}))


def simplify_node(x, kids, assume=None):
    """One node, given its simplified children: rebuilt through ops, then the rewrites."""
    if dag.is_leaf(x):
        return x
    at = x
    x = rebuild_node(x, kids)
    if assume is not None:
        x = assume.rewrite(x, at)
    if isinstance(x, (MatMul, Trace)):
        x = ones_product_sum(x)
    if isinstance(x, MatMul):
        x = inner_product_sum(x, assume, at)
    if isinstance(x, MatMul):
        x = block_product(x)
    if isinstance(x, MatMul):
        c, ms = ops.split_coeff(x)
        whole = integer_floats(c)
        if whole is not c:
            x = ops.matmul(whole, *ms)
    if isinstance(x, Transpose):
        x = symmetric_inverse(x)
    if isinstance(x, MatAdd):
        x = block_sum(x)
    flipped = flip_transposed_sum(x)
    if flipped is not None:
        return factor_sum(elementwise_algebra(flipped))
    if isinstance(x, MatAdd):
        return factor_sum(elementwise_algebra(x))
    if isinstance(x, HadamardProduct):
        return logistic(elementwise_algebra(x))
    if isinstance(x, sp.Mul):
        return logistic(integer_floats(x))
    if isinstance(x, sp.Add):
        return integer_floats(x)
    return x


def integer_floats(c):
    """2.0 -> 2 in a scalar: floats that are whole numbers become integers."""
    if ops.is_matrix(c):
        return c
    if c.is_Float:
        return sp.Integer(int(c)) if float(c).is_integer() else c
    if isinstance(c, (sp.Mul, sp.Add)) and any(a.is_Float for a in c.args):
        return c.func(*[integer_floats(a) if a.is_Float else a for a in c.args])
    return c


def _terms(e):
    return list(e.args) if isinstance(e, MatAdd) else [e]


def factor_sum(e, coefficients=True):
    """Apply the factoring rewrites to a sum, outermost first. Each rewrite either takes out a
    common coefficient once (then only factors are taken out of what remains) or a common
    matrix factor (which leaves strictly fewer factors), so this terminates."""
    e = merge_diagonals(e)
    if not isinstance(e, MatAdd):
        return e
    rewrites = (common_coefficient, common_right_factor, common_left_factor) if coefficients \
        else (common_right_factor, common_left_factor)
    for rewrite in rewrites:
        out = rewrite(e)
        if out is not None:
            return out
    return e


def merge_diagonals(e):
    """a*diag(u) + b*diag(v) = diag(a*u + b*v)"""
    if not isinstance(e, MatAdd):
        return e
    diagonal, other = [], []
    for t in e.args:
        c, ms = ops.split_coeff(t)
        if len(ms) == 1 and isinstance(ms[0], DiagMatrix):
            diagonal.append(ops.scale(c, ms[0].args[0]))
        else:
            other.append(t)
    if len(diagonal) < 2:
        return e
    merged = ops.diag(elementwise_algebra(ops.add(*diagonal)))
    return ops.add(merged, *other)


def common_coefficient(e):
    """c*A + c*B = c*(A + B)"""
    parts = [ops.split_coeff(t) for t in _terms(e)]
    common, quotients = _common_scalar([c for c, _ in parts])
    if common == 1:
        return None
    inner = ops.add(*[ops.matmul(q, *ms) for q, (_, ms) in zip(quotients, parts)])
    return ops.scale(common, plain_first(factor_sum(inner, coefficients=False)))


def _common_scalar(coeffs):
    """The largest scalar factor shared by all coefficients (sign included when all negative),
    and each coefficient with it taken out. The shared factors are removed from each product,
    never divided out: SymPy does not cancel 3*c*(1 - t)/(3 - 3*t), and where t = 1 that
    quotient is 0/0 although the coefficient is a plain 0."""
    coeffs = [integer_floats(c) for c in coeffs]
    numbers = [c.as_coeff_Mul()[0] for c in coeffs]
    rests = [c.as_coeff_Mul()[1] for c in coeffs]
    num = sp.Integer(1)
    if all(n.is_Rational for n in numbers):
        g = numbers[0]
        for n in numbers[1:]:
            g = sp.gcd(g, n)
        num = abs(g) if g != 0 else sp.Integer(1)
        if all(n < 0 for n in numbers):
            num = -num
    elif all(n == numbers[0] for n in numbers):
        num = numbers[0]
    counted = [_factor_counts(r) for r in rests]
    shared = counted[0]
    for factors in counted[1:]:
        shared = {f: min(k, factors[f]) for f, k in shared.items() if f in factors}
    sym = sp.Mul(*[f ** k for f, k in shared.items() if k])
    quotients = [sp.Mul(integer_floats(n / num), *[f ** (k - shared.get(f, 0))
                                                  for f, k in factors.items()])
                 for n, factors in zip(numbers, counted)]
    return num * sym, quotients


def _factor_counts(product):
    """{factor: how many times}, a product's factors as a multiset."""
    counts = {}
    for f in sp.Mul.make_args(product):
        if f != 1:
            counts[f] = counts.get(f, 0) + 1
    return counts


def common_right_factor(e):
    """A@X + B@X = (A + B)@X"""
    return _factor_side(e, right=True)


def common_left_factor(e):
    """X@A + X@B = X@(A + B)"""
    return _factor_side(e, right=False)


def _factor_side(e, right):
    groups = {}
    order = []
    for t in _terms(e):
        c, ms = ops.split_coeff(t)
        key = ms[-1] if right else ms[0]
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((c, ms[:-1] if right else ms[1:]))
    if all(sum(1 for _, rest in groups[k] if rest) < 2 for k in order):
        return None
    out = []
    for key in order:
        members = [(c, rest) for c, rest in groups[key] if rest]
        bare = [ops.matmul(c, key) for c, rest in groups[key] if not rest]
        if len(members) < 2:
            out.extend(ops.matmul(c, *(rest + [key] if right else [key] + rest)) for c, rest in members)
            out.extend(bare)
            continue
        inner = [ops.matmul(c, *rest) for c, rest in members]
        inner_sum = plain_first(factor_sum(ops.add(*inner)))
        factored = ops.matmul(inner_sum, key) if right else ops.matmul(key, inner_sum)
        # c*X stays beside (A + B)@X (X alone has no factor to share), where it was in the sum
        out.extend(bare + [factored] if not groups[key][0][1] else [factored] + bare)
    return factor_sum(ops.add(*out)) if len(out) > 1 else out[0]


def plain_first(e):
    """A.T + A -> A + A.T: untransposed terms first (a sum is unordered)."""
    if not isinstance(e, MatAdd):
        return e
    terms = list(e.args)
    ordered = sorted(terms, key=lambda t: (ops.is_negative_term(t), not ops.is_broadcast_scalar(t),
                                          _transposes(t) > 0))
    if ordered == terms:
        return e
    return MatAdd(*ordered)


def _transposes(t):
    _, ms = ops.split_coeff(t)
    return sum(isinstance(m, Transpose) for m in ms)


def flip_transposed_sum(e):
    """(A + B).T = A.T + B.T, applied only when it leaves fewer transposes (also under a
    scalar coefficient, c*(A + B).T, and to a factor of a product, (A + B).T@x)."""
    if not ops.is_matrix(e):
        return None
    coeff, mats = ops.split_coeff(e)
    flipped = [_flipped_sum(m) for m in mats]
    if all(f is None for f in flipped):
        return None
    return ops.matmul(coeff, *[m if f is None else f for m, f in zip(mats, flipped)])


def _flipped_sum(m):
    if not (isinstance(m, Transpose) and isinstance(m.arg, MatAdd)):
        return None
    terms = list(m.arg.args)
    flipped = [ops.transpose(t) for t in terms]
    if sum(map(_transposes, flipped)) < sum(map(_transposes, terms)) + 1:
        return ops.add(*flipped)
    return None


def inner_product_sum(e, assume=None, at=None):
    """u.T@(v/u) = sum(v)

    A row u.T times a column W is sum(u*W); taken when the Hadamard product cancels (is smaller
    than W alone), as softmax(z).T@(y/softmax(z)) = sum(y). The sum goes through the assumed
    facts, so sum(y) = 1 is used where y is assumed one-hot."""
    c, ms = ops.split_coeff(e)
    for i in range(len(ms) - 1):
        row, column = ms[i], ms[i + 1]
        if row.shape[0] != 1 or column.shape[1] != 1 or row.shape[1] == 1 or len(ms) == 2:
            continue
        product = elementwise_algebra(ops.hadamard(ops.transpose(row), column))
        if dag.size(product) >= dag.size(column):
            continue
        total = functions.apply("sum", product)
        if assume is not None:
            total = assume.rewrite(total, at)
        return ops.matmul(c, total, *ms[:i], *ms[i + 2:])
    return e


def ones_product_sum(e):
    """tr(ones(n, m)@M) = sum(M) = tr(M@ones(n, m)), and ones(n).T@w = sum(w) for a column w

    tr(ones(n, m)@M) = sum_i sum_j 1*M[j, i], the sum of M's entries; a row of ones times a
    column adds its entries. Only these whole forms: ones(N).T@G with G wider than one column
    is a column sum (a bias gradient) and stays a product."""
    inner = e.args[0] if isinstance(e, Trace) else e
    if not isinstance(inner, MatMul):
        return e
    c, ms = ops.split_coeff(inner)
    if len(ms) != 2:
        return e
    if isinstance(e, Trace):
        ones = [i for i, m in enumerate(ms) if isinstance(m, OneMatrix)]
        if not ones:
            return e
        M = ms[1 - ones[0]]
    elif isinstance(ms[0], OneMatrix) and ms[0].shape[0] == 1 and ms[1].shape[1] == 1:
        M = ms[1]
    else:
        return e
    return ops.matmul(c, functions.apply("sum", M))


def block_product(e):
    """hconcat(P, Q)@concat(R, S) = P@R + Q@S

    The product of blocks, for P's columns as many as R's rows; taken only where one of the two
    products is zero, so that a block-selection matrix (the transpose rule of concat) picks its
    block: hconcat(eye(n), 0*ones(n, p))@concat(A, B) = A.
    """
    c, mats = ops.split_coeff(e)
    out = []
    for M in mats:
        out.append(M)
        while len(out) > 1:          # a picked block may be picked from again: S1@S2@concat(..)
            picked = _picked(*out[-2:])
            if picked is None:
                break
            out[-2:] = [picked]
    out = _distributed(out)
    return e if len(out) == len(mats) else ops.matmul(c, *out)


def _picked(L, M):
    """P@R + Q@S for L@M = hconcat(P, Q)@concat(R, S) where one of the two is zero, else None."""
    L, M = _ones_as_blocks(L, M)
    if isinstance(L, Concat) and isinstance(M, Concat) and L.axis == 1 and M.axis == 0 \
            and L.blocks[0].shape[1] == M.blocks[0].shape[0]:
        products = [ops.matmul(P, R) for P, R in zip(L.blocks, M.blocks)]
        if any(ops.is_zero(p) for p in products):
            return ops.add(*products)
    return None


def _ones_as_blocks(L, M):
    """L@M with a ones matrix next to a concatenation split as the concatenation is:
    hconcat(P, Q)@ones(n + p, k) is hconcat(P, Q)@concat(ones(n, k), ones(p, k)) (sum(concat(x, y))
    has the adjoint ones(n + p)), and ones(k, n + p)@concat(R, S) likewise."""
    if isinstance(L, Concat) and L.axis == 1 and isinstance(M, OneMatrix):
        return L, joined(0, *(ops.ones(P.shape[1], M.shape[1]) for P in L.blocks))
    if isinstance(M, Concat) and M.axis == 0 and isinstance(L, OneMatrix):
        return joined(1, *(ops.ones(L.shape[0], R.shape[0]) for R in M.blocks)), M
    return L, M


def _placing(M):
    """A concatenation one of whose blocks is an eye or a zero block (a placement matrix)."""
    return isinstance(M, Concat) and any(isinstance(b, (Identity, ZeroMatrix)) for b in M.blocks)


def _plain_or_placing(M):
    """Not a concatenation, or a placement matrix: a selection of a selection, as the adjoint
    of concat(concat(x, y), z) picks y, distributes to one selection."""
    return not isinstance(M, Concat) or _placing(M)


def _distributed(mats):
    """concat(P, Q)@R = concat(P@R, Q@R) and L@hconcat(P, Q) = hconcat(L@P, L@Q), for a
    placement matrix next to a plain factor."""
    for i, M in enumerate(mats):
        if not _placing(M):
            continue
        if M.axis == 0 and i + 1 < len(mats) and _plain_or_placing(mats[i + 1]):
            R = mats[i + 1]
            return mats[:i] + [joined(0, *(ops.matmul(b, R) for b in M.blocks))] + mats[i + 2:]
        if M.axis == 1 and i > 0 and _plain_or_placing(mats[i - 1]):
            L = mats[i - 1]
            return mats[:i - 1] + [joined(1, *(ops.matmul(L, b) for b in M.blocks))] + mats[i + 1:]
    return mats


def block_sum(e):
    """concat(A, B) + concat(C, D) = concat(A + C, B + D)

    For blocks of equal shapes, on either axis: the sum is taken block by block. Terms that are
    not concatenations stay as they are.
    """
    groups, rest = {}, []
    for t in e.args:
        if isinstance(t, Concat):
            key = (t.axis, tuple(b.shape for b in t.blocks))
            groups.setdefault(key, []).append(t)
        else:
            rest.append(t)
    if all(len(g) == 1 for g in groups.values()):
        return e
    merged = [joined(axis, *(ops.add(*[t.blocks[k] for t in g]) for k in (0, 1)))
              for (axis, _), g in groups.items()]
    return ops.add(*rest, *merged)


def symmetric_inverse(e):
    """inv(M).T = inv(M) for a symmetric M (M.T = M: X.T@X, A + A.T)"""
    if not (isinstance(e, Transpose) and isinstance(e.arg, Inverse)):
        return e
    M = e.arg.arg
    if ops.transpose(M) == M or isinstance(M, MatAdd) and \
            {ops.transpose(t) for t in M.args} == set(M.args):
        return e.arg
    return e


def transposed_product(e):
    """B.T@A.T = (A@B).T

    Written so only when the transposed form has at least two transposes fewer (counting its
    own), and never for a 1 x 1 product (a scalar is its own transpose)."""
    coeff, ms = ops.split_coeff(e)
    if not isinstance(e, MatMul) or tuple(e.shape) == (1, 1) or len(ms) < 2:
        return e
    flipped = [ops.transpose(m) for m in reversed(ms)]
    if sum(map(_is_transpose, ms)) - sum(map(_is_transpose, flipped)) - 1 < 2:
        return e
    return ops.scale(coeff, ops.new(Transpose, ops.product_of(flipped)))


def _is_transpose(m):
    return isinstance(m, Transpose)


def transposed_product_node(x, kids):
    """The last pass: each product, given its children, in the transposed form if shorter."""
    if dag.is_leaf(x):
        return x
    return transposed_product(rebuild_node(x, kids))


def logistic(e):
    """exp(Z)/(1 + exp(Z)) = sigmoid(Z), elementwise or for a scalar."""
    matrix = ops.is_matrix(e)
    coeff, ms = ops.split_coeff(e) if matrix else (sp.Integer(1), [e])
    body = ms[0] if len(ms) == 1 else None
    if body is None:
        return e
    factors = list(body.args) if isinstance(body, (HadamardProduct, sp.Mul)) else [body]
    for i, f in enumerate(factors):
        Z = _exp_argument(f)
        if Z is None:
            continue
        one_plus = ops.add(1, f)
        for j, g in enumerate(factors):
            base, p = _power(g)
            if j != i and p == -1 and base == one_plus:
                rest = [h for k, h in enumerate(factors) if k not in (i, j)]
                s = functions.apply("sigmoid", Z)
                out = ops.hadamard(s, *rest) if matrix else sp.Mul(s, *rest)
                return ops.scale(coeff, out) if matrix else out
    return e


def _exp_argument(f):
    record = functions.record_of(f)
    if record is not None and record.name == "exp":
        return f.arg if isinstance(f, Elementwise) else f.args[0]
    return None


def _power(g):
    if isinstance(g, HadamardPower):
        return g.args[0], g.args[1]
    if isinstance(g, sp.Pow):
        return g.base, g.exp
    return g, sp.Integer(1)


MAX_CLUSTER = 60


def elementwise_algebra(e):
    """Simplify an elementwise cluster with SymPy's scalar algebra (see the module docstring)."""
    if not ops.is_matrix(e) or not isinstance(e, (HadamardProduct, MatAdd)) or not _has_quotient(e):
        return e
    atoms = {}
    size = [0]

    def to_scalar(x):
        size[0] += 1
        if size[0] > MAX_CLUSTER:
            raise _TooBig
        if isinstance(x, OneMatrix):
            return sp.Integer(1)
        if isinstance(x, HadamardProduct):
            return sp.Mul(*[to_scalar(a) for a in x.args])
        if isinstance(x, MatAdd):
            return sp.Add(*[to_scalar(a) for a in x.args])
        if isinstance(x, HadamardPower) and x.args[1].is_Number:
            return to_scalar(x.args[0]) ** x.args[1]
        if isinstance(x, MatMul):
            c, ms = ops.split_coeff(x)
            if len(ms) == 1 and c.is_number:
                return c * to_scalar(ms[0])
        if x not in atoms:
            atoms[x] = sp.Dummy(f"e{len(atoms)}")
        return atoms[x]

    try:
        scalar = to_scalar(e)
    except _TooBig:
        return e
    best, best_ops = None, sp.count_ops(scalar)
    for candidate in (sp.cancel(scalar), sp.factor(sp.cancel(scalar))):
        n = sp.count_ops(candidate)
        if n < best_ops:
            best, best_ops = candidate, n
    if best is None:
        return e
    back = {v: k for k, v in atoms.items()}
    out = _to_matrix(best, back)
    return out if ops.is_matrix(out) else ops.scale(out, OneMatrix(*e.shape))


def _has_quotient(x, budget=None):
    """Does the cluster divide by something (only then can cancelling shorten it)?"""
    budget = budget if budget is not None else [MAX_CLUSTER]
    budget[0] -= 1
    if budget[0] < 0:
        return False
    if isinstance(x, HadamardPower):
        return ops.negative_number(x.args[1]) or _has_quotient(x.args[0], budget)
    if isinstance(x, (HadamardProduct, MatAdd)):
        return any(_has_quotient(a, budget) for a in x.args)
    if isinstance(x, MatMul):
        c, ms = ops.split_coeff(x)
        return len(ms) == 1 and _has_quotient(ms[0], budget)
    return False


class _TooBig(Exception):
    pass


def _to_matrix(x, back):
    if x in back:
        return back[x]
    if x.is_number:
        return x
    if isinstance(x, sp.Mul):
        return ops.hadamard(*[_to_matrix(a, back) for a in x.args])
    if isinstance(x, sp.Add):
        return ops.add(*[_to_matrix(a, back) for a in x.args])
    if isinstance(x, sp.Pow):
        return ops.hpow(_to_matrix(x.base, back), x.exp)
    raise AssertionError(f"elementwise algebra produced {x}")
