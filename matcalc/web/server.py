"""The local web server: one page, its static files, and the JSON API the page uses.

    GET  /                 the page (static/index.html)
    GET  /static/...       the page's script, style sheet and KaTeX (shipped in the package)
    GET  /api/examples     [{"title", "request"}]: the examples the page offers
    GET  /api/notation     the function names, losses and kinds the notation knows, and what
                           values may be assumed of a variable (--assume)
    POST /api/derive       a request (web/request.py) -> its answer (web/answer.py)

Answers: 200 with the derivation; 400 with {"error": {"message", "column", "field", "type"}}
for input matcalc cannot read or derive; 404 for no such page; 411 without a Content-Length;
413 for a body over `MAX_BODY` bytes (limits.py); 415 for a body that is not JSON; 421 for a
request addressed to another host name; 422 for a derivation stopped by its time or memory
limit; 500 for an internal error; 503 when every worker is busy for longer than `queue_wait`.

Built on the standard library's ThreadingHTTPServer: the server only routes and copies bytes
(a thread per connection), while each derivation runs in a worker process with a time limit and
a memory bound (web/worker.py), so a slow or runaway request never stalls the others and the
server needs no dependency beyond matcalc's own. `workers` bounds how many derivations run at
once. It binds to 127.0.0.1 only, answers only requests addressed to 127.0.0.1 or localhost (a
page elsewhere cannot reach it through DNS rebinding), takes JSON bodies only (so a page of
another origin cannot post to it without a CORS preflight, which it never grants), and sends a
Content-Security-Policy that lets the page load nothing but its own files. The page is static:
no request text is ever written into HTML by the server; the page's script puts answers into
the document as text (textContent) and as KaTeX's rendering of matcalc's LaTeX.
"""
import json
import pathlib
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..calculus.assumptions import KINDS as VALUE_KINDS
from ..core import functions
from ..nn import LOSSES, activation_names
from ..notation.structural import DIMENSION_FUNCTIONS, STRUCTURAL
from .examples import EXAMPLES
from .request import KINDS
from .limits import (DEFAULT_MEMORY_LIMIT, DEFAULT_TIME_LIMIT, DEFAULT_WORKERS, MAX_BODY,
                     QUEUE_WAIT)
from .worker import derive_limited, start_fork_server

HOST = "127.0.0.1"
STATIC = pathlib.Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".woff2": "font/woff2",
                 ".png": "image/png", ".txt": "text/plain; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; "
       "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                    "Cross-Origin-Opener-Policy": "same-origin",
                    "Cross-Origin-Resource-Policy": "same-origin"}
STATUS_OF_ERROR = {"LimitError": HTTPStatus.UNPROCESSABLE_ENTITY,
                   "InternalError": HTTPStatus.INTERNAL_SERVER_ERROR}


def static_files():
    """URL path -> file for everything under static/ (the only files the server reads)."""
    files = {"/": STATIC / "index.html"}
    for path in STATIC.rglob("*"):
        if path.is_file() and path.suffix in CONTENT_TYPES:
            files["/static/" + path.relative_to(STATIC).as_posix()] = path
    return files


def notation():
    return {"functions": sorted(set(functions.BY_NOTATION) | set(STRUCTURAL)
                                | set(DIMENSION_FUNCTIONS)),
            "kinds": list(KINDS), "losses": list(LOSSES), "activations": activation_names(),
            "assume": {name: kind.adjective for name, kind in VALUE_KINDS.items()}}


def error_body(message, field=None, kind="RequestError"):
    return {"error": {"message": message, "column": None, "field": field, "type": kind}}


