"""The derivations the typesetting tests render: gradients of the public corpus, its Jacobians
and Hessians, Hessian-vector products, networks (seed 000 first), and every identity a rule can
cite. Shared by tests/test_typeset.py (structure, pdflatex) and tests/test_katex.py (KaTeX,
MathJax 3)."""
import json
import pathlib

import matcalc as mc
from matcalc import nn
from matcalc.calculus import differentials, transpose, vec_rules
from matcalc.core.functions import FUNCTIONS
from matcalc.errors import MatcalcError

CORPUS = json.loads((pathlib.Path(__file__).parent / "data" / "public.json").read_text())
KINDS = {"gradients": mc.grad, "jacobians": mc.jacobian, "hessians": mc.hessian}
HVPS = [("hvp-logdet", "logdet(X)", {"X": ("n", "n")}, "X"),
        ("hvp-logistic", "sum(log(1 + exp(X @ w)))", {"X": ("N", "d"), "w": ("d",)}, "w"),
        ("hvp-quadratic", "tr(X.T @ A @ X)", {"X": ("n", "m"), "A": ("n", "n")}, "X")]
NETWORKS = [("net-seed000", "dense(1000,100,bias=false) relu dense(100,10,bias=false)", "sse"),
            ("net-xor", "dense(2,4) tanh dense(4,1) sigmoid", "sse"),
            ("net-softmax", "dense(4,8) relu dense(8,3)", "softmax_ce"),
            ("net-cnn", "conv2d(1,2,3,stride=2,padding=1) relu maxpool(2) flatten dense(8,3)",
             "softmax_ce", (1, 8, 8))]


def seed000():
    """The backprop of seed 000: X@W1 -> relu -> @W2, summed squared error."""
    net = nn.Sequential([nn.Dense(1000, 100, bias=False), nn.ReLU(),
                         nn.Dense(100, 10, bias=False)], loss=nn.SumSquaredError(), batch="N")
    return net.backprop()


def derivations():
    """[(id, object with .latex(notes))]: every corpus entry matcalc derives, the HVPs and
    the networks."""
    out = []
    for kind, derive in KINDS.items():
        for e in CORPUS[kind]:
            shapes = {k: tuple(v) for k, v in e["shapes"].items()}
            try:
                out.append((e["id"], derive(mc.parse(e["expr"], shapes), e["wrt"])))
            except MatcalcError:
                continue
    for name, text, shapes, wrt in HVPS:
        out.append((name, mc.hvp(mc.parse(text, shapes), wrt)))
    for name, spec, loss, *example in NETWORKS:
        out.append((name, nn.from_spec(spec, loss=loss, input=(example or [None])[0]).backprop()))
    for cell in (nn.RNN, nn.GRU, nn.LSTM):       # backprop through time, one generic step t
        out.append((f"net-{cell.__name__.lower()}", nn.Recurrent(cell(2, 3), n_out=2)))
    return out


def rules():
    """Every rule a derivation can cite: the structural differential rules, the chain rule,
    the transpose rules of identification, the vec rules and every registry record's rule."""
    out = []
    for table in (differentials.STRUCTURAL, transpose.RULES, vec_rules.RULES):
        out += [(f"{table.what}: {r.name}", r) for r in table.rules()]
    out.append(("chain rule", differentials.CHAIN_RULE))
    out += [(f"registry: {f.name}", f.rule) for f in FUNCTIONS.values()]
    return out
