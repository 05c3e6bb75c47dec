"""The examples folder holds the seeds' reference code (seed000_numpy) that tests compare with."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
