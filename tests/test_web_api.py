"""The JSON API of `matcalc serve`, through a real server on a free loopback port: answers,
errors at their column, the size, time and memory limits, the security headers, escaping."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

import matcalc as mc
from matcalc.web.examples import EXAMPLES
from matcalc.web.limits import MAX_BODY
from matcalc.web.server import CSP, Server

TIME_LIMIT = 3.0
MEMORY_LIMIT = 512 * 1024 ** 2


@pytest.fixture(scope="module")
def server():
    srv = Server(0, time_limit=TIME_LIMIT, memory_limit=MEMORY_LIMIT, workers=2)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def call(server, path, body=None, data=None, headers=None, method=None):
    """(status, headers, bytes) of one request; errors are answers too."""
    if body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(server.url.rstrip("/") + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def derive(server, body):
    status, headers, raw = call(server, "/api/derive", body)
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(raw)


TRACE = {"expr": "tr(X @ A @ X.T)", "shapes": {"X": ["n", "m"], "A": ["m", "m"]}, "wrt": "X",
         "kind": "gradient"}


def test_gradient_answer_has_result_steps_check_and_code(server):
    status, a = derive(server, TRACE)
    assert status == 200
    assert [(r["name"], r["text"]) for r in a["results"]] == [("X", "X@(A + A.T)")]
    assert a["results"][0]["latex"] == "X (A + A^{T})"
    rules = [s["rule"] for s in a["steps"]]
    assert "product rule" in rules and "read off the gradient" in rules
    product = a["steps"][rules.index("product rule")]
    assert product["identity"] == "d(A@B) = dA@B + A@dB"
    assert r"\mathrm{d}(A B)" in product["note"]
    assert a["steps"][0]["text"] == "df = d(tr(X@A@X.T))"
    assert a["latex"].startswith(r"\begin{aligned}") and a["text"].splitlines()[1] == "f = tr(X@A@X.T)"
    assert a["check"]["ok"] is True and a["check"]["errors"]["X"] < 1e-8
    # the generated code computes the gradient the answer shows
    namespace = {}
    exec(compile(a["code"]["source"], a["code"]["filename"], "exec"), namespace)
    rng = np.random.default_rng(0)
    X, A = rng.normal(size=(4, 3)), rng.normal(size=(3, 3))
    value, grads = namespace["value_and_grad"](X=X, A=A)
    shown = mc.parse(a["results"][0]["text"], {"X": (4, 3), "A": (3, 3)})
    np.testing.assert_allclose(grads["X"], mc.evaluate(shown, {"X": X, "A": A}), rtol=1e-12)
    assert np.isclose(value, np.trace(X @ A @ X.T))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["title"] for e in EXAMPLES])
def test_every_example_derives_and_checks(server, example):
    status, a = derive(server, example["request"])
    assert status == 200, a
    assert a["results"] and a["steps"] and a["check"]["ok"], a.get("check")
    assert "def " in a["code"]["source"]


def test_notation_lists_what_values_may_be_assumed(server):
    status, _, raw = call(server, "/api/notation")
    assert status == 200
    notation = json.loads(raw)
    assert notation["assume"] == {"onehot": "one-hot", "simplex": "on the probability simplex"}
    # each is accepted by /api/derive: the page offers no kind the server refuses
    for kind in notation["assume"]:
        status, a = derive(server, {"expr": "-sum(y*log(softmax(z)))", "shapes": {"y": ["n"], "z": ["n"]},
                                    "wrt": "z", "kind": "gradient", "assume": {"y": kind}})
        assert status == 200 and a["results"][0]["text"] == "softmax(z) - y", a


def test_network_answer_names_the_layers(server):
    status, a = derive(server, {"net": "dense(1000,100,bias=false) relu dense(100,10,bias=false)",
                                "loss": "sse"})
    assert status == 200
    assert {r["name"]: r["text"] for r in a["results"]} == {"W1": "X.T@grad_h",
                                                            "W2": "h_relu.T@grad_y_pred"}
    headings = [s["heading"] for s in a["steps"] if "heading" in s]
    assert headings[0].startswith("Forward pass") and "Dense layer y_pred = h_relu@W2:" in headings
    assert any(s.get("rule") == "cyclic trace" for s in a["steps"])


@pytest.mark.parametrize("body, column, field, message", [
    ({**TRACE, "expr": "tr(X @@ A)"}, 7, "expr", "expected a number, a symbol"),
    ({**TRACE, "expr": "X @ A", "shapes": {"X": ["n", "m"], "A": ["n", "m"]}}, 3, "expr",
     "shape mismatch in @: n x m @ n x m"),
    ({**TRACE, "expr": "tr(X @ B)"}, 8, "expr", "undeclared symbol 'B'"),
    ({**TRACE, "expr": "__import__('os').system('id')"}, 12, "expr", "strings are not part"),
    ({"net": "dense(2,3) relu dense(3,"}, 25, "net", "expected"),
], ids=["parse", "shape", "undeclared", "no-strings", "net-spec"])
def test_errors_carry_their_column(server, body, column, field, message):
    status, a = derive(server, body)
    assert status == 400
    assert a["error"]["column"] == column and a["error"]["field"] == field
    assert message in a["error"]["message"]


@pytest.mark.parametrize("body, field, message", [
    ({**TRACE, "wrt": "Y"}, "wrt", "Y does not occur in the function"),
    ({**TRACE, "wrt": []}, "wrt", "wrt must be a variable name"),
    ({**TRACE, "kind": "laplacian"}, "kind", "kind must be one of gradient"),
    ({**TRACE, "shapes": {"X": ["n", "m", "k"]}}, "shapes", "at most two dimensions"),
    ({**TRACE, "shapes": {"X": ["n", 0]}}, "shapes", "dimension 0 is not positive"),
    ({**TRACE, "exec": "1"}, "exec", "unknown field 'exec'"),
    ({"net": "dense(2,3)", "loss": "hinge"}, "loss", "unknown loss 'hinge'"),
    ([1, 2], "body", "must be a JSON object"),
], ids=["wrt-absent", "wrt-empty", "kind", "shape-rank", "shape-zero", "unknown-field", "loss",
        "not-object"])
def test_bad_fields_are_named(server, body, field, message):
    status, a = derive(server, body)
    assert status == 400
    assert a["error"]["field"] == field and message in a["error"]["message"]
    assert a["error"]["column"] is None


def test_body_must_be_json(server):
    status, _, raw = call(server, "/api/derive", data=b"{not json")
    assert status == 400 and "not valid JSON" in json.loads(raw)["error"]["message"]
    status, _, raw = call(server, "/api/derive", data=b"[" * 100_000 + b"]" * 100_000)
    assert status == 400 and json.loads(raw)["error"]["message"] == "the body is JSON nested too deeply"
    status, _, raw = call(server, "/api/derive", data=b"expr=x",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415 and "application/json" in json.loads(raw)["error"]["message"]


def test_body_over_the_size_limit_is_refused_unread(server):
    body = {**TRACE, "expr": "x" + " + x" * (MAX_BODY // 4)}
    status, _, raw = call(server, "/api/derive", body)
    assert status == 413
    assert f"at most {MAX_BODY:,}" in json.loads(raw)["error"]["message"]
    assert derive(server, TRACE)[0] == 200          # still serving


def test_runaway_derivation_is_stopped_and_the_server_keeps_serving(server):
    nest = "sum(" + "exp(" * 1000 + "x" + ")" * 1000 + ")"
    start = time.monotonic()
    status, a = derive(server, {"expr": nest, "shapes": {"x": ["n"]}, "wrt": "x"})
    elapsed = time.monotonic() - start
    assert status == 422 and a["error"]["type"] == "LimitError"
    assert f"time limit of {TIME_LIMIT:g} s" in a["error"]["message"]
    assert TIME_LIMIT <= elapsed < TIME_LIMIT + 5
    assert derive(server, TRACE)[1]["results"][0]["text"] == "X@(A + A.T)"


def test_derivation_over_the_memory_bound_is_stopped(server):
    status, a = derive(server, {"expr": "sum(x @ x.T)", "shapes": {"x": [20000]}, "wrt": "x"})
    assert status == 422
    assert a["error"]["message"] == ("the derivation needed more than the memory limit of "
                                     "512 MB and was stopped")
    assert derive(server, TRACE)[0] == 200


@pytest.mark.parametrize("path", ["/", "/static/page.js", "/api/examples", "/nowhere"])
def test_every_answer_sends_the_security_headers(server, path):
    status, headers, _ = call(server, path)
    assert status == (404 if path == "/nowhere" else 200)
    assert headers["Content-Security-Policy"] == CSP
    assert "default-src 'none'" in CSP and "script-src 'self';" in CSP and "unsafe" not in CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    status, headers, _ = call(server, "/api/derive", TRACE)
    assert headers["Content-Security-Policy"] == CSP


def test_nothing_of_a_request_is_written_into_html(server):
    page = call(server, "/")[2]
    status, headers, raw = call(server, "/?expr=<script>alert(1)</script>")
    assert raw == page and b"<script>alert" not in raw
    status, headers, raw = call(server, "/<img/src=x/onerror=alert(1)>")
    assert status == 404 and headers["Content-Type"] == "application/json"
    status, a = derive(server, {**TRACE, "expr": "X <img src=x onerror=alert(1)>"})
    assert status == 400 and a["error"]["column"] == 3
    # scripts in the page are files of its own; none is inline
    assert re.findall(rb"<script[^>]*>", page) == [b'<script defer src="/static/katex/katex.min.js">',
                                                 b'<script defer src="/static/page.js">']
    assert b" style=" not in page and b"<style" not in page


def test_only_its_own_files_and_host_names(server):
    assert call(server, "/static/../server.py")[0] == 404
    assert call(server, "/static/katex/LICENSE.txt")[0] == 200
    status, headers, _ = call(server, "/static/katex/fonts/KaTeX_Main-Regular.woff2")
    assert status == 200 and headers["Content-Type"] == "font/woff2"
    status, _, raw = call(server, "/", headers={"Host": "attacker.example:80"})
    assert status == 421 and "answers only at 127.0.0.1" in json.loads(raw)["error"]["message"]
    assert server.server_address[0] == "127.0.0.1"


def test_concurrent_requests_all_answer(server):
    bodies = [TRACE, {**TRACE, "expr": "tr(X @@ A)"}] * 6
    answers = [None] * len(bodies)

    def ask(i):
        answers[i] = derive(server, bodies[i])
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [a[0] for a in answers] == [200, 400] * 6


def test_serve_command_prints_its_address_and_serves():
    process = subprocess.Popen([sys.executable, "-m", "matcalc", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = re.fullmatch(r"matcalc: serving (http://127\.0\.0\.1:\d+/) \(Ctrl-C stops\)\n", line)
        assert url, line
        with urllib.request.urlopen(url.group(1), timeout=30) as response:
            assert b"<title>matcalc" in response.read()
    finally:
        process.terminate()
        process.wait(10)


def test_ctrl_c_stops_the_server_cleanly_even_during_a_derivation():
    """Ctrl-C reaches the server and its workers (one process group): one line, exit 0, no
    traceback from a worker that was deriving."""
    process = subprocess.Popen([sys.executable, "-m", "matcalc", "serve"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    url = process.stdout.readline().split()[2]
    body = json.dumps({"expr": "sum(" + "exp(" * 1000 + "x" + ")" * 1000 + ")",
                       "shapes": {"x": ["n"]}, "wrt": "x"}).encode()
    request = urllib.request.Request(url + "api/derive", data=body,
                                     headers={"Content-Type": "application/json"})
    client = threading.Thread(target=lambda: pytest.raises(OSError, urllib.request.urlopen,
                                                           request, timeout=30), daemon=True)
    client.start()
    time.sleep(2)                     # the derivation is under way in a worker
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert (out, err, process.returncode) == ("matcalc: stopped\n", "", 0)


def test_serve_open_opens_the_page_in_the_browser(tmp_path):
    """--open hands the address to the user's browser ($BROWSER, as the webbrowser module reads)."""
    opened = tmp_path / "opened"
    browser = tmp_path / "browser.py"
    browser.write_text("import pathlib, sys\npathlib.Path(sys.argv[2]).write_text(sys.argv[1])\n")
    env = {**os.environ, "BROWSER": f"{sys.executable} {browser} %s {opened}"}
    process = subprocess.Popen([sys.executable, "-m", "matcalc", "serve", "--open"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().split()[2]
        deadline = time.monotonic() + 30
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened.read_text() == url
    finally:
        process.terminate()
        process.wait(10)


def test_serve_command_rejects_a_bad_port(capsys):
    from matcalc.cli import main
    assert main(["serve", "--port", "70000"]) == 2
    assert capsys.readouterr().err == ("matcalc: --port 70000: give a port from 1 to 65535, "
                                       "or 0 for a free one\n")
