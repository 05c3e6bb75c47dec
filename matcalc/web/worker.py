"""Each derivation in a process of its own, under a time limit and a memory bound.

A derivation can run away: a 1000-deep nest, a sum of thousands of terms, sizes that need
gigabytes. The server must keep serving, so no derivation runs in the server's own process:
`derive_limited` starts a worker process for the request (forked by a fork server that has
imported matcalc once, so a worker starts in milliseconds without re-importing SymPy), gives
it the decoded JSON body, and waits at most `time_limit` seconds for the answer. The worker
caps its own address space with `resource.setrlimit(RLIMIT_AS)` before it derives anything, so
a derivation that needs more memory meets a MemoryError in the worker, never in the server.
A worker over time is killed; a worker that dies is reported; either way the server answers
with a clear error and goes on. One process per derivation also means that no cache of one
request's expressions grows inside the server.

The fork server imports the main module once, as multiprocessing's fork server does (so a
worker does not import it again): a script that starts a server does so under
`if __name__ == "__main__":`. Nothing here looks at the request: the worker passes it to
answer.answer, which reads it.
"""
import multiprocessing
import resource
import signal
import warnings

import numpy as np

from ..errors import MatcalcError
from .answer import answer
from .limits import DEFAULT_MEMORY_LIMIT, DEFAULT_TIME_LIMIT


_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["__main__", "matcalc.web.warm"])   # warm.py: filled caches


def limit_error(message):
    return {"error": {"message": message, "column": None, "field": None, "type": "LimitError"}}


def _work(connection, body, memory_limit):
    """In the worker: bound the memory, derive, send the answer (always a JSON-ready dict).
    Ctrl-C in the terminal reaches the whole process group: the server stops (and with it its
    workers), so a worker ignores it rather than print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = answer(body)
    except RecursionError:
        result = limit_error("expression too deeply nested to derive")
    except MemoryError:
        result = limit_error(f"the derivation needed more than the memory limit of "
                             f"{memory_limit / 1024 ** 2:.0f} MB and was stopped")
    except MatcalcError as e:       # raised past answer's own handling: still the user's input
        result = {"error": {"message": " ".join(str(e).split()), "column": None, "field": None,
                            "type": type(e).__name__}}
    except Exception as e:  # a bug in matcalc, not in the input: one line, reported as such
        result = {"error": {"message": f"internal error ({type(e).__name__}: "
                                       f"{' '.join(str(e).split())[:200]}); please report it "
                                       f"with the request", "column": None, "field": None,
                            "type": "InternalError"}}
    try:
        connection.send(result)
    except MemoryError:
        connection.send(limit_error("the answer is larger than the memory limit allows"))
    connection.close()


def start_fork_server():
    """Start the fork server now (it imports matcalc once), so the first request is not slow."""
    derive_limited({"expr": "x", "shapes": {"x": []}, "wrt": "x", "check": False, "code": False})


def derive_limited(body, time_limit=DEFAULT_TIME_LIMIT, memory_limit=DEFAULT_MEMORY_LIMIT):
    """(answer, stopped): the answer of answer.answer(body) computed in a worker process, or a
    limit error when the worker ran over `time_limit` seconds or died; stopped is True then."""
    receiver, sender = _context.Pipe(duplex=False)
    worker = _context.Process(target=_work, args=(sender, body, memory_limit), daemon=True)
    worker.start()
    sender.close()
    try:
        if receiver.poll(time_limit):
            try:
                return receiver.recv(), False
            except EOFError:
                worker.join(1)
                return limit_error(f"the derivation process died (exit code {worker.exitcode}); "
                                   f"it may have run out of its memory limit of "
                                   f"{memory_limit / 1024 ** 2:.0f} MB"), True
        return limit_error(f"the derivation ran longer than the time limit of {time_limit:g} s "
                           f"and was stopped"), True
    finally:
        receiver.close()
        if worker.is_alive():
            worker.kill()
        worker.join()
