"""codegen: NumPy modules from matcalc expressions, derivations and networks.

    import codegen, matcalc as mc
    f = mc.parse("sum(log(1 + exp(X @ w))) - y.T @ X @ w", {"X": ("N", "d"), "w": ("d",), "y": ("N",)})
    print(codegen.numpy_source(f, wrt=["w"], name="logreg"))   # forward, backward, value_and_grad
    fn = codegen.compile(f, wrt=["w"])                          # fn(**arrays) -> (value, {name: grad})
    net_fn = codegen.compile(net)                               # an nn.Sequential: (loss, {"W1": ...})
    jac = codegen.compile(mc.jacobian(g, "x"))                  # fn(**arrays) -> J (also hessian, hvp)
    fast = codegen.compile(net, workspace=True)                 # out= into buffers reused call after call

With workspace=True (NumPy; gradients and networks) the module writes every intermediate with
out= into buffers it makes once per input sizes and dtype (workspace.py): the gradients and
forward's saved values are views into them, valid until the next call, which overwrites them.

Pipeline: calculus.reverse.walk (the one backward pass) -> calculus.program (statements) ->
schedule.py (names, forward and backward lines) -> passes.py (dead lines, saved values,
liveness, in-place) -> emit.py / derived.py (text, printed once by numpy_printer.py).
A Derivation is used as it is (its walk), unless its function needs an overflow-safe form
first (stable.py), which is then derived instead. `compile` executes only source produced
here, in a fresh namespace.
"""
import builtins

from ..derive.derivation import Derivation
from ..derive.gradient import resolve, scalar_function
from ..errors import MatcalcError
from ..calculus.reverse import walk
from ..printing.text import to_text
from .backends import BACKENDS, backend_of
from .compiled import CompiledFunction
from .derived import derived_module
from .emit import gradient_module
from .optimizers import OPTIMIZERS, training, training_source
from .predict import predict_function
from .schedule import inputs_of, schedule
from ..calculus.stable import stable
from ..core.gc_pause import without_cyclic_gc

__all__ = ["numpy_source", "compile", "emit_forward_backward", "BACKENDS"]


def _is_network(obj):
    return hasattr(obj, "backprop") and hasattr(obj, "loss_expr")


def expression_schedule(f, variables, derivation=None):
    f_code = stable(f)
    w = derivation.walk if derivation is not None and derivation.walk is not None and \
        f_code == f else walk(f_code, variables, values=False)
    return schedule(f_code, w, inputs_of(f_code, variables, like=f))


def network_schedule(net, wrt=None):
    """The schedule of a network: its own walk of the loss (the overflow-safe form), with the
    network's names for the layer outputs (h, h_relu, y_pred; grad_h, ...)."""
    params = list(net.parameters) if wrt is None else [getattr(p, "name", p) for p in wrt]
    for p in params:
        if p not in net.parameters:
            raise MatcalcError(f"{p!r} is not a parameter of the network; parameters: "
                               + ", ".join(net.parameters))
    variables = [net.parameters[p] for p in params]
    f_code = stable(net.loss_expr)
    w = walk(f_code, variables, values=False)
    node_names = net.output_names()
    inputs = [net.X] + list(net.inputs.values()) + list(net.parameters.values()) + [net.Y]
    return schedule(f_code, w, inputs, node_names=node_names, value_name="loss",
                    adjoint_name=lambda node: f"grad_{node_names[node]}" if node in node_names else None)


def training_functions(optimizer, options, parameters, weights, backend):
    """The (names, source, lines) of learning_rate / init_state / update for the chosen
    optimiser (optimizers.py), or none when no optimiser is asked for."""
    if optimizer is None:
        if options:
            raise MatcalcError(f"{', '.join(options)}: options of an optimiser; give optimizer="
                               f"{' or '.join(repr(o) for o in OPTIMIZERS)} too")
        return []
    if backend.name != "numpy":
        raise MatcalcError(f"update is generated for NumPy only, not for backend {backend.name!r}")
    t = training(optimizer, **options)
    return [("learning_rate, init_state, update", training_source(t, parameters, weights), [])]


