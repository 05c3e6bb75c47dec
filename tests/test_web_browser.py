"""The page of `matcalc serve` in a real browser: Debian's Chromium (/usr/bin/chromium), driven
by Playwright, against a server on a free loopback port. Each test types as a person would,
waits for the answer and reads what the page shows; the downloaded code is run and compared
with the gradient on the page. A screenshot of each is saved in $MATCALC_ARTIFACTS (or a
temporary folder); docs/web_page.png is the one of the seed 000 network.

Without Chromium or Playwright these tests skip, except in CI (CI=true), where .ci/run
installs both and a missing browser fails.
"""
import importlib.util
import os
import pathlib
import threading

import numpy as np
import pytest
from seed000_numpy import forward_backward as seed000_hand_written

import matcalc as mc
from matcalc.web.server import Server

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
SEED000 = "dense(1000,100,bias=false) relu dense(100,10,bias=false)"

if not (os.path.exists(CHROMIUM) and importlib.util.find_spec("playwright")):
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests need {CHROMIUM} and playwright; .ci/run installs them",
                    pytrace=False)
    pytest.skip(f"no {CHROMIUM} or no playwright here", allow_module_level=True)

from playwright.sync_api import sync_playwright


@pytest.fixture(scope="module")
def server():
    srv = Server(0, time_limit=20, workers=2)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = os.environ.get("MATCALC_ARTIFACTS")
    if folder:
        pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
        return pathlib.Path(folder)
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1200, "height": 1300}, accept_downloads=True)
    pg = context.new_page()
    pg.problems = []            # console errors (CSP violations among them) and page errors
    pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.goto(server.url)
    pg.wait_for_selector("body[data-ready=true]")
    yield pg
    context.close()


def derive(page):
    """Press Derive and wait until the page has shown the answer or the error."""
    page.evaluate("delete document.body.dataset.state")
    page.click("#derive")
    page.wait_for_selector("body[data-state]", timeout=30_000)


def type_expression(page, expr, shapes, wrt):
    page.fill("#expr", expr)
    page.wait_for_function("expr => document.getElementById('vars').dataset.expr === expr", arg=expr)
    for name, dims in shapes.items():
        kind = ["scalar", "vector", "matrix"][len(dims)]
        page.select_option(f'[aria-label="kind of {name}"]', kind)
        if dims:
            page.fill(f'[aria-label="rows of {name}"]', dims[0])
        if len(dims) == 2:
            page.fill(f'[aria-label="columns of {name}"]', dims[1])
        page.set_checked(f'[aria-label="differentiate by {name}"]', name == wrt)


def downloaded_module(page, tmp_path):
    with page.expect_download() as info:
        page.click("#download-code")
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    namespace = {}
    exec(compile(target.read_text(), str(target), "exec"), namespace)
    return info.value.suggested_filename, namespace


def test_trace_gradient_rendered_with_steps_check_and_code(page, artifacts, tmp_path):
    type_expression(page, "tr(X @ A @ X.T)", {"X": ("n", "m"), "A": ("m", "m")}, "X")
    derive(page)
    result = page.locator("#results .result")
    assert result.locator("code").inner_text() == "X: X@(A + A.T)"
    # the result is typeset by KaTeX, from matcalc's LaTeX, without a rendering error
    assert result.locator(".katex-mathml annotation").text_content() == \
        r"\frac{\partial f}{\partial X} = X (A + A^{T})"
    assert page.locator(".katex-error").count() == 0
    assert result.locator(".katex-html").is_visible()
    # every step, with its rule; a step opens to show its identity
    steps = page.locator("#steps li.step")
    assert steps.count() == 9
    rules = page.locator("#steps .rule").all_inner_texts()
    assert rules[:2] == ["trace", "product rule"] and "read off the gradient" in rules
    product = steps.nth(2)
    assert not product.locator(".identity, details > .math").first.is_visible()
    product.locator("summary").click()
    assert product.locator("code.text").text_content() == \
        "   = tr(dX@A@X.T + X@A@d(X.T))   [product rule: d(A@B) = dA@B + A@dB]"
    assert product.locator("details > .math .katex-mathml annotation").text_content().startswith(
        r"\text{product rule:}")
    assert "relative error" in page.inner_text("#check") and page.inner_text("#check").endswith("ok")
    assert page.input_value("#latex").startswith(r"\begin{aligned}")
    page.screenshot(path=str(artifacts / "trace_gradient.png"), full_page=True)
    # the copy buttons put the LaTeX and the code on the clipboard
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("#copy-latex")
    assert page.evaluate("navigator.clipboard.readText()") == page.input_value("#latex")
    page.click("#copy-code")
    assert page.evaluate("navigator.clipboard.readText()") == page.text_content("#code")
    # the downloaded code runs and equals the gradient the page shows
    name, module = downloaded_module(page, tmp_path)
    assert name == "matcalc_gradient.py"
    rng = np.random.default_rng(1)
    X, A = rng.normal(size=(5, 3)), rng.normal(size=(3, 3))
    _, grads = module["value_and_grad"](X=X, A=A)
    shown = mc.parse(result.locator("code").inner_text().split(": ", 1)[1],
                     {"X": (5, 3), "A": (3, 3)})
    np.testing.assert_allclose(grads["X"], mc.evaluate(shown, {"X": X, "A": A}), rtol=1e-12)
    # the state is in the URL: the permalink derives the same in a fresh page
    link = page.get_attribute("#permalink", "href")
    fresh = page.context.new_page()
    fresh.goto(page.url.split("#")[0] + link)
    fresh.wait_for_selector("body[data-state=done]")
    assert fresh.locator("#results code").inner_text() == "X: X@(A + A.T)"
    assert page.problems == []


