"""The child process of check-backward: runs the user's own NumPy file and records its values.

    python child.py REQUEST.json

Run by audit/runner.py in a fresh Python process with a time limit; it imports only NumPy and
the standard library (not matcalc), so the user's code cannot reach matcalc's state and a hang
or crash in it ends only this process.

What runs. The file's top-level imports, function and class definitions, and assignments of
literal constants (`N, D_in = 64, 1000`); any other top-level statement (a training loop, a
print) is left out. Then, by the request's mode:

* "function": FUNCTION(**inputs), or FORWARD(**inputs) then BACKWARD(**what forward made): every
  parameter is bound by its name from the inputs (exact, then ignoring case, then the mapping).
  Forward's locals and its returned dict (or the dict in its returned tuple) feed backward.
* "layers": one object per layer of the network (`LinearLayer(2, 3)`, `Relu()`), the parameters
  set to the request's values in the layer's own attribute (the array of the weight's shape; the
  bias's size), then the forward chain out = layer.forward(out) and the backward chain
  grad = layer.backward(input, grad) (or layer.backward(grad)) from the given output gradient.

What is recorded. sys.settrace follows every frame of the user's file: after each line, each
local (and each `self.<attribute>`) whose value changed (rebound or modified in place) is noted
with that line; a returned value is noted with the return line. The values go to an .npz file,
the record (name, where, lines) to JSON. An exception is recorded with its line and the
assignment target of that line.
"""
import ast
import inspect
import json
import linecache
import sys
import traceback

import numpy as np


def definitions(path):
    """The file's imports, definitions and literal assignments, compiled."""
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    tree = ast.parse(source, filename=path)
    kept = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)):
            kept.append(node)
        elif isinstance(node, ast.Assign):
            try:
                ast.literal_eval(node.value)
                kept.append(node)
            except ValueError:
                pass
    module = ast.Module(body=kept, type_ignores=[])
    return compile(module, path, "exec")


def snapshot(v):
    """A copy that a later in-place change cannot alter, or None for what is not numeric."""
    if isinstance(v, np.ndarray) and v.dtype.kind in "fiub":
        return v.copy()
    if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool):
        return np.asarray(float(v))
    return None


def changed(old, new):
    return old is None or old.shape != new.shape or not np.array_equal(old, new, equal_nan=True)


class Recorder:
    """The trace function: one record per call of a function of the user's file."""

    def __init__(self, path):
        self.path = path
        self.calls = []           # [{"function", "self", "values": {name: (value, [lines])}, ...}]
        self.frames = {}          # id(frame) -> (call record, last snapshot, last line)

    def __call__(self, frame, event, arg):
        if event != "call" or frame.f_code.co_filename != self.path:
            return None
        owner = frame.f_locals.get("self")
        record = {"function": frame.f_code.co_name,
                  "class": type(owner).__name__ if owner is not None else None,
                  "self": id(owner) if owner is not None else None,
                  "values": {}, "returned": None, "depth": len(self.frames)}
        self.calls.append(record)
        self.frames[id(frame)] = (record, self.state(frame), frame.f_lineno)
        return self.local

    def state(self, frame):
        out = {}
        for name, v in frame.f_locals.items():
            s = snapshot(v)
            if s is not None:
                out[name] = s
        owner = frame.f_locals.get("self")
        for name, v in getattr(owner, "__dict__", {}).items():
            s = snapshot(v)
            if s is not None:
                out["self." + name] = s
        return out

    def note(self, frame, line):
        record, before, _ = self.frames[id(frame)]
        now = self.state(frame)
        for name, value in now.items():
            if changed(before.get(name), value):
                entry = record["values"].setdefault(name, [None, []])
                entry[0] = value
                if line not in entry[1]:
                    entry[1].append(line)
        return now

    def local(self, frame, event, arg):
        key = id(frame)
        if key not in self.frames:
            return None
        record, _, last = self.frames[key]
        if event == "line":
            now = self.note(frame, last)
            self.frames[key] = (record, now, frame.f_lineno)
        elif event == "return":
            self.note(frame, last)
            s = snapshot(arg)
            if s is not None:
                record["returned"] = [s, frame.f_lineno]
            del self.frames[key]
        return self.local


def bind(fn, pool, mapping):
    """Keyword arguments for fn from pool (name -> value): exact name, then ignoring case,
    then mapping (user name -> pool name)."""
    lowered = {}
    for k in pool:
        lowered.setdefault(k.lower(), k)
    kwargs = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        key = name if name in pool else mapping.get(name) if mapping.get(name) in pool \
            else lowered.get(name.lower())
        if key is None:
            if p.default is p.empty:
                raise LookupError(f"{fn.__name__}: no value for its parameter {name!r} "
                                  f"(known: {', '.join(sorted(pool))}); map it with --map "
                                  f"{name}=NAME")
            continue
        kwargs[name] = pool[key]
    return kwargs


