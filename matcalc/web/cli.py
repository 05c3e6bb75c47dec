"""`matcalc serve`: the local web page (matcalc/web/server.py) on 127.0.0.1.

    matcalc serve [--port N] [--open] [--time-limit S] [--memory-limit MB] [--workers N]

Prints the address, serves until Ctrl-C, then prints one line and exits with 0.
"""
import webbrowser

from ..errors import MatcalcError
from .limits import DEFAULT_MEMORY_LIMIT, DEFAULT_TIME_LIMIT, DEFAULT_WORKERS


def add_parser(subparsers):
    c = subparsers.add_parser("serve", help="the web page on 127.0.0.1: type an expression, see "
                                            "its derivative, every step, the check and the code")
    c.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    c.add_argument("--open", action="store_true", help="open the page in the web browser")
    c.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="S",
                   help=f"seconds one derivation may take (default {DEFAULT_TIME_LIMIT:g})")
    c.add_argument("--memory-limit", type=int, default=DEFAULT_MEMORY_LIMIT // 1024 ** 2,
                   metavar="MB", help="memory one derivation may use, in MB (default "
                                      f"{DEFAULT_MEMORY_LIMIT // 1024 ** 2})")
    c.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                   help=f"derivations that run at once (default {DEFAULT_WORKERS})")
    return c


def run(args, out):
    from .server import Server  # the server's imports are needed by `serve` alone
    if not 0 <= args.port <= 65535:
        raise MatcalcError(f"--port {args.port}: give a port from 1 to 65535, or 0 for a free one")
    if args.time_limit <= 0 or args.memory_limit < 256 or args.workers < 1:
        raise MatcalcError("--time-limit must be positive, --memory-limit at least 256 MB and "
                           "--workers at least 1")
    try:
        server = Server(args.port, time_limit=args.time_limit,
                        memory_limit=args.memory_limit * 1024 ** 2, workers=args.workers)
    except OSError as e:
        raise MatcalcError(f"cannot listen on 127.0.0.1:{args.port}: {e.strerror or e}") from None
    out.write(f"matcalc: serving {server.url} (Ctrl-C stops)\n")
    out.flush()
    if args.open:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        out.write("matcalc: stopped\n")
    finally:
        server.server_close()
    return 0
