"""Recurrent cells written out over T time steps as one expression with shared weights.

    f, wrt = unrolled("lstm", T=30)
    d = mc.grad(f, wrt)           # derived over named intermediates: O(T) lines

Each builder returns (the scalar loss, the names of its weights). The inputs x1..xT are n x 1
columns, the state h is m x 1, the weights are shared by every step, and the loss is the squared
distance of the last output V@hT to a target y (p x 1). The same subexpression (h_{t-1}, the
gates) occurs several times in a step, so the expression is a DAG whose tree is exponential in
T: only a derivation over names can print it.
"""
from ..errors import MatcalcError
from ..notation.build import matrix, vector
from ..core import functions, ops


def _f(name, x):
    return functions.apply(name, x)


def _affine(A, x, B, h, b=None):
    """A@x + B@h (+ b)."""
    terms = [ops.matmul(A, x), ops.matmul(B, h)] + ([b] if b is not None else [])
    return ops.add(*terms)


def _step_rnn(W, h, x):
    return _f("tanh", _affine(W["W"], h, W["U"], x, W["b"]))


def _step_gru(W, h, x):
    z = _f("sigmoid", _affine(W["Wz"], x, W["Uz"], h))
    r = _f("sigmoid", _affine(W["Wr"], x, W["Ur"], h))
    c = _f("tanh", _affine(W["Wh"], x, W["Uh"], ops.hadamard(r, h)))
    return ops.add(ops.hadamard(ops.sub(ops.ones(*h.shape), z), h), ops.hadamard(z, c))


def _step_lstm(W, state, x):
    h, c = state
    i = _f("sigmoid", _affine(W["Wi"], x, W["Ui"], h))
    fg = _f("sigmoid", _affine(W["Wf"], x, W["Uf"], h))
    o = _f("sigmoid", _affine(W["Wo"], x, W["Uo"], h))
    g = _f("tanh", _affine(W["Wg"], x, W["Ug"], h))
    c = ops.add(ops.hadamard(fg, c), ops.hadamard(i, g))
    return ops.hadamard(o, _f("tanh", c)), c


CELLS = {
    "rnn": (["W", "U", "b"], _step_rnn),
    "gru": (["Wz", "Uz", "Wr", "Ur", "Wh", "Uh"], _step_gru),
    "lstm": (["Wi", "Ui", "Wf", "Uf", "Wo", "Uo", "Wg", "Ug"], _step_lstm),
}


def unrolled(cell, T, n="n", m="m", p="p"):
    """(loss, weight names) of the cell ("rnn", "gru" or "lstm") over T steps."""
    if cell not in CELLS:
        raise MatcalcError(f"unknown cell {cell!r}; cells: {', '.join(CELLS)}")
    if not isinstance(T, int) or T < 1:
        raise MatcalcError(f"T must be a positive integer, got {T!r}")
    names, step = CELLS[cell]
    W = {}
    for name in names:
        W[name] = matrix(name, m, n) if name.startswith("W") and name != "W" else (
            vector(name, m) if name == "b" else matrix(name, m, m))
    if cell == "rnn":
        W["U"] = matrix("U", m, n)
    h = vector("h0", m)
    state = (h, vector("c0", m)) if cell == "lstm" else h
    for t in range(1, T + 1):
        state = step(W, state, vector(f"x{t}", n))
    h = state[0] if cell == "lstm" else state
    V, y = matrix("V", p, m), vector("y", p)
    r = ops.sub(ops.matmul(V, h), y)
    loss = _f("sum", ops.hadamard(r, r))
    return loss, list(W)