def run_function(namespace, request, inputs, recorder):
    mapping = request.get("map", {})
    names = [request[k] for k in ("function", "forward", "backward") if request.get(k)]
    for name in names:
        if not callable(namespace.get(name)):
            raise LookupError(f"the file defines no function {name!r}")
    pool = dict(inputs)
    if request.get("function"):
        fn = namespace[request["function"]]
        sys.settrace(recorder)
        try:
            fn(**bind(fn, pool, mapping))
        finally:
            sys.settrace(None)
        return
    forward, backward = namespace[request["forward"]], namespace[request["backward"]]
    sys.settrace(recorder)
    try:
        made = forward(**bind(forward, pool, mapping))
    finally:
        sys.settrace(None)
    for call in recorder.calls:
        if call["function"] == request["forward"]:
            pool.update({k: v[0] for k, v in call["values"].items() if "." not in k})
    for part in (made if isinstance(made, tuple) else (made,)):
        if isinstance(part, dict):
            pool.update(part)
    sys.settrace(recorder)
    try:
        backward(**bind(backward, pool, mapping))
    finally:
        sys.settrace(None)


def parameter_attribute(obj, shape, size, taken):
    """The name of obj's array attribute of this shape (or this size), not a gradient's."""
    for name, v in vars(obj).items():
        if name in taken or "grad" in name.lower() or not isinstance(v, np.ndarray):
            continue
        if (shape is not None and v.shape == tuple(shape)) or (shape is None and v.size == size):
            return name
    return None


def run_layers(namespace, request, inputs, recorder):
    layers, inputs_of, made = [], [], []
    for spec in request["layers"]:
        cls = namespace.get(spec["class"])
        if not isinstance(cls, type):
            raise LookupError(f"the file defines no class {spec['class']!r}")
        obj = cls(*spec["args"])
        taken = set()
        for key, shape in (("W", spec.get("W_shape")), ("b", None)):
            if not spec.get(key):
                continue
            value = inputs[spec[key]]
            attr = parameter_attribute(obj, shape, value.size, taken)
            taken.add(attr)
            if attr is None:
                raise LookupError(f"{spec['class']}{tuple(spec['args'])} has no array attribute "
                                  f"for {spec[key]} ({value.size} numbers)")
            old = getattr(obj, attr)
            setattr(obj, attr, value.reshape(old.shape).astype(float))
            made.append({"layer": len(layers), "role": key, "attribute": attr})
        layers.append(obj)
    out = inputs[request["input"]]
    sys.settrace(recorder)
    try:
        for k, layer in enumerate(layers):
            inputs_of.append(out)
            out = layer.forward(out)
        grad = inputs[request["grad_output"]].reshape(np.shape(out))
        for k in reversed(range(len(layers))):
            backward = layers[k].backward
            arity = len([p for p in inspect.signature(backward).parameters.values()
                         if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)])
            grad = backward(inputs_of[k], grad) if arity >= 2 else backward(grad)
    finally:
        sys.settrace(None)
    return [id(layer) for layer in layers], made


def source_line(path, n):
    return linecache.getline(path, n).strip()


def main(request_path):
    with open(request_path) as fh:
        request = json.load(fh)
    path = request["file"]
    inputs = dict(np.load(request["inputs"]))
    out = {"calls": [], "error": None, "layers": None, "parameters": None}
    arrays = {}
    recorder = Recorder(path)
    try:
        namespace = {"__name__": "__matcalc_check__", "__file__": path}
        exec(definitions(path), namespace)
        if request["mode"] == "layers":
            out["layers"], out["parameters"] = run_layers(namespace, request, inputs, recorder)
        else:
            run_function(namespace, request, inputs, recorder)
    except SyntaxError as e:
        out["error"] = {"type": "SyntaxError", "message": str(e.msg), "line": e.lineno,
                        "source": (e.text or "").strip()}
    except Exception as e:  # the user's code failed: report where, in the parent's words
        sys.settrace(None)
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
        where = frames[-1] if frames else None
        out["error"] = {"type": type(e).__name__, "message": " ".join(str(e).split()),
                        "line": where.lineno if where else None,
                        "source": source_line(path, where.lineno) if where else "",
                        "function": where.name if where else None}
    for i, call in enumerate(recorder.calls):
        entry = {k: call[k] for k in ("function", "class", "self", "depth")}
        entry["values"] = {}
        for name, (value, lines) in call["values"].items():
            key = f"c{i}:{name}"
            arrays[key] = value
            entry["values"][name] = {"key": key, "lines": [[n, source_line(path, n)] for n in lines]}
        if call["returned"] is not None:
            key = f"c{i}:<return>"
            arrays[key] = call["returned"][0]
            n = call["returned"][1]
            entry["returned"] = {"key": key, "lines": [[n, source_line(path, n)]]}
        out["calls"].append(entry)
    np.savez(request["output"] + ".npz", **arrays)
    with open(request["output"] + ".json", "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main(sys.argv[1])
