"""Optimisers and learning-rate schedules as generated code: one record each, one table each.

An `Optimizer` record holds everything about one update rule: its hyperparameters with their
defaults, the state it carries per parameter (arrays that start at zero), and the rule itself
as (formula, code) pairs, the formula written as the comment above its line of code. A
`Decay` record is one learning-rate schedule, likewise. `training_source` prints, from the
records and the options a user chose, the module constants and three functions:

    learning_rate(step)                  the rate at update `step` (0 for the first update)
    init_state(params)                   {state name: {parameter: zeros of its shape}}
    update(params, grads, state, step)   (new params, new state); the arguments are not modified

`grads` is what the generated value_and_grad returns (each gradient in its parameter's shape),
so a training loop is `loss, grads = value_and_grad(...)`, then
`params, state = update(params, grads, state, step)`. Weight decay here is decoupled
(Loshchilov and Hutter 2019): p = p - lr*weight_decay*p before the rule, on the weights only
(not biases, not normalisation parameters). For SGD that is the gradient of
weight_decay/2*sum(W**2) added to the loss (a network's own `weight_decay`); for momentum,
RMSprop and Adam it is AdamW's decay, which does not pass through the adaptive scaling.

This module knows nothing of networks or expressions: the caller gives the parameter names and
which of them are weights. It does not run anything.
"""
import difflib
import math
import re
from dataclasses import dataclass

from ..errors import MatcalcError

INDENT = "    "


@dataclass(frozen=True)
class Optimizer:
    name: str            # "adam": the option value
    title: str           # what it is, and where it comes from
    lr: float            # the default learning rate
    hyper: tuple         # ((name, default), ...): the constants of the rule
    state: tuple         # the arrays it carries per parameter, zeros before the first update
    rule: tuple          # ((formula, code), ...) over p, g, lr, t, the state and the constants

    def constant(self, hyper_name):
        """The module constant of a hyperparameter: beta1 -> BETA1."""
        return hyper_name.upper()


