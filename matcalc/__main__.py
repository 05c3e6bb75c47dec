"""`python -m matcalc` and the `matcalc` command: answers --version at once, then runs cli.main.

The command line (cli.py) imports SymPy; `--version` needs none of it, and says which
distribution it is, since an unrelated PyPI project named `matcalc` installs the same import
name and the same command.
"""
import sys

from . import __version__

DISTRIBUTION = "matcalc-diffid"


def shadowing_note():
    """A line naming the unrelated `matcalc` distribution when it is installed too, or ''."""
    from importlib import metadata
    try:
        other = metadata.distribution("matcalc")
    except metadata.PackageNotFoundError:
        return ""
    return (f"note: the unrelated distribution 'matcalc' {other.version} (materials science) is "
            f"also installed and uses the same import name and command; uninstall one of them "
            f"(pip uninstall matcalc) so that this one, {DISTRIBUTION}, is the one that runs")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv in (["--version"], ["-V"]):
        sys.stdout.write(f"matcalc {__version__} ({DISTRIBUTION}, symbolic matrix calculus by "
                         f"differential identification)\n")
        note = shadowing_note()
        if note:
            sys.stderr.write(f"matcalc: {note}\n")
        return 0
    from .cli import main as command_line
    return command_line(argv)


if __name__ == "__main__":
    sys.exit(main())
