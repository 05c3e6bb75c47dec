"""A long fuzzing campaign: matcalc against the reference evaluator on random notation text.

    python benchmarks/fuzz.py --cases 20000 --seed 1
    python benchmarks/fuzz.py --cases 2000 --kinds grad,hessian --seconds 10 --quiet

Runs the checks of tests/trust_checks.py (value, grad, jacobian, hessian, hvp, codegen) on cases
from the plain random generator of tests/strategies.py, in this process, each under a time
limit (signal.alarm). Case i of seed s is the same on every machine, so a campaign reproduces.
Prints each failure as it happens, as a one-line call that reruns it
(`cd tests && python -c "from trust_checks import *; print(check(...))"`), then the counts per
kind and status, the distinct failure classes with their shortest example, and the refusal
messages by frequency. A failure that matches a fixed finding of tests/trust_known.py is marked
as a regression of it, any other as NEW; none is tolerated: exit code 1 when anything failed.

This script only reports; it does not shrink cases or fix anything.
"""
import argparse
import json
import pathlib
import sys
import time
from collections import defaultdict

TESTS = pathlib.Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

import trust_checks  # noqa: E402  (tests/ is put on the path just above)
from trust_known import FIXED, FIXED_REFUSALS  # noqa: E402


def finding(outcome):
    """'regression of <id>' when the outcome matches a fixed finding, else 'NEW'."""
    ids = [k.id for k in FIXED + FIXED_REFUSALS if k.matches(outcome)]
    return f"regression of {ids[0]}" if ids else "NEW"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(trust_checks.KINDS),
                        help="comma-separated subset of " + ",".join(trust_checks.KINDS))
    parser.add_argument("--seconds", type=int, default=20, help="time limit per case")
    parser.add_argument("--max-depth", type=int, default=4)
    parser.add_argument("--quiet", action="store_true", help="no line per failure while running")
    parser.add_argument("--log", help="write every case that did not pass to this file, one JSON "
                                      "object a line")
    args = parser.parse_args(argv)
    kinds = tuple(args.kinds.split(","))
    unknown = set(kinds) - set(trust_checks.KINDS)
    if unknown:
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")

    start = time.perf_counter()
    log = open(args.log, "w") if args.log else None

    def report(index, outcome):
        if log is not None and outcome.status != "passed":
            log.write(json.dumps({"index": index, "kind": outcome.kind, "text": outcome.case.text,
                                  "shapes": outcome.case.shapes, "draw": outcome.case.draw,
                                  "wrt": outcome.wrt, "seed": outcome.seed,
                                  "status": outcome.status, "detail": outcome.detail}) + "\n")
        if outcome.status == "failed" and not args.quiet:
            print(f"[case {index}] {outcome}", flush=True)
        if (index + 1) % 1000 == 0:
            print(f"... {index + 1} cases, {time.perf_counter() - start:.0f} s", file=sys.stderr,
                  flush=True)

    tally = trust_checks.campaign(args.cases, seed=args.seed, kinds=kinds, seconds=args.seconds,
                                  max_depth=args.max_depth, report=report)
    elapsed = time.perf_counter() - start
    print()
    print(f"{tally.total()} cases, seed {args.seed}, {elapsed:.1f} s "
          f"({1000 * elapsed / max(tally.total(), 1):.1f} ms a case)")
    print(tally.summary())

    classes = defaultdict(list)
    for outcome in tally.failures:
        classes[trust_checks.failure_class(outcome)].append(outcome)
    if classes:
        print(f"\n{len(classes)} failure classes (count, class, known finding, shortest example):")
        for name, outcomes in sorted(classes.items(), key=lambda kv: -len(kv[1])):
            shortest = min(outcomes, key=lambda o: len(o.case.text))
            known = sorted({finding(o) for o in outcomes})
            print(f"{len(outcomes):6d}  {name}  [{', '.join(known)}]\n        {shortest.repro()}")
    if tally.refusals:
        print("\nrefusals (count, message):")
        for message, count in tally.refusals.most_common():
            print(f"{count:6d}  {message}")
    new = [o for o in tally.failures if finding(o) == "NEW"]
    print(f"\n{len(tally.failures)} failures, {len(new)} new")
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