@without_cyclic_gc
def numpy_source(expr, wrt=None, name="f", backend="numpy", optimizer=None, workspace=False,
                 **options):
    """Source of a NumPy module computing `expr` and its gradients with respect to `wrt` (names
    or symbols), or of an nn.Sequential network's loss and gradients, or of a Derivation (a
    gradient: forward/backward/value_and_grad; a jacobian / hessian / hvp: one function).
    A network's module also has predict(X, params...): its output, with no loss and no labels.

    backend: "numpy" (the default), "jax", "torch" or "array_api": the same module over that
    array library (backends.py), for gradients, networks, Jacobians, Hessians and HVPs.
    optimizer: "sgd", "momentum", "rmsprop" or "adam" adds learning_rate(step),
    init_state(params) and update(params, grads, state, step) (NumPy only); options: lr,
    decay ("linear" or "exponential") with final_lr and decay_steps, weight_decay (decoupled,
    on a network's weights; on every variable of an expression), and the optimiser's own
    (momentum; rho, eps; beta1, beta2, eps): optimizers.py.
    workspace=True (NumPy, gradients and networks): every intermediate is written with out= into
    buffers the module makes once per input sizes and dtype and reuses call after call
    (workspace.py). The results (gradients, forward's saved values) are then views into the
    workspace, valid until the next call with the same sizes and dtype, which overwrites them;
    backward overwrites forward's saved values as it runs (call it once per forward)."""
    b = backend_of(backend)
    if workspace and b.name != "numpy":
        raise MatcalcError(f"the workspace writes NumPy buffers in place; backend {b.name!r} "
                           f"has none (use backend='numpy')")
    if workspace and isinstance(expr, Derivation) and expr.kind != "gradient":
        raise MatcalcError(f"the workspace covers gradients and networks, not the {expr.kind} module")
    if isinstance(expr, Derivation):
        if expr.kind != "gradient":
            if optimizer is not None or options:
                raise MatcalcError(f"an optimiser updates with a gradient; the {expr.kind} module "
                                   f"has none")
            return derived_module(expr, name=None if name == "f" else name, backend=b)
        variables = expr.variables if wrt is None else resolve(expr.f, wrt)[0]
        sched = expression_schedule(expr.f, variables, expr)
        names = [v.name for v in variables]
        return gradient_module(sched, to_text(expr.f), name, b,
                               training_functions(optimizer, options, names, names, b),
                               workspace=workspace)
    if _is_network(expr):
        sched = network_schedule(expr, wrt)
        title = f"nn.Sequential: {expr.spec()}, loss {type(expr.loss).__name__}: {to_text(expr.loss_expr)}"
        names = [x.name for x, _ in sched.gradients]
        more = [("predict", *predict_function(expr, b))] + \
            training_functions(optimizer, options, names, expr.weight_names(), b)
        return gradient_module(sched, title, name, b, more, workspace=workspace)
    if isinstance(expr, str):
        raise MatcalcError("numpy_source() needs an expression: mc.parse(text, shapes) first")
    f = scalar_function(expr, what="codegen")
    if wrt is None:
        raise MatcalcError("numpy_source() needs wrt: the variables to differentiate by")
    variables, _ = resolve(f, wrt)
    names = [v.name for v in variables]
    return gradient_module(expression_schedule(f, variables), to_text(f), name, b,
                           training_functions(optimizer, options, names, names, b),
                           workspace=workspace)


emit_forward_backward = numpy_source


@without_cyclic_gc
def compile(expr_or_net, wrt=None, name="f", backend="numpy", optimizer=None,  # noqa: A001
            workspace=False, **options):
    """A callable fn(**arrays) -> (value, {name: gradient}) running generated NumPy code (or
    the code of another backend: backends.py; for JAX, value_and_grad, or the jacobian / hessian /
    hvp function, is jax.jit-compiled).

    The callable (a CompiledFunction) carries the module source as `fn.source` and the
    module's `forward`, `backward` and `value_and_grad` as attributes (and a network's
    `predict`; with optimizer=..., `learning_rate`, `init_state` and `update`: numpy_source);
    Jupyter shows it as the highlighted source. For a Derivation of kind jacobian / hessian / hvp it is
    fn(**arrays) -> ndarray (the Jacobian, Hessian or HVP), with `fn.source` and `fn.<kind>`.
    workspace=True: the module writes into buffers made once per input sizes and dtype, and
    the gradients returned are views into them, valid until the next call (numpy_source).
    """
    source = numpy_source(expr_or_net, wrt=wrt, name=name, backend=backend, optimizer=optimizer,
                          workspace=workspace, **options)
    namespace = {"__name__": "matcalc_generated"}
    exec(builtins.compile(source, "<matcalc codegen>", "exec"), namespace)
    if isinstance(expr_or_net, Derivation):
        of = f"the {expr_or_net.kind} of {to_text(expr_or_net.f)}"
    elif _is_network(expr_or_net):
        of = f"nn.Sequential {expr_or_net.spec()}, loss {type(expr_or_net.loss).__name__}"
    else:
        of = to_text(expr_or_net)
    jit = backend_of(backend).jit            # "jax.jit": the module imports jax itself
    if isinstance(expr_or_net, Derivation) and expr_or_net.kind != "gradient":
        function = namespace[expr_or_net.kind]
        entry = eval(jit, namespace)(function) if jit else function  # noqa: S307 - the backend table's
        return CompiledFunction(source, entry, {expr_or_net.kind: function}, of)
    names = [n for n in ("forward", "backward", "value_and_grad", "predict", "learning_rate",
                         "init_state", "update") if n in namespace]
    entry = namespace["value_and_grad"]
    if jit:
        entry = eval(jit, namespace)(entry)  # noqa: S307 - a name from the backend table
    return CompiledFunction(source, entry, {n: namespace[n] for n in names}, of)
