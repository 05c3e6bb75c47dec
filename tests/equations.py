"""Every printed line of a derivation is a true equation: both sides evaluated at random values.

A derivation prints Rows (matcalc/derive/rows.py) through `Derivation.lines()` and
`Backprop.rows`. `check_rows` evaluates each one at a random point, float64:

* a row whose left side is a name (`h = X@W1`, `g = (A + A.T)@x`, `grad_h = ...`) defines that
  name for the rows after it, in printed order;
* a "differential" row equates two linear forms in differentials: every `dN` is replaced by the
  directional derivative of N along a random direction of the variables (central differences
  with Richardson extrapolation, N evaluated at the moved point with every name recomputed);
* a "read off" row gives the adjoint of a name: compared with the central-difference gradient of
  the function row with that name's value moved (every later name recomputed);
* a "gradient" row (df/dX, or g of a Hessian) is compared with the central-difference gradient
  of the function as the user typed it, by the independent evaluator (matcalc/reference.py);
  "jacobian" with the difference Jacobian of that text; "hessian" and "hvp" with the difference
  Jacobian / directional derivative of the gradient row (itself checked against the text).

And no two consecutive rows say the same thing, and no row says X = X.
"""
import numpy as np
import sympy as sp

from matcalc.evaluate import evaluate
from matcalc.core import dag
from matcalc.core.nodes import Differential, ScalarDifferential
from matcalc.core.rebuild import rebuild
from matcalc.printing.text import to_text
from matcalc.reference import evaluate_text

RTOL = 1e-5
H = 1e-4


def _name(e):
    return e.name if isinstance(e, (sp.Symbol, sp.MatrixSymbol)) else None


def _array(v):
    return np.atleast_1d(np.asarray(v, dtype=np.float64)).ravel()


def close(actual, expected, what):
    a, b = _array(actual), _array(expected)
    assert a.shape == b.shape, f"{what}: {a.shape} entries against {b.shape}"
    scale = max(np.abs(b).max(initial=0.0), np.abs(a).max(initial=0.0), 1e-3)
    err = np.abs(a - b).max(initial=0.0) / scale
    assert err < RTOL * 10, f"{what}: relative error {err:.2e}\n  got      {a}\n  expected {b}"


def richardson(g, x, v):
    """d/dt g(x + t v) at t = 0, by central differences extrapolated from h and h/2."""
    def central(h):
        return (_array(g(x, v, h)) - _array(g(x, v, -h))) / (2 * h)
    return (4 * central(H / 2) - central(H)) / 3


