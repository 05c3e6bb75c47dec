"""Run the user's file in a child process with a time limit: run(file, request, inputs, timeout).

The child is audit/child.py, started as a script by the same Python (so it imports NumPy and the
user's file, never matcalc). The request goes as JSON and the inputs as an .npz file in a fresh
temporary folder; the child writes what it recorded next to them. A child that does not finish
in time is killed; one that dies without writing its record is an error quoting the last line
of its stderr.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from ..errors import MatcalcError

CHILD = pathlib.Path(__file__).with_name("child.py")


def run(file, request, inputs, timeout=30.0):
    """(record, arrays): the child's JSON record and its arrays (name -> ndarray)."""
    file = pathlib.Path(file)
    if not file.is_file():
        raise MatcalcError(f"{file}: no such file")
    with tempfile.TemporaryDirectory(prefix="matcalc-check-") as tmp:
        tmp = pathlib.Path(tmp)
        np.savez(tmp / "inputs.npz", **{k: np.asarray(v, dtype=float) for k, v in inputs.items()})
        request = dict(request, file=str(file.resolve()), inputs=str(tmp / "inputs.npz"),
                       output=str(tmp / "recorded"))
        (tmp / "request.json").write_text(json.dumps(request))
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        try:
            done = subprocess.run([sys.executable, str(CHILD), str(tmp / "request.json")],
                                  cwd=str(file.resolve().parent), env=env, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise MatcalcError(f"{file}: did not finish within {timeout:g} s (the time limit; "
                               f"--timeout SECONDS)") from None
        if not (tmp / "recorded.json").exists():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise MatcalcError(f"{file}: the check's child process failed (exit code "
                               f"{done.returncode}): {last}")
        record = json.loads((tmp / "recorded.json").read_text())
        with np.load(tmp / "recorded.npz") as data:
            arrays = {k: data[k] for k in data.files}
    return record, arrays
