"""shared.py — load a harness module from ../shared/bench by path (that folder
is not a package and may not be edited), so the bench drivers reuse the peers'
own start/measure code instead of copying it."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_BENCH = os.path.join(os.path.dirname(ROOT), "shared", "bench")


def load(name):
    """../shared/bench/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(SHARED_BENCH, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
