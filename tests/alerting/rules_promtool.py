"""rules_promtool.py — Lookout's rules against Debian's promtool, the
reference implementation.

  check-examples LOOKOUT EXAMPLES_DIR
      `promtool check rules` accepts every metric rule file shipped in
      examples/rules (log rule files are Lookout's extension), and
      `lookout test rules` passes every *_test.yaml there.
  check-files LOOKOUT RULES_CHECK_DIR
      promtool agrees with the loader's verdicts that test_rules_load checks:
      it accepts good_*.yaml and refuses bad_*.yaml (log rule files and
      Prometheus 3 fields, good_log_* / bad_log_* / good_prom3_*, are beyond
      Debian's promtool 2.42 and skipped).
  unit LOOKOUT RULES_UNIT_DIR EXAMPLES_DIR
      every rule unit-test file is run by `lookout test rules` and by
      `promtool test rules`: the exit status must be the one the file name
      promises (pass_* 0, fail_* 1) and both tools must agree, file by file;
      log_* files (input_streams) are run by Lookout alone. Finally all the
      files in one `lookout test rules` call must exit 1 (any failure fails).

promtool missing: exit 77 (SKIP)."""
import glob
import os
import shutil
import subprocess
import sys

SKIP = 77


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def is_log_file(path):
    name = os.path.basename(path)
    return name.startswith("log_") or name == "logs_test.yaml"


def expected_rc(path):
    name = os.path.basename(path)
    if name.startswith(("fail_", "log_fail_")):
        return 1
    return 0


def check_examples(lookout, promtool, examples):
    failures = []
    rule_files = [f for f in sorted(glob.glob(os.path.join(examples, "*.yaml")))
                  if not f.endswith("_test.yaml")]
    metric = [f for f in rule_files if os.path.basename(f) != "logs.yaml"]
    assert metric, "no example rule files found"
    for f in metric:
        rc, out, err = run([promtool, "check", "rules", f])
        if rc != 0:
            failures.append(f"promtool check rules {f}: exit {rc}\n{out}{err}")
    for f in sorted(glob.glob(os.path.join(examples, "*_test.yaml"))):
        rc, out, err = run([lookout, "test", "rules", f])
        if rc != 0 or "  SUCCESS" not in out:
            failures.append(f"lookout test rules {f}: exit {rc}\n{out}{err}")
    return failures


def check_files(promtool, check_dir):
    failures = []
    files = sorted(glob.glob(os.path.join(check_dir, "*.yaml")))
    assert len(files) > 10, "rule check files missing"
    for f in files:
        name = os.path.basename(f)
        if name.startswith(("good_log_", "bad_log_", "good_prom3_")):
            continue
        want = 0 if name.startswith("good_") else 1
        rc, out, err = run([promtool, "check", "rules", f])
        if rc != want:
            failures.append(f"promtool check rules {f}: exit {rc}, want {want}\n{out}{err}")
    return failures


def unit(lookout, promtool, unit_dir, examples):
    failures = []
    files = sorted(glob.glob(os.path.join(unit_dir, "*.yaml")))
    files += sorted(glob.glob(os.path.join(examples, "*_test.yaml")))
    assert len(files) > 10, "rule unit-test files missing"
    for f in files:
        want = expected_rc(f)
        rc, out, err = run([lookout, "test", "rules", f])
        verdict = "  SUCCESS" if rc == 0 else "  FAILED:"
        if rc != want or verdict not in out + err or not out.startswith("Unit Testing:  "):
            failures.append(f"lookout test rules {f}: exit {rc}, want {want}\n{out}{err}")
        if is_log_file(f):
            continue
        prc, pout, perr = run([promtool, "test", "rules", f])
        if prc != rc:
            failures.append(f"{f}: promtool exit {prc}, lookout exit {rc}\n"
                            f"promtool:\n{pout}{perr}\nlookout:\n{out}{err}")
    rc, out, err = run([lookout, "test", "rules"] + files)
    if rc != 1 or out.count("Unit Testing:  ") != len(files):
        failures.append(f"all files at once: exit {rc}, want 1, "
                        f"{out.count('Unit Testing:  ')} of {len(files)} reported")
    return failures


def main():
    mode, lookout = sys.argv[1], sys.argv[2]
    promtool = shutil.which("promtool")
    if not promtool:
        print("SKIP: promtool not installed")
        return SKIP
    if mode == "check-examples":
        failures = check_examples(lookout, promtool, sys.argv[3])
    elif mode == "check-files":
        failures = check_files(promtool, sys.argv[3])
    else:
        failures = unit(lookout, promtool, sys.argv[3], sys.argv[4])
    for f in failures:
        print("FAIL:", f)
    print("ok" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
