#!/usr/bin/env python3
"""The PromQL conformance gate: run build/promqltest over Prometheus's test
scripts and compare its failing evals with tests/promql/known_failures.txt.

Fails when an eval fails that the list does not name (a regression, or a
new check), when a listed eval now passes or no longer exists (delete its
line: the list only shrinks), when the scripts are missing, or when the
runner does not finish with its summary line.

usage: check_known_failures.py PROMQLTEST KNOWN_FAILURES SCRIPT_DIR
"""
import os
import re
import subprocess
import sys

FAIL_LINE = re.compile(r'^(\S+\.test:\d+): FAIL')
EVAL_LINE = re.compile(r'^eval')
SUMMARY = re.compile(r'^float evals: (\d+) passed, (\d+) failed; native-histogram evals: (\d+) not run$')


def read_known(path):
    known = {}
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            loc, _, reason = line.partition('  ')
            if not reason.strip():
                sys.exit(f'{path}:{n}: expected "file:line  reason", got: {line}')
            known[loc] = reason.strip()
    return known


def count_evals(script_dir, files):
    return sum(1 for f in files for line in open(os.path.join(script_dir, f), encoding='utf-8')
               if EVAL_LINE.match(line.strip()))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    runner, known_path, script_dir = sys.argv[1:]
    if not os.path.isdir(script_dir):
        sys.exit(f'FAIL: Prometheus test scripts not found at {os.path.abspath(script_dir)} '
                 '(expected ../shared/peers/promql next to the repository)')
    files = sorted(f for f in os.listdir(script_dir) if f.endswith('.test'))
    if not files:
        sys.exit(f'FAIL: no *.test files in {script_dir}')
    known = read_known(known_path)
    out = subprocess.run([os.path.abspath(runner)] + files, cwd=script_dir, capture_output=True,
                         text=True, timeout=280)
    lines = out.stdout.splitlines()
    summary = SUMMARY.match(lines[-1]) if lines else None
    if out.returncode not in (0, 1) or not summary:
        sys.exit(f'FAIL: promqltest exited {out.returncode} without its summary\n'
                 f'{out.stdout[-2000:]}{out.stderr[-2000:]}')
    passed, failed, native = map(int, summary.groups())
    total = count_evals(script_dir, files)
    if passed + failed + native != total:
        sys.exit(f'FAIL: promqltest reported {passed + failed + native} evals, the scripts hold {total}')
    failing = {}
    for line in lines:
        m = FAIL_LINE.match(line)
        if m:
            failing[m.group(1)] = line
    new = sorted(set(failing) - set(known))
    fixed = sorted(set(known) - set(failing))
    for loc in new:
        print(f'NEW FAILURE (not in known_failures.txt): {failing[loc]}')
    for loc in fixed:
        print(f'NOW PASSES (delete its line from known_failures.txt): {loc}  {known[loc]}')
    print(lines[-1])
    print(f'{len(known)} known failures listed')
    if new or fixed:
        sys.exit(f'FAIL: {len(new)} unlisted failures, {len(fixed)} listed evals that no longer fail')


if __name__ == '__main__':
    main()
