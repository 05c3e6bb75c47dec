"""Step and Derivation records (data, not strings). Rendering is in latex.py / text rendering."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    before: object       # e.g. dL
    after: object        # what it became
    rule: str            # "product rule"
    identity: str        # "d(A @ B) = dA @ B + A @ dB"


@dataclass
class Derivation:
    f: object
    variables: list
    single: bool
    raw: dict
    results: dict
    visits: list
    kind: str

    @property
    def result(self):
        return next(iter(self.results.values()))
