"""styleflow.codehash: a script's digest follows what its code does (its own and every styleflow
module it imports, transitively), not file times, comments, docstrings or formatting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from styleflow import codehash


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in styleflow package: a imports b inside a function, b imports nothing."""
    pkg = tmp_path / "styleflow"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""The package."""\n__version__ = "1"\n')
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text('def f():\n    from styleflow.sub import b\n    return b.g()\n')
    (pkg / "sub" / "b.py").write_text('"""B."""\n\n\ndef g():\n    return 1  # one\n')
    (tmp_path / "script.py").write_text('"""A job."""\nfrom styleflow.sub.a import f\n\nf()\n')
    monkeypatch.setattr(codehash, "PACKAGE", pkg)
    return tmp_path


def test_time_comments_docstrings_and_formatting_do_not_count(package: Path) -> None:
    script, b = package / "script.py", package / "styleflow/sub/b.py"
    before = codehash.code_digest(script)
    os.utime(b, ns=(1, 1))
    script.touch()
    b.write_text('"""B, documented better."""\n\n\ndef g(   ):\n    # a comment\n    return 1\n')
    assert codehash.code_digest(script) == before


@pytest.mark.parametrize("path", ["script.py", "styleflow/sub/a.py", "styleflow/sub/b.py", "styleflow/__init__.py"])
def test_a_real_change_anywhere_it_imports_counts(package: Path, path: str) -> None:
    script = package / "script.py"
    before = codehash.code_digest(script)
    target = package / path
    target.write_text(target.read_text() + "\nCHANGED = 2\n")
    assert codehash.code_digest(script) != before


def test_an_unrelated_module_does_not_count(package: Path) -> None:
    script = package / "script.py"
    before = codehash.code_digest(script)
    (package / "styleflow/sub/c.py").write_text("X = 1\n")
    assert codehash.code_digest(script) == before


def test_the_workflow_scripts_have_digests() -> None:
    scripts = sorted((Path(__file__).resolve().parents[1] / "workflow/scripts").glob("*.py"))
    digests = {p.name: codehash.code_digest(p) for p in scripts}
    assert all(len(d) == 16 for d in digests.values()) and len(set(digests.values())) == len(digests)
