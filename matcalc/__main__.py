"""`python -m matcalc ...` runs the command line (matcalc/cli.py)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