def test_seed000_network(page, artifacts, tmp_path):
    page.select_option("#kind", "network")
    page.fill("#net", SEED000)
    page.select_option("#loss", "sse")
    derive(page)
    assert page.inner_text("#status") == "done"
    shown = page.locator("#results code").all_inner_texts()
    assert shown == ["W1: X.T@grad_h", "W2: h_relu.T@grad_y_pred"]
    headings = page.locator("#steps li.heading").all_inner_texts()
    assert headings[0] == "Forward pass (shapes on the right):"
    assert "Dense layer y_pred = h_relu@W2:" in headings and "Activation h_relu = relu(h):" in headings
    assert page.locator("#steps .shape").all_inner_texts()[:3] == ["N x 100", "N x 100", "N x 10"]
    assert page.locator(".katex-error").count() == 0
    assert page.inner_text("#check").count(": ok") == 2
    page.screenshot(path=str(artifacts / "seed000_network.png"), full_page=False)
    # the downloaded code runs and equals the seed's own hand-written backward pass
    name, module = downloaded_module(page, tmp_path)
    assert name == "matcalc_network.py"
    x, y, w1, w2 = (np.random.default_rng(0).normal(size=s)
                    for s in [(8, 1000), (8, 10), (1000, 100), (100, 10)])
    loss, grads = module["value_and_grad"](X=x, W1=w1, W2=w2, Y=y)
    ref_loss, ref_w1, ref_w2 = seed000_hand_written(x, y, w1, w2)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grads["W1"], ref_w1, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(grads["W2"], ref_w2, rtol=1e-10, atol=1e-8)
    assert page.problems == []


def test_wrong_shape_shown_at_its_column(page, artifacts):
    type_expression(page, "tr(X @ A)", {"X": ("n", "m"), "A": ("n", "m")}, "X")
    derive(page)
    assert page.get_attribute("#expr", "aria-invalid") == "true"
    assert page.inner_text("#status") == "shape mismatch in @: n x m @ n x m at column 6"
    box = page.locator("#expr-error")
    assert box.locator(".echo").inner_text() == "tr(X @ A)"
    assert box.locator(".caret").inner_text() == "     ^"
    assert page.evaluate("[document.getElementById('expr').selectionStart, "
                         "document.getElementById('expr').selectionEnd]") == [5, 6]
    assert box.locator(".message").inner_text() == "shape mismatch in @: n x m @ n x m at column 6"
    page.screenshot(path=str(artifacts / "shape_error.png"), full_page=False)
    # a parse error, the same way
    page.fill("#expr", "tr(X @@ A)")
    derive(page)
    assert box.locator(".caret").inner_text() == "      ^"
    assert box.locator(".message").inner_text() == \
        "expected a number, a symbol, a function call or '(', found '@' at column 7"
    # the only console messages are Chromium's notes of the API's 400 answers: no CSP violation
    assert page.problems == [("Failed to load resource: the server responded with a status of "
                              "400 (Bad Request)")] * 2


def test_markup_in_the_input_stays_text(page, server):
    attack = 'X <img src=x onerror="document.title=1">'
    type_expression(page, attack, {"X": ("n", "n")}, "X")
    derive(page)
    assert page.locator(".echo").inner_text() == attack
    assert page.locator("img").count() == 0 and page.title().startswith("matcalc")
    # the same text arriving through a permalink, in a fresh page
    fresh = page.context.new_page()
    fresh.goto(server.url + "#expr=" + attack.replace(" ", "%20") + "&shape=X%3Dn,n&wrt=X")
    fresh.wait_for_selector("body[data-state=error]")
    assert fresh.input_value("#expr") == attack
    assert fresh.locator(".echo").inner_text() == attack
    assert fresh.locator("img").count() == 0 and fresh.title().startswith("matcalc")


def test_examples_derive_on_choice(page):
    page.select_option("#examples", label="logistic regression")
    page.wait_for_selector("body[data-state=done]")
    assert page.locator("#results code").inner_text() == "w: X.T@(sigmoid(X@w) - y)"
    assert page.locator('[aria-label="rows of X"]').input_value() == "N"
    assert page.locator('[aria-label="differentiate by w"]').is_checked()
    assert page.problems == []



def test_values_assumed_in_the_table_and_links_followed_in_the_page(page):
    type_expression(page, "-sum(y*log(softmax(z)))", {"y": ("n",), "z": ("n",)}, "z")
    derive(page)
    assert page.locator("#results code").inner_text() != "z: softmax(z) - y"
    page.select_option('[aria-label="values of y"]', "onehot")
    derive(page)
    assert page.locator("#results code").inner_text() == "z: softmax(z) - y"
    link = page.get_attribute("#permalink", "href")
    assert "assume=y%3Donehot" in link
    # a link followed inside the open page (the address changes, the page stays) derives it
    page.evaluate("delete document.body.dataset.state")
    page.evaluate("h => { location.hash = h }", "kind=gradient&expr=tr(X%40A%40X.T)"
                  "&shape=X%3Dn,m&shape=A%3Dm,m&wrt=X")
    page.wait_for_selector("body[data-state=done]")
    assert page.locator("#results code").inner_text() == "X: X@(A + A.T)"
    # back to the first link: its assumption is in the table again
    page.evaluate("delete document.body.dataset.state")
    page.evaluate("h => { location.hash = h }", link[1:])
    page.wait_for_selector("body[data-state=done]")
    assert page.locator('[aria-label="values of y"]').input_value() == "onehot"
    assert page.locator("#results code").inner_text() == "z: softmax(z) - y"
    assert page.problems == []
