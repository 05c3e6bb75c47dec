"""The array libraries generated code can be written for: one record per backend.

A record is a small table of spellings. The generated module names its array namespace by the
record's alias (`np`, `jnp`, `torch`, `xp`); every registry function is spelled by the record's
own template where it has one, else by the registry's NumPy template read in that namespace
(`np.tanh({x})` is `jnp.tanh({x})` for JAX), the way the NumPy printer reads the registry. The
record also says what the module imports, how it binds and checks its arguments, how it names
the dtype of its inputs, and whether buffers may be written in place (`out=`, passes.in_place:
NumPy, and torch, whose arguments are read detached so that no autograd graph sees a buffer
overwritten; `torch.mul(g, mask, out=g)` for `np.multiply(g, mask, out=g)`, the record's
`ufuncs`; JAX arrays are immutable, and the array API has no out=).

    numpy      import numpy as np                         the default, the fastest on the CPU here
    jax        import jax.numpy as jnp                    codegen.compile applies jax.jit
    torch      import torch                               tensors in, tensors out
    array_api  from array_api_compat import array_namespace   xp = the namespace of the inputs
                                                          (NumPy, CuPy, PyTorch, JAX, ...)

The same records serve the Jacobian, Hessian and HVP modules (derived.py): how the result is
made a fresh array of the inputs' dtype, how a diagonal term (eye(n)/r, diag(softmax(x))) is
added to it (in place for NumPy and torch, `.at[].add` for JAX, a new array for the array API),
and the structural operations a library spells its own way (`structure`: vec without
`order="F"` for torch and the array API, kron by broadcasting where torch.kron fails on a
transposed tensor or the standard has none, the commutation matrix, diagflat, the diagonal).

Nothing here prints an expression: the NumPy printer (numpy_printer.py) asks the record.
"""
from dataclasses import dataclass, field

from ..errors import MatcalcError


@dataclass(frozen=True)
class Backend:
    name: str
    imports: tuple            # the module's import lines
    xp: str                   # the alias of the array namespace in the generated code
    library: str              # the module that must be importable to run the code
    in_place: bool            # out= buffers and in-place adds (NumPy)
    spellings: dict = field(default_factory=dict)   # registry name -> template in this backend
    dtype_of: str = "{xp}.result_type({arrays}, {xp}.float32)"   # the inputs' float dtype
    asarray: str = "{xp}.asarray({value})"                       # an argument as an array
    # a scalar argument in the float dtype of the array arguments: a Python number is float64 to
    # NumPy's functions (np.exp(0.7)) and no tensor to torch's (torch.exp(0.7) fails)
    scalar_as: str = "np.result_type({arrays}).type({x})"
    # a scalar argument when there is no array argument at all ("" keeps the Python number)
    scalar_alone: str = ""
    namespace_line: str = ""  # a first line of each function (array_api: xp = ...)
    reshape: str = ""         # the reshape function in the helpers (which see no xp)
    helper_spellings: tuple = ()   # (NumPy call, this backend's) in the registry's helpers
    jit: str = ""             # what codegen.compile wraps value_and_grad in ("jax.jit")
    # the Jacobian / Hessian / HVP module (derived.py): the result as a fresh array of a dtype,
    # a diagonal added to that fresh result (NumPy and torch in place, JAX and the array API
    # by a new array), a column as a 1-d vector, and the caller's shape of an argument
    fresh: str = "{xp}.array({value}, dtype={dtype})"
    add_diagonal: str = "{result}[np.diag_indices({n})] += {value}"
    flat: str = "{x}.ravel()"
    shape_of: str = "{xp}.shape({x})"
    structure: dict = field(default_factory=dict)  # printer structure (vec, kron, ...) -> template
    ufuncs: dict = field(default_factory=dict)     # NumPy ufunc of an out= line -> this library's

    def spelling(self, record):
        """The template of a registry record in this backend."""
        template = self.spellings.get(record.name)
        if template is not None:
            return template
        return record.numpy if self.xp == "np" else record.numpy.replace("np.", f"{self.xp}.")

    def ufunc(self, numpy_name):
        """The function that writes `np.tanh(a, out=a)`'s result into a buffer in this library."""
        return numpy_name if self.xp == "np" else self.ufuncs[numpy_name]

    def helper(self, source):
        """A registry helper (softmax, logsumexp), written for NumPy, in this namespace."""
        for numpy_name, own in self.helper_spellings:
            source = source.replace(numpy_name, own)
        return source if self.xp == "np" else source.replace("np.", f"{self.xp}.")


