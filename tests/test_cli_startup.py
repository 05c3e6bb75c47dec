"""The command line's start-up (issue 14): `matcalc --help`, every `matcalc <command> --help` and
`matcalc help ...` import no SymPy, NumPy or rule module (the times are in
benchmarks/bench_startup.py, never asserted here), and the names cli.py writes out for its help
and choices equal the registries they come from."""
import subprocess
import sys

import pytest

from matcalc import cli

COMMANDS = ["grad", "jacobian", "hessian", "hvp", "net", "codegen", "help", "serve",
            "check-backward"]
HEAVY = ("sympy", "numpy", "matcalc.core", "matcalc.commands", "matcalc.nn", "matcalc.derive")


def modules_after(argv):
    """The heavy modules loaded by running the command line on argv in a fresh process."""
    probe = ("import sys\nfrom matcalc.__main__ import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY[:2]!r} "
             f"or m.startswith({HEAVY[2:]!r})))")
    r = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["help", "notation"], ["help", "net"]]
                         + [[c, "--help"] for c in COMMANDS], ids=" ".join)
def test_help_imports_nothing_heavy(argv):
    assert modules_after(argv) == "[]"


def test_a_command_still_imports_what_it_runs():
    assert "'sympy'" in modules_after(["grad", "tr(X)", "--wrt", "X", "--shape", "X=n,n"])


def test_every_command_has_help():
    parsers = cli.build_parser()._subparsers._group_actions[0].choices
    assert sorted(parsers) == sorted(COMMANDS)
    for name in COMMANDS:
        assert parsers[name].format_help().startswith(f"usage: matcalc {name}")


def test_the_written_out_names_equal_their_registries():
    """cli.py cannot read the registries without importing them; a list here that has drifted
    from its registry fails this test (update the list in matcalc/cli.py)."""
    from matcalc import codegen, commands
    from matcalc.calculus.assumptions import KINDS as ASSUMPTION_KINDS
    from matcalc.codegen.optimizers import DECAYS, OPTIMIZERS
    from matcalc.nn import LOSSES, activation_names
    from matcalc.nn.spec import MAKERS
    from matcalc.printing.latex import NOTE_LAYOUTS
    assert tuple(cli.NOTE_LAYOUTS) == tuple(NOTE_LAYOUTS)
    assert sorted(cli.ASSUMPTION_KINDS) == sorted(ASSUMPTION_KINDS)
    assert tuple(cli.BACKENDS) == tuple(codegen.BACKENDS)
    assert tuple(cli.LOSSES) == tuple(LOSSES)
    assert sorted(cli.LAYERS) == sorted(MAKERS)
    assert all(signature.startswith(name) for name, signature in cli.LAYERS.items())
    assert list(cli.ACTIVATIONS) == activation_names()
    assert sorted(cli.KINDS) == sorted(commands.KINDS)
    assert tuple(cli.OPTIMIZERS) == tuple(OPTIMIZERS) and tuple(cli.DECAYS) == tuple(DECAYS)


def test_net_help_lists_layers_activations_and_losses():
    text = cli.build_parser()._subparsers._group_actions[0].choices["net"].format_help()
    for name in [*cli.LAYERS, *cli.ACTIVATIONS, *cli.LOSSES]:
        assert name in text