class Handler(BaseHTTPRequestHandler):
    server_version = "matcalc"
    sys_version = ""
    timeout = 30              # seconds a client may take to send its request

    # -- answering --
    def send(self, status, body, content_type, cache="no-store"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, data):
        self.send(status, json.dumps(data).encode(), "application/json")

    def log_message(self, format, *args):
        if self.server.log is not None:
            self.server.log.write(f"{self.address_string()} {format % args}\n")

    def addressed_here(self):
        """Only requests for this server by its loopback names (no DNS rebinding)."""
        host = self.headers.get("Host", "")
        port = self.server.server_address[1]
        if host in {f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1", "localhost"}:
            return True
        self.send_json(HTTPStatus.MISDIRECTED_REQUEST,
                       error_body(f"this server answers only at 127.0.0.1:{port}", "Host"))
        return False

    # -- routes --
    def do_GET(self):
        if not self.addressed_here():
            return
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == "/api/examples":
            return self.send_json(HTTPStatus.OK, EXAMPLES)
        if path == "/api/notation":
            return self.send_json(HTTPStatus.OK, notation())
        if path == "/favicon.ico":              # the page has no icon; say so without an error
            return self.send(HTTPStatus.NO_CONTENT, b"", "image/x-icon", cache="no-cache")
        file = self.server.files.get(path)
        if file is None:
            return self.send_json(HTTPStatus.NOT_FOUND, error_body(f"no page at {path}", "path"))
        self.send(HTTPStatus.OK, file.read_bytes(), CONTENT_TYPES[file.suffix], cache="no-cache")

    do_HEAD = do_GET

    def do_POST(self):
        if not self.addressed_here():
            return
        if self.path.split("?", 1)[0] != "/api/derive":
            return self.send_json(HTTPStatus.NOT_FOUND, error_body(
                f"no API at {self.path}; POST /api/derive", "path"))
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            self.close_connection = True
            return self.send_json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, error_body(
                "send the request as JSON (Content-Type: application/json)", "Content-Type"))
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            return self.send_json(HTTPStatus.LENGTH_REQUIRED,
                                  error_body("Content-Length is required", "Content-Length"))
        if length > MAX_BODY or length < 0:
            self.close_connection = True       # the body is not read
            return self.send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, error_body(
                f"the request body is {length:,} bytes; at most {MAX_BODY:,}", "body"))
        try:
            body = json.loads(self.rfile.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return self.send_json(HTTPStatus.BAD_REQUEST,
                                  error_body(f"the body is not valid JSON: {e}", "body"))
        except RecursionError:
            return self.send_json(HTTPStatus.BAD_REQUEST,
                                  error_body("the body is JSON nested too deeply", "body"))
        if not self.server.slots.acquire(timeout=self.server.queue_wait):
            return self.send_json(HTTPStatus.SERVICE_UNAVAILABLE, error_body(
                f"the server is busy: every worker was taken for {self.server.queue_wait:g} s; "
                f"try again", None, "BusyError"))
        try:
            answer, _ = derive_limited(body, self.server.time_limit, self.server.memory_limit)
        finally:
            self.server.slots.release()
        error = answer.get("error")
        status = HTTPStatus.OK if error is None else \
            STATUS_OF_ERROR.get(error["type"], HTTPStatus.BAD_REQUEST)
        self.send_json(status, answer)


class Server(ThreadingHTTPServer):
    """The matcalc web server on 127.0.0.1:port (port 0: a free one, see .url)."""
    daemon_threads = True
    request_queue_size = 512       # many clients may connect at once
    allow_reuse_address = True

    def __init__(self, port=0, time_limit=DEFAULT_TIME_LIMIT, memory_limit=DEFAULT_MEMORY_LIMIT,
                 workers=DEFAULT_WORKERS, queue_wait=QUEUE_WAIT, log=None):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.time_limit, self.memory_limit = time_limit, memory_limit
        self.slots = threading.BoundedSemaphore(workers)
        self.queue_wait, self.log = queue_wait, log
        self.files = static_files()
        start_fork_server()
        super().__init__((HOST, port), Handler)

    @property
    def url(self):
        return f"http://{HOST}:{self.server_address[1]}/"

    def handle_error(self, request, client_address):
        """A client that went away (reset, broken pipe, timed out) is not the server's error;
        anything else is reported as the standard library does."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, socket.timeout)):
            if self.log is not None:
                self.log.write(f"{client_address[0]}: connection closed by the client\n")
            return
        super().handle_error(request, client_address)