BACKENDS = {b.name: b for b in [
    Backend("numpy", ("import numpy as np",), "np", "numpy", in_place=True),
    Backend("jax", ("import jax", "import jax.numpy as jnp"), "jnp", "jax", in_place=False,
            jit="jax.jit", reshape="jnp.reshape", spellings={"sigmoid": "jax.nn.sigmoid({x})"},
            scalar_as="jnp.asarray({x}, dtype=jnp.result_type({arrays}))", fresh="{xp}.asarray({value}, dtype={dtype})",
            add_diagonal="{result} = {result}.at[jnp.diag_indices({n})].add({value})"),
    # torch: out= into a dead buffer of this function's own (passes.in_place), on detached tensors
    Backend("torch", ("import torch",), "torch", "torch", in_place=True,
            ufuncs={"np.multiply": "torch.mul", "np.add": "torch.add", "np.subtract": "torch.sub",
                    "np.maximum": "torch.clamp_min", "np.exp": "torch.exp", "np.log": "torch.log",
                    "np.log1p": "torch.log1p", "np.tanh": "torch.tanh", "np.sin": "torch.sin",
                    "np.cos": "torch.cos", "np.tan": "torch.tan", "np.arctan": "torch.arctan",
                    "np.arcsin": "torch.arcsin", "np.arccos": "torch.arccos", "np.sqrt": "torch.sqrt",
                    "np.abs": "torch.abs", "np.sign": "torch.sign"},
            spellings={"relu": "torch.clamp_min({x}, 0.0)", "sigmoid": "torch.sigmoid({x})",
                       "softplus": "torch.nn.functional.softplus({x})",
                       "step": "({x_} > 0).to({x_}.dtype)"},
            # detached: a parameter with requires_grad (an nn.Parameter) records no autograd graph
            dtype_of="{first}.dtype", asarray="torch.as_tensor({value}).detach()", reshape="torch.reshape",
            scalar_as="torch.as_tensor({x}, dtype={first}.dtype)",
            scalar_alone="{x} if isinstance({x}, torch.Tensor) else torch.as_tensor({x}, dtype=torch.float64)",
            helper_spellings=(("np.max(", "torch.amax("),),
            fresh="torch.as_tensor({value}, dtype={dtype}).clone()",
            add_diagonal="torch.diagonal({result}).add_({value})",
            shape_of="tuple(torch.as_tensor({x}).shape)",
            structure={"vec": "{x}.T.reshape(-1, 1)",
                       # torch.kron of a transposed (non-contiguous) tensor fails in 2.13
                       "kron": "({A}[:, None, :, None] * {B}[None, :, None, :]).reshape("
                               "{A}.shape[0] * {B}.shape[0], {A}.shape[1] * {B}.shape[1])",
                       "commutation": "torch.eye({n} * {m}{dtype})[torch.arange({n} * {m}).reshape({m}, {n})"
                                      ".T.ravel()]"}),
    Backend("array_api", ("from array_api_compat import array_namespace",), "xp", "array_api_compat",
            in_place=False,
            spellings={"step": "xp.astype({x_} > 0, {x_}.dtype)",
                       "sigmoid": "xp.exp(-xp.logaddexp(0.0, -{x_}))"},   # NumPy's helper writes out=
            dtype_of="xp.result_type({arrays}, xp.float32)",
            scalar_as="xp.asarray({x}, dtype=xp.result_type({arrays}))",
            asarray="array_namespace({value}).asarray({value})",
            helper_spellings=(("np.", "array_namespace(z)."),),     # the helpers' argument is z
            namespace_line="xp = array_namespace({arrays})",
            reshape="array_namespace(grad).reshape",
            fresh="{xp}.asarray({value}, dtype={dtype}, copy=True)",
            add_diagonal="{result} = {result} + {value} * xp.eye({n}, dtype={dtype})",
            flat="xp.reshape({x}, (-1,))", shape_of="tuple({x}.shape)",
            structure={"vec": "xp.reshape({x}.T, (-1, 1))",
                       "commutation": "xp.take(xp.eye({n} * {m}{dtype}), xp.reshape(xp.reshape("
                                      "xp.arange({n} * {m}), ({m}, {n})).T, (-1,)), axis=0)",
                       "kron": "xp.reshape({A}[:, None, :, None] * {B}[None, :, None, :], "
                               "({A}.shape[0] * {B}.shape[0], {A}.shape[1] * {B}.shape[1]))",
                       "diagflat": "xp.reshape({x}, (-1,)) * xp.eye({x}.shape[0] * {x}.shape[1], dtype={x}.dtype)",
                       "diagonal": "xp.reshape(xp.linalg.diagonal({x}), (-1, 1))"}),
]}