OPTIMIZERS = {o.name: o for o in (
    Optimizer("sgd", "plain gradient descent (seeds 000, 001, 002)", 0.01, (), (), (
        ("p = p - lr*g", "p = p - lr * g"),)),
    Optimizer("momentum", "gradient descent with momentum (seed 003, section 4.4)", 0.01,
              (("momentum", 0.9),), ("velocity",), (
        ("velocity = momentum*velocity + lr*g", "velocity = MOMENTUM * velocity + lr * g"),
        ("p = p - velocity", "p = p - velocity"))),
    Optimizer("rmsprop", "RMSprop (Hinton's lecture 6e; Keras' rmsprop of seed 004)", 0.001,
              (("rho", 0.9), ("eps", 1e-7)), ("mean_square",), (
        ("mean_square = rho*mean_square + (1 - rho)*g**2",
         "mean_square = RHO * mean_square + (1 - RHO) * g * g"),
        ("p = p - lr*g/(sqrt(mean_square) + eps)", "p = p - lr * g / (np.sqrt(mean_square) + EPS)"))),
    Optimizer("adam", "Adam (Kingma and Ba 2015), bias-corrected moments", 0.001,
              (("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8)), ("m", "v"), (
        ("m = beta1*m + (1 - beta1)*g", "m = BETA1 * m + (1 - BETA1) * g"),
        ("v = beta2*v + (1 - beta2)*g**2", "v = BETA2 * v + (1 - BETA2) * g * g"),
        ("p = p - lr*(m/(1 - beta1**t))/(sqrt(v/(1 - beta2**t)) + eps), t = step + 1",
         "p = p - lr * (m / (1 - BETA1 ** t)) / (np.sqrt(v / (1 - BETA2 ** t)) + EPS)"))),
)}


@dataclass(frozen=True)
class Decay:
    name: str            # "exponential": the option value
    title: str
    formula: str         # lr_t as a function of the step, the comment above its code
    code: str            # the return expression of learning_rate(step)


DECAYS = {d.name: d for d in (
    Decay("none", "a constant learning rate", "lr_t = lr", "LEARNING_RATE"),
    Decay("linear", "linear decay (seed 003, section 4.5), then constant",
          "lr_t = lr - (lr - final_lr)*min(step, decay_steps)/decay_steps",
          "LEARNING_RATE - (LEARNING_RATE - FINAL_LR) * min(step, DECAY_STEPS) / DECAY_STEPS"),
    Decay("exponential", "exponential decay (seed 003, section 4.5), then constant",
          "lr_t = lr*(final_lr/lr)**(min(step, decay_steps)/decay_steps)",
          "LEARNING_RATE * (FINAL_LR / LEARNING_RATE) ** (min(step, DECAY_STEPS) / DECAY_STEPS)"),
)}


def _choice(value, table, what):
    if value in table:
        return table[value]
    close = difflib.get_close_matches(str(value), list(table), n=2, cutoff=0.5)
    raise MatcalcError(f"unknown {what} {value!r}; choose from {', '.join(table)}"
                       + (f"; did you mean {' or '.join(close)}?" if close else ""))


def _number(name, value, low, high=math.inf, low_open=False):
    """value as a float in [low, high) (or (low, high) with low_open), else a one-line error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < low or value >= high or (low_open and value == low):
        bounds = f"{'(' if low_open else '['}{low:g}, {high:g})" if high != math.inf else \
            (f"> {low:g}" if low_open else f">= {low:g}")
        raise MatcalcError(f"{name} must be a number {'in ' if high != math.inf else ''}{bounds}, "
                           f"got {value!r}")
    return float(value)


# the allowed range of every hyperparameter: (low, high, low excluded)
RANGES = {"momentum": (0, 1, False), "rho": (0, 1, False), "beta1": (0, 1, False),
          "beta2": (0, 1, False), "eps": (0, math.inf, True)}


@dataclass(frozen=True)
class Training:
    """An optimiser with its options, checked: what training_source prints."""
    optimizer: Optimizer
    lr: float
    hyper: dict
    decay: Decay
    final_lr: float
    decay_steps: int
    weight_decay: float


def training(optimizer, lr=None, decay="none", final_lr=None, decay_steps=None, weight_decay=0.0,
             **hyper):
    """The checked options of an optimiser (see the module docstring); a bad value is a
    MatcalcError of one line naming the option. lr defaults to the optimiser's own (o.lr)."""
    o = _choice(optimizer, OPTIMIZERS, "optimizer")
    d = _choice("none" if decay is None else decay, DECAYS, "learning-rate decay")
    known = dict(o.hyper)
    for name in hyper:
        if name not in known:
            accepted = ", ".join(["lr", "decay", "final_lr", "decay_steps", "weight_decay", *known])
            raise MatcalcError(f"{name!r} is not an option of {o.name}; its options: {accepted}")
    values = {name: _number(name, hyper.get(name, default), *RANGES[name]) for name, default in o.hyper}
    lr = _number("lr", o.lr if lr is None else lr, 0, low_open=True)
    if d.name == "none":
        if final_lr is not None or decay_steps is not None:
            raise MatcalcError("final_lr and decay_steps need a learning-rate decay: "
                               "decay='linear' or 'exponential'")
    else:
        if final_lr is None or decay_steps is None:
            raise MatcalcError(f"{d.name} learning-rate decay needs final_lr and decay_steps")
        final_lr = _number("final_lr", final_lr, 0, low_open=d.name == "exponential")
        if isinstance(decay_steps, bool) or not isinstance(decay_steps, int) or decay_steps <= 0:
            raise MatcalcError(f"decay_steps must be a positive integer, got {decay_steps!r}")
    weight_decay = _number("weight_decay", weight_decay, 0)
    return Training(o, lr, values, d, final_lr, decay_steps, weight_decay)


def training_source(t, parameters, weights):
    """The constants, learning_rate, init_state and update of Training t, for the parameters
    (names, in order) of which `weights` get the weight decay."""
    o = t.optimizer
    rate = f"{t.lr!r}" + ("" if t.decay.name == "none" else
                          f", decayed {t.decay.name}ly to {t.final_lr!r} over {t.decay_steps} steps")
    decayed = [p for p in parameters if p in weights] if t.weight_decay else []
    out = [f"# Training: {o.title}; learning rate {rate}"
           + (f"; decoupled weight decay {t.weight_decay!r} on {', '.join(decayed)}" if decayed else "")
           + ".",
           f"LEARNING_RATE = {t.lr!r}"]
    if t.decay.name != "none":
        out += [f"FINAL_LR = {t.final_lr!r}", f"DECAY_STEPS = {t.decay_steps!r}"]
    out += [f"{o.constant(name)} = {value!r}" for name, value in t.hyper.items()]
    if decayed:
        out += [f"WEIGHT_DECAY = {t.weight_decay!r}",
                f"DECAYED = {tuple(decayed)!r}"]
    out += ["", "", "def learning_rate(step):",
            INDENT + f'"""The learning rate of update `step` (0 for the first): {t.decay.title}."""',
            INDENT + f"# {t.decay.formula}",
            INDENT + f"return {t.decay.code}",
            "", "", "def init_state(params):",
            INDENT + f'"""The state {o.name} carries for each parameter'
            + (f" ({', '.join(o.state)}), zeros of its shape." if o.state else ": none.") + '"""',
            INDENT + ("return {state_name: {name: np.zeros_like(p) for name, p in params.items()}"
                      f" for state_name in {o.state!r}}}" if o.state else "return {}"),
            "", "", "def update(params, grads, state, step):",
            INDENT + f'"""One {o.name} update: (new params, new state). `step` counts the updates '
                     f'made before this one',
            INDENT + "(0 for the first); grads is value_and_grad's dict. The arguments are not "
                     'modified."""',
            INDENT + "lr = learning_rate(step)"]
    if any(re.search(r"\bt\b", code) for _, code in o.rule):
        out.append(INDENT + "t = step + 1")
    out.append(INDENT + "new_params, new_state = {}, {"
               + ", ".join(f"{s!r}: {{}}" for s in o.state) + "}")
    body = INDENT * 2
    out += [INDENT + "for name, p in params.items():", body + "g = grads[name]"]
    out += [body + f"{s} = state[{s!r}][name]" for s in o.state]
    if decayed:
        out += [body + "if name in DECAYED:",
                body + INDENT + "# p = p - lr*weight_decay*p  (decoupled weight decay)",
                body + INDENT + "p = p - lr * WEIGHT_DECAY * p"]
    for formula, code in o.rule:
        out += [body + f"# {formula}", body + code]
    out.append(body + "new_params[name] = p")
    out += [body + f"new_state[{s!r}][name] = {s}" for s in o.state]
    out.append(INDENT + "return new_params, new_state")
    return "\n".join(out)
