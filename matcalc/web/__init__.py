"""matcalc.web: a local web page over matcalc (`matcalc serve`), and the JSON API it uses.

    request.py   the API's request, read and checked field by field
    answer.py    a derivation as the API's JSON answer (results, steps, check, code)
    worker.py    each derivation in a worker process, under a time limit and a memory bound
    warm.py      the fork server's warm-up: caches filled once, inherited by every worker
    limits.py    the limits: body size, time, memory, workers
    server.py    the HTTP server on 127.0.0.1: routes, limits, security headers
    examples.py  the examples the page offers
    cli.py       the `serve` subcommand
    static/      the page (index.html, page.js, page.css) and KaTeX 0.16 (MIT licence)
"""
