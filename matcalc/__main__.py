"""`python -m matcalc` and the `matcalc` command: answers --version at once, then runs cli.main.

The command line (cli.py) imports SymPy; `--version` needs none of it, and says which
distribution it is, since an unrelated PyPI project named `matcalc` (materials science) installs
the same import name and the same command. Where that distribution is installed too, every run
of this command says so on stderr first: the two share files in site-packages (uninstalling
either deletes files of the other, so the note says to reinstall this one afterwards), and
whichever was installed last owns the `matcalc` command. If files of the other one have replaced
this command line's, the run stops with the same note instead of a traceback.
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
            f"(pip uninstall matcalc) so that this one, {DISTRIBUTION}, is the one that runs, "
            f"then reinstall this one (pip install --force-reinstall {DISTRIBUTION}), since the "
            f"two share files")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    note = shadowing_note()
    if note:
        sys.stderr.write(f"matcalc: {note}\n")
    if argv in (["--version"], ["-V"]):
        sys.stdout.write(f"matcalc {__version__} ({DISTRIBUTION}, symbolic matrix calculus by "
                         f"differential identification)\n")
        return 0
    try:
        from .cli import main as command_line
    except ImportError as e:             # this package's files replaced by the other one's
        if not note:
            raise
        sys.stderr.write(f"matcalc: the command line of {DISTRIBUTION} does not load ({e}); "
                         f"see the note above\n")
        return 1
    return command_line(argv)


if __name__ == "__main__":
    sys.exit(main())
