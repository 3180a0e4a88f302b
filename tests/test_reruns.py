"""Rerun only for real changes (issue 23 item 5): docs/pipeline.md's "What triggers a rerun" table,
row by row, with dry runs on a built tiny grid.

The workflow (Snakefile, rules, scripts, profile) and the library run from a copy in a temporary
folder, so that touching and editing files changes nothing in the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from workflow_helpers import BIN, REPO, job_counts

pytestmark = pytest.mark.slow

RULES = {"frames", "flow", "consistency", "sequence", "assemble", "encode", "metrics", "ablation"}


def snakemake(root: Path, *args: str, timeout: float = 600) -> str:
    """Snakemake with the copy's Snakefile (and its workflow profile and library), in root/work."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(BIN / "snakemake"), "--snakefile", str(root / "Snakefile"), "--directory", str(root / "work"),
           "--configfile", str(root / "config/tiny.yaml"), *args]
    proc = subprocess.run(cmd, cwd=root / "work", env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def planned(root: Path, *args: str) -> dict[str, int]:
    """{rule: jobs} a dry run schedules ({} when there is nothing to do)."""
    return job_counts(snakemake(root, "-n", *args), RULES)


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the workflow and library, with the tiny grid built (every target)."""
    root = tmp_path_factory.mktemp("reruns")
    for name in ("Snakefile", "workflow", "config", "profiles", "src"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copyfile(src, root / name)
    (root / "work").mkdir()
    snakemake(root, "--cores", "2", timeout=900)
    assert planned(root) == {}
    return root


def edit(path: Path, old: str, new: str) -> str:
    """Replace ``old`` by ``new`` in ``path``; return the previous text (to restore it)."""
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))
    return text


def test_touched_scripts_rules_and_sources_rerun_nothing(grid: Path) -> None:
    for pattern in ("workflow/scripts/*.py", "workflow/rules/*.smk", "Snakefile", "src/styleflow/**/*.py"):
        for path in grid.glob(pattern):
            path.touch()
    assert planned(grid) == {}


def test_comments_docstrings_and_formatting_rerun_nothing(grid: Path) -> None:
    seq, lib = grid / "workflow/scripts/sequence.py", grid / "src/styleflow/optim/stylizer.py"
    old_seq = edit(seq, "import hashlib\n", "import hashlib  # a comment\n\n")
    old_lib = lib.read_text()
    lib.write_text(old_lib.replace('"""', '"""An edited docstring. ', 1) + "\n# a trailing comment\n")
    try:
        assert planned(grid) == {}
    finally:
        seq.write_text(old_seq)
        lib.write_text(old_lib)


def test_moving_the_scratch_folder_reruns_nothing(grid: Path) -> None:
    assert planned(grid, "--config", "scratch=somewhere_else") == {}


def test_a_real_change_to_library_code_reruns_what_runs_it(grid: Path) -> None:
    lib = grid / "src/styleflow/video/sequence.py"
    old = lib.read_text()
    lib.write_text(old + "\n_CHANGED = True\n")
    try:
        counts = planned(grid)
    finally:
        lib.write_text(old)
    assert counts.get("sequence") == 2 and counts.get("assemble") == 2  # both runs' shots
    assert not {"frames", "flow", "consistency"} & set(counts)  # preparing the clip does not use it
    assert planned(grid) == {}  # the same content again: nothing


def test_a_real_change_to_a_script_reruns_its_rule_only(grid: Path) -> None:
    script = grid / "workflow/scripts/encode.py"
    old = edit(script, "\nfrom ", "\n_CHANGED = True\nfrom ")
    try:
        counts = planned(grid)
    finally:
        script.write_text(old)
    assert counts.get("encode") == 2 and "sequence" not in counts and "frames" not in counts


def test_an_edited_variant_reruns_that_variant_only(grid: Path) -> None:
    cfg = yaml.safe_load((grid / "config/tiny.yaml").read_text())
    cfg["variants"]["flowInit_temporalLoss"] = {"temporal_weight": 2.0e4}
    overlay = grid / "work/edited.yaml"
    overlay.write_text(yaml.safe_dump(cfg))
    counts = planned(grid, "--configfile", str(overlay))
    assert counts.get("sequence") == 1 and counts.get("assemble") == 1
    assert not {"frames", "flow", "consistency"} & set(counts)


def test_the_order_of_keys_in_the_config_reruns_nothing(grid: Path) -> None:
    def reverse(value):
        return {k: reverse(value[k]) for k in reversed(list(value))} if isinstance(value, dict) else value

    cfg = reverse(yaml.safe_load((grid / "config/tiny.yaml").read_text()))
    reordered = grid / "work/reordered.yaml"
    reordered.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert planned(grid, "--configfile", str(reordered)) == {}
