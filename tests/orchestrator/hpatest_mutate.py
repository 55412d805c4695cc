#!/usr/bin/env python3
"""hpatest_mutate.py HPATEST CASES.jsonl — the runner compares every field.

For every case and every field of its `expected`, writes a copy of the case
with that one field perturbed (numbers +1, strings changed, lists extended,
booleans flipped, null made 0), plus one copy per case with an extra
expected field the runner does not know. Runs hpatest on all of them: every
mutant must fail (exit 1, "0 passed, N failed"), and hpatest on the
unmodified file must pass all. Exit 0 when so."""
import json
import re
import subprocess
import sys
import tempfile


def perturb(v):
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + 1 if v < 2**63 - 1 else v - 1
    if isinstance(v, float):
        return v + 0.5
    if isinstance(v, str):
        return v + "-mutated"
    if isinstance(v, list):
        return v + [["mutated"]] if v and isinstance(v[0], list) else v + ["mutated"]
    if v is None:
        return 0
    raise ValueError(f"cannot perturb {v!r}")


def mutants(case):
    for key in case["expected"]:
        m = json.loads(json.dumps(case))
        m["expected"][key] = perturb(m["expected"][key])
        m["id"] = f"{case['id']}#{key}"
        yield m
    m = json.loads(json.dumps(case))
    m["expected"]["unknown_field"] = 1
    m["id"] = f"{case['id']}#unknown"
    yield m


def run(hpatest, path):
    p = subprocess.run([hpatest, path], capture_output=True, text=True, timeout=120)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    m = re.fullmatch(r"(\d+) passed, (\d+) failed", last)
    if not m:
        sys.exit(f"hpatest printed no summary: {p.stdout[-500:]} {p.stderr[-500:]}")
    return p.returncode, int(m.group(1)), int(m.group(2))


def main():
    hpatest, cases_path = sys.argv[1], sys.argv[2]
    cases = [json.loads(line) for line in open(cases_path) if line.strip()]
    rc, passed, failed = run(hpatest, cases_path)
    if rc != 0 or failed or passed != len(cases):
        sys.exit(f"unmodified cases: exit {rc}, {passed} passed, {failed} failed")
    all_mutants = [m for c in cases for m in mutants(c)]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as f:
        for m in all_mutants:
            f.write(json.dumps(m) + "\n")
        f.flush()
        rc, passed, failed = run(hpatest, f.name)
    if rc != 1 or passed != 0 or failed != len(all_mutants):
        sys.exit(f"{len(all_mutants)} mutants: exit {rc}, {passed} passed (want 0), {failed} failed")
    print(f"{len(cases)} cases pass; all {len(all_mutants)} mutants fail")


if __name__ == "__main__":
    main()