def backend_of(name):
    if isinstance(name, Backend):
        return name
    if name not in BACKENDS:
        raise MatcalcError(f"unknown backend {name!r}; backends: {', '.join(BACKENDS)}")
    return BACKENDS[name]


BIND_HELPER = '''

def _mc_bind(name, value, expected, dims):
    """value as an array of the expected shape (dimension names or sizes); binds dims.
    A vector (expected (n, 1)) may come as (n,) or (n, 1); a scalar as a number, which stays a
    Python number (weakly typed in every array library: float32 arrays stay float32)."""
{fast}    if len(expected) == 0 and isinstance(value, (int, float)):
        return float(value)
    array = {asarray}
    if len(expected) == 0:
        return array.reshape(())
    if expected[1] == 1 and array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"{{name}} must have ndim 2, got shape {{tuple(array.shape)}}")
    for dim, size in zip(expected, array.shape):
        known = dim if isinstance(dim, int) else dims.setdefault(dim, (size, name))[0]
        if known != size:
            raise ValueError(f"{{name}} must have shape {{expected}} ({{dim}} = {{known}}), got shape "
                             f"{{tuple(array.shape)}}")
    return array


def _mc_like(grad, arg):
    """grad in the shape of the caller's argument."""
    shape = tuple(getattr(arg, "shape", ()))
    return grad if tuple(grad.shape) == shape else {reshape}(grad, shape)
'''


# torch: a float tensor of the expected shape is taken as it is (detached), checked with a few
# comparisons; binding the 42 arguments of a 20-layer network the general way cost 5% of its
# forward and backward pass. (JAX binds once, when jax.jit traces; the array API knows no types.)
TORCH_FAST_BIND = '''    if type(value) is torch.Tensor and value.dtype.is_floating_point:   # the common cases
        if value.requires_grad:
            value = value.detach()
        shape = value.shape
        if len(shape) == 2 and len(expected) == 2:
            (rows, cols), (d0, d1) = shape, expected
            if (rows == d0 if type(d0) is int else dims.setdefault(d0, (rows, name))[0] == rows) \\
                    and (cols == d1 if type(d1) is int else dims.setdefault(d1, (cols, name))[0] == cols):
                return value
        elif len(shape) == 1 and len(expected) == 2 and expected[1] == 1:    # a vector as (n,)
            rows, d0 = shape[0], expected[0]
            if rows == d0 if type(d0) is int else dims.setdefault(d0, (rows, name))[0] == rows:
                return value.view(rows, 1)
'''


def bind_helper(backend):
    """The argument helpers of a module for a backend other than NumPy (emit.HELPERS is
    NumPy's, with its fast path and its dtype rules)."""
    return BIND_HELPER.format(asarray=backend.asarray.format(xp=backend.xp, value="value"),
                              reshape=backend.reshape,
                              fast=TORCH_FAST_BIND if backend.name == "torch" else "")
