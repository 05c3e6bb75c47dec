"""A progress line on stderr for long derivations on the command line (issue 14).

    with Progress("deriving the gradient"):
        d = grad(f, "x")

Nothing is printed when the work ends within a second, or when stderr is not a terminal (a
pipe, a file, a test): then the output is exactly what it was. Otherwise one line,
`matcalc: deriving the gradient ... 3 s`, is rewritten in place every second from a
background thread and erased at the end, so that the result prints on a clean line.
"""
import sys
import threading
import time

DELAY = 1.0


class Progress:
    def __init__(self, what, stream=None):
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.done = threading.Event()
        self.thread = None
        self.shown = False

    def __enter__(self):
        isatty = getattr(self.stream, "isatty", None)
        if isatty is not None and isatty():
            self.thread = threading.Thread(target=self.tick, daemon=True)
            self.thread.start()
        return self

    def tick(self):
        start = time.monotonic()
        while not self.done.wait(DELAY):
            self.stream.write(f"\rmatcalc: {self.what} ... {time.monotonic() - start:.0f} s")
            self.stream.flush()
            self.shown = True

    def __exit__(self, *exc):
        self.done.set()
        if self.thread is not None:
            self.thread.join()
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
        return False