class Rows:
    def __init__(self, rows, values, sizes, variables, direction, text=None, shapes=None):
        self.rows = [r for r in rows if r.lhs is not None or r.continued]
        self.values, self.sizes = values, sizes
        self.variables = [x.name for x in variables]
        self.direction = direction
        self.text, self.shapes = text, shapes
        self.function = next((r for r in self.rows if r.role == "function"), None)

    def ev(self, e, env):
        return evaluate(e, env, sizes=self.sizes)

    def defined(self, values, fixed=()):
        """name -> value for the inputs and every name a row defines (fixed names kept)."""
        env = dict(values)
        for r in self.rows:
            name = None if r.continued else _name(r.lhs)
            if name is None or name in fixed or name in self.values:
                continue
            try:
                env[name] = self.ev(r.rhs, env)
            except Exception:       # a row over names not yet defined (a later check says so)
                continue
        return env

    def moved(self, t, direction=None):
        direction = direction or self.direction
        out = dict(self.values)
        for name, v in direction.items():
            out[name] = np.asarray(self.values[name]) + t * np.asarray(v)
        return out

    def with_differentials(self, e, env):
        """e with each dN replaced by a symbol bound to N's directional derivative."""
        found = dag.collect(e, lambda n: isinstance(n, (Differential, ScalarDifferential)))
        if not found:
            return e, env
        env = dict(env)
        swap = {}
        for k, node in enumerate(found):
            name = f"_d{k}"
            swap[node] = sp.MatrixSymbol(name, *node.shape) if isinstance(node, Differential) \
                else sp.Symbol(name, real=True)
            arg = node.arg

            def at(x, v, t, arg=arg):
                return self.ev(arg, self.defined(self.moved(t)))
            value = richardson(at, None, None)
            if isinstance(node, Differential):
                env[name] = value.reshape(np.shape(self.ev(arg, env)) or (1, 1))
            else:
                env[name] = float(value[0])
        return dag.transform(e, lambda n, kids: swap[n] if n in swap else rebuild(n, kids)), env

    def side(self, e, env):
        e, env = self.with_differentials(e, env)
        return self.ev(e, env)

    # -- the references --
    def reference_f(self, values):
        if self.text is not None:
            return evaluate_text(self.text, self.shapes, values, sizes=self.sizes)
        return self.defined(values)[self.function.lhs.name]

    def gradient_of(self, name, through_names=False):
        """The central-difference gradient of f with respect to the value of `name`."""
        env0 = self.defined(self.values)
        base = np.asarray(env0[name], dtype=np.float64)
        out = np.zeros(base.size)
        for k in range(base.size):
            e = np.zeros(base.size)
            e[k] = 1.0

            def f_at(x, v, t, e=e):
                moved = base + t * e.reshape(base.shape)
                if through_names:
                    env = self.defined({**self.values, name: moved}, fixed={name})
                    return env[self.function.lhs.name]
                return self.reference_f({**self.values, name: moved})
            out[k] = richardson(f_at, None, None)[0]
        return out

    def check(self):
        env = self.defined(self.values)
        previous = None
        for i, r in enumerate(self.rows):
            lhs = previous.lhs if r.continued else r.lhs
            where = f"row {i}: {to_text(lhs)} = {to_text(r.rhs)}"
            said = (to_text(lhs), to_text(r.rhs))
            assert said[0] != said[1], f"{where}: says nothing"
            if previous is not None:
                assert said != (to_text(previous.lhs), to_text(previous.rhs)), \
                    f"{where}: repeats the row before"
            previous = r if not r.continued else type(r)(lhs, r.rhs)
            if r.role == "differential":
                close(self.side(r.rhs, env), self.side(lhs, env), where)
            elif r.role == "read off":
                name = _name(r.of) if r.of is not None else None
                if name in self.variables and self.text is not None:
                    close(self.ev(r.rhs, env), self.gradient_of(name), where)
                elif name is not None:
                    close(self.ev(r.rhs, env), self.gradient_of(name, through_names=True), where)
            elif r.role == "gradient":
                close(self.ev(r.rhs, env), self.gradient_of(r.of.name), where)
            elif r.role == "jacobian":
                close(self.ev(r.rhs, env), self.jacobian_of(r.of.name), where)
            elif r.role in ("hessian", "hvp"):
                close(self.ev(r.rhs, env), self.second_order(r.of.name, r.role), where)
        return len(self.rows)

    def jacobian_of(self, name):
        base = np.asarray(self.values[name], dtype=np.float64)
        cols = []
        for k in range(base.size):
            e = np.zeros(base.size)
            e[k] = 1.0
            vec = e.reshape(base.shape, order="F")

            def F(x, v, t, vec=vec):
                value = np.asarray(self.reference_f({**self.values, name: base + t * vec}))
                return value.ravel(order="F")
            cols.append(richardson(F, None, None))
        return np.stack(cols, axis=1)

    def gradient_row(self):
        return next(r for r in self.rows if r.role == "gradient")

    def second_order(self, name, role):
        g = self.gradient_row().rhs
        base = np.asarray(self.values[name], dtype=np.float64)

        def G(direction):
            def at(x, v, t):
                return np.asarray(self.ev(g, self.defined(self.moved(t, direction))),
                                  dtype=np.float64).ravel(order="F")
            return richardson(at, None, None)
        if role == "hvp":
            return G(self.direction).reshape(base.shape, order="F")
        cols = []
        for k in range(base.size):
            e = np.zeros(base.size)
            e[k] = 1.0
            cols.append(G({name: e.reshape(base.shape, order="F")}))
        return np.stack(cols, axis=1)


def check_rows(rows, values, sizes, variables, direction, text=None, shapes=None):
    """Check every row (see the module docstring); returns how many rows were checked."""
    return Rows(rows, values, sizes, variables, direction, text, shapes).check()
