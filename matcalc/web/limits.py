"""The limits `matcalc serve` enforces, in one place (the server, the worker and the command
line read them; the command line can change the last three).

    MAX_BODY              bytes of one request body; a larger one is refused unread (413)
    DEFAULT_TIME_LIMIT    seconds of wall time one derivation may take (then it is stopped, 422)
    DEFAULT_MEMORY_LIMIT  bytes of address space of one worker process (then MemoryError, 422)
    DEFAULT_WORKERS       derivations that run at once; more requests wait for a free worker
    QUEUE_WAIT            seconds a request may wait for a worker (then 503, "busy")
"""
MAX_BODY = 256 * 1024
DEFAULT_TIME_LIMIT = 20.0
DEFAULT_MEMORY_LIMIT = 2 * 1024 ** 3
DEFAULT_WORKERS = 2
QUEUE_WAIT = 60.0
