"""Quality gates of the Snakemake pipeline (issue 5 item 8) and its caching behaviour.

* ``snakemake --lint`` reports nothing (every rule names workflow/envs/styleflow.yaml);
* ``snakefmt --check`` passes;
* every shipped config dry-runs, each with the jobs it should have;
* after a real run of the tiny grid (in a temporary folder, ``--directory``): adding a variant
  schedules no frames/flow/masks job, adding a style no flow job, changing one variant's weight
  reruns only that variant's jobs; an interrupted stylisation resumes without losing its frames.

Stylisation runs one ``sequence`` job per shot after the ``consistency`` checkpoint has found the
scene cuts, and ``assemble`` joins a run's shots: a dry run before the checkpoint has run lists
the ``assemble`` jobs only (the shots are not known yet); after it, one ``sequence`` job per shot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from workflow_helpers import BIN, CONFIG, REPO, kill_when, overlay, private_copy, scheduled, snakemake
from workflow_helpers import job_counts as _job_counts

#: Every test here starts Snakemake (seconds each): not in the quick tier (pytest -m "not slow").
pytestmark = pytest.mark.slow

PREP_RULES = {"frames", "flow", "consistency"}
#: The rules of this issue; later stages (metrics, tables, grids) add their own jobs to a run.
STAGES = {"demo_clip", "demo_style", "frames", "flow", "consistency", "flowviz", "sequence", "assemble", "encode",
          "train_model"}


def job_counts(output: str, rules: set[str] | None = None) -> dict[str, int]:
    """Job counts of a run's first "Job stats" table, for this issue's stages by default."""
    return _job_counts(output, STAGES if rules is None else rules)


def dry_run(workdir: Path, *configfiles: str) -> subprocess.CompletedProcess:
    """A dry run; without config files, the default config/config.yaml (as from the repo root)."""
    return snakemake("-n", "--configfile", *(configfiles or [str(CONFIG / "config.yaml")]), workdir=workdir)


# ---------------------------------------------------------------- static gates


def test_lint_is_clean(tmp_path: Path) -> None:
    proc = snakemake("--lint", "--configfile", str(CONFIG / "config.yaml"), workdir=tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert "Congratulations, your workflow is in a good condition!" in out, out[-3000:]
    assert not re.findall(r"^\s+\* (.+?):?$", out, re.M), out[-3000:]


def test_snakefmt_check() -> None:
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_default_profile_is_picked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from snakemake.cli import parse_args

    monkeypatch.chdir(REPO)
    _, args = parse_args(["-n"])
    assert args.rerun_incomplete and args.show_failed_logs
    assert {t.name for t in args.rerun_triggers} == {"MTIME", "PARAMS", "INPUT"}  # code: a param (codehash)
    assert {k: r.value for k, r in args.resources.items()} == {"gpu": 1}
    _, args = parse_args(["-n", "--resources", "gpu=2"])  # the command line wins
    assert args.resources["gpu"].value == 2


# ---------------------------------------------------------------- dry runs of the shipped configs


def test_plain_dry_run_from_the_repository_root() -> None:
    """`snakemake -n` in a clone: config/config.yaml and profiles/default are found by themselves."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(BIN / "snakemake"), "-n"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "profiles/default" in proc.stderr


def test_default_config_dry_run(tmp_path: Path) -> None:
    out = dry_run(tmp_path).stdout
    counts = job_counts(out)
    cfg = yaml.safe_load((CONFIG / "config.yaml").read_text())
    runs = len(cfg["variants"]) * len(cfg["styles"]) * len(cfg["videos"]) * len(cfg["resolutions"])
    assert counts == {
        "demo_clip": 1, "demo_style": 1, "frames": 1, "flow": 1, "consistency": 1, "flowviz": 1,
        "assemble": runs, "encode": runs,
    }  # fmt: skip  (sequence and train_model jobs appear once the consistency checkpoint has run)
    # every stylisation job a fresh dry run knows asks for the GPU resource (so --resources gpu=1
    # serialises them); the per-shot sequence jobs' is checked after the checkpoint in test_resources
    blocks = [b for b in re.split(r"\n(?=\[.*\]\n)", out) if re.search(r"^rule (stylize_image|layer_figure):", b, re.M)]
    assert len(blocks) == job_counts(out, {"stylize_image", "layer_figure"}).get("stylize_image", 0) + 1
    assert all(re.search(r"^\s*resources: .*\bgpu=1\b", b, re.M) for b in blocks)


def test_tiny_config_dry_run(tmp_path: Path) -> None:
    counts = job_counts(dry_run(tmp_path, str(CONFIG / "tiny.yaml")).stdout)
    assert counts["assemble"] == 2 and counts["frames"] == 1 and "sequence" not in counts  # shots: after the checkpoint


def test_report_config_dry_run(tmp_path: Path) -> None:
    """The report config points at a user's files: the test supplies stand-ins by an overlay."""
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "painting.jpg").write_bytes(b"")
    mine = overlay(
        tmp_path,
        "mine",
        {"videos": {"clip": {"path": "clip.mp4"}}, "styles": {"painting": {"images": ["painting.jpg"]}}},
    )
    out = dry_run(tmp_path, str(CONFIG / "report.yaml"), mine).stdout
    counts = job_counts(out)
    assert counts == {"frames": 1, "flow": 1, "consistency": 1, "flowviz": 1, "assemble": 5, "encode": 5}
    assert "results/prep/clip/h350/frames" in out
    variants = {job["variant"] for job in scheduled(out, "assemble")}
    assert variants == {"noInit", "noFlowInit_noTemporalLoss", "noFlowInit_temporalLoss", "flowInit_temporalLoss", "moreSteps"}


def test_report_config_without_the_video_says_what_to_do(tmp_path: Path) -> None:
    proc = snakemake("-n", "--configfile", str(CONFIG / "report.yaml"), workdir=tmp_path, check=False)
    assert proc.returncode != 0
    assert "config videos.clip.path: data/my_video.mp4 does not exist" in proc.stdout


def test_runs_filter_picks_a_subset(tmp_path: Path) -> None:
    only = overlay(tmp_path, "only", {"runs": [{"variant": ["noInit", "moreSteps"]}]})
    out = dry_run(tmp_path, str(CONFIG / "config.yaml"), only).stdout
    assert {j["variant"] for j in scheduled(out, "assemble")} == {"noInit", "moreSteps"}
    assert job_counts(out)["encode"] == 2


def test_runs_filter_with_an_unknown_name_fails_clearly(tmp_path: Path) -> None:
    bad = overlay(tmp_path, "bad", {"runs": [{"variant": "nosuch"}]})
    proc = snakemake("-n", "--configfile", str(CONFIG / "config.yaml"), bad, workdir=tmp_path, check=False)
    assert proc.returncode != 0
    assert "config runs[0].variant: nosuch is not in the grid" in proc.stdout


def test_long_term_variant_needs_its_flow_offsets(tmp_path: Path) -> None:
    lt = overlay(tmp_path, "lt", {"variants": {"longTerm": {}}})
    proc = snakemake("-n", "--configfile", str(CONFIG / "config.yaml"), lt, workdir=tmp_path, check=False)
    assert proc.returncode != 0 and "config flow.offsets: variant longTerm needs flow" in proc.stdout
    ok = overlay(tmp_path, "ok", {"variants": {"longTerm": {}}, "flow": {"offsets": [1, 2, 4]}})
    variants = yaml.safe_load((CONFIG / "config.yaml").read_text())["variants"]
    assert job_counts(dry_run(tmp_path, str(CONFIG / "config.yaml"), ok).stdout)["assemble"] == len(variants) + 1


def test_bad_name_is_rejected_before_anything_runs(tmp_path: Path) -> None:
    bad = overlay(tmp_path, "bad", {"variants": {"../../etc": {}}})
    proc = snakemake("-n", "--configfile", str(CONFIG / "config.yaml"), bad, workdir=tmp_path, check=False)
    assert proc.returncode != 0 and "does not match" in proc.stdout


# ---------------------------------------------------------------- a real run of the tiny grid


@pytest.fixture
def tiny(tiny_run: Path) -> Path:
    """The tiny grid run to completion (conftest's session-wide run; read-only here)."""
    return tiny_run


def tiny_dry_run(workdir: Path, changes: dict | None = None) -> str:
    files = [str(CONFIG / "tiny.yaml")]
    if changes:
        files.append(overlay(workdir, "change", changes))
    return dry_run(workdir, *files).stdout


RUN = "results/runs/demo/swirls/h40/tiny/{variant}"
SHOT = "000001-000004"  # the tiny clip has no cut: one shot


def test_end_to_end_outputs(tiny: Path) -> None:
    from styleflow.enc.weights import resolve_weights

    info = resolve_weights("auto", "auto", None)[1].as_dict()
    expected_weights = {k: info[k] for k in ("backbone", "weights_source", "weights_file")}
    for variant in ("noInit", "flowInit_temporalLoss"):
        run = tiny / RUN.format(variant=variant)
        assert sorted(p.name for p in (run / "frames").glob("frame_*.png")) == [f"frame_{k:06d}.png" for k in range(1, 5)]
        assert (run / "video.mp4").stat().st_size > 0
        rows = (run / "frames.csv").read_text().strip().splitlines()
        assert len(rows) == 1 + 4
        record = json.loads((run / "run.json").read_text())
        assert record["workflow"] == {"video": "demo", "style": "swirls", "res": "40", "budget": "tiny", "variant": variant}
        assert record["frames"] == 4 and record["variant"] == variant
        # the backbone and weights file that `weights: auto` finds here, never random weights
        assert record["weights_source"] != "random"
        assert {k: record[k] for k in ("backbone", "weights_source", "weights_file")} == expected_weights
        assert Path(record["weights_file"]).is_file()
        import cv2

        cap = cv2.VideoCapture(str(run / "video.mp4"))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
        assert int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 40
    prep = tiny / "results/prep/demo/h40"
    for name in ("flow-dis.mp4", "warped-dis.mp4"):
        assert (prep / name).stat().st_size > 0
    assert len(list((prep / "frames").glob("frame_*.png"))) == 4
    assert len(list((prep / "flow-dis").glob("*.flo"))) == 6  # flow.keep: true (default): kept, as .flo
    for variant in ("noInit", "flowInit_temporalLoss"):
        shot = tiny / RUN.format(variant=variant) / "shots" / SHOT
        assert json.loads((shot / "shot.json").read_text())["shot"] == [1, 4]
        assert (shot / "frame_000004.png").read_bytes() == (tiny / RUN.format(variant=variant) / "frames/frame_000004.png").read_bytes()
    assert not list((tiny / "scratch").rglob("*.png"))  # published shots leave no scratch frames
    for rule in ("frames", "flow", "consistency", "sequence", "assemble", "encode", "flowviz", "demo"):
        assert list((tiny / "logs" / rule).rglob("*.log")), rule
    for rule in ("frames", "flow", "consistency", "sequence", "encode", "flowviz"):
        assert list((tiny / "benchmarks" / rule).rglob("*.tsv")), rule


def test_nothing_to_do_after_the_run(tiny: Path) -> None:
    assert "Nothing to be done" in tiny_dry_run(tiny)


def test_adding_a_variant_schedules_no_preparation(tiny: Path) -> None:
    out = tiny_dry_run(tiny, {"variants": {"flowInit_noTemporalLoss": {}}})
    assert job_counts(out) == {"sequence": 1, "assemble": 1, "encode": 1}  # the checkpoint ran: shots are known
    assert [j["variant"] for j in scheduled(out, "sequence")] == ["flowInit_noTemporalLoss"]


def test_adding_a_style_schedules_no_flow(tiny: Path) -> None:
    from styleflow.data.demo import make_style

    make_style(tiny / "other.png", height=64, width=64, seed=7)
    out = tiny_dry_run(tiny, {"styles": {"other": {"images": ["other.png"]}}})
    assert job_counts(out) == {"sequence": 2, "assemble": 2, "encode": 2}
    assert {j["style"] for j in scheduled(out, "sequence")} == {"other"}


def test_changing_a_variant_reruns_only_that_variant(tiny: Path) -> None:
    out = tiny_dry_run(tiny, {"variants": {"flowInit_temporalLoss": {"temporal_weight": 50.0}}})
    assert job_counts(out) == {"sequence": 1, "assemble": 1, "encode": 1}
    assert [j["variant"] for j in scheduled(out, "sequence")] == ["flowInit_temporalLoss"]
    assert "Params have changed since last execution" in out


def test_changing_the_budget_reruns_stylisation_only(tiny: Path) -> None:
    out = tiny_dry_run(tiny, {"budgets": {"tiny": {"first": 6, "later": 4}}})
    assert job_counts(out) == {"sequence": 2, "assemble": 2, "encode": 2}


def test_adding_a_resolution_prepares_only_that_resolution(tiny: Path) -> None:
    out = tiny_dry_run(tiny, {"resolutions": [40, 32]})
    counts = job_counts(out)
    assert counts["frames"] == 1 and counts["flow"] == 1 and counts["consistency"] == 1 and counts["assemble"] == 2
    assert {j["res"] for j in scheduled(out, "frames")} == {"32"}
    assert "demo_clip" not in counts


def test_rerun_after_lost_outputs_keeps_finished_frames(tiny: Path, tmp_path: Path) -> None:
    """Lost run outputs are re-assembled from the finished shots: no frame is stylised again."""
    tiny = private_copy(tiny, tmp_path)
    run = tiny / RUN.format(variant="flowInit_temporalLoss")
    shot = run / "shots" / SHOT
    before = {k: (shot / f"frame_{k:06d}.png").stat().st_mtime_ns for k in (1, 2, 3, 4)}
    (run / "run.json").unlink()
    (run / "frames" / "frame_000004.png").unlink()
    out = snakemake("--cores", "2", "--configfile", str(CONFIG / "tiny.yaml"), workdir=tiny, timeout=300).stdout
    assert "sequence" not in job_counts(out) and job_counts(out)["assemble"] == 1
    after = {k: (shot / f"frame_{k:06d}.png").stat().st_mtime_ns for k in (1, 2, 3, 4)}
    assert after == before
    assert (run / "frames" / "frame_000004.png").exists() and (run / "run.json").exists()
    assert "Nothing to be done" in tiny_dry_run(tiny)


def test_changed_settings_restart_the_run(tiny: Path, tmp_path: Path) -> None:
    """A params change reruns the job, and the old frames are not resumed from."""
    tiny = private_copy(tiny, tmp_path)
    run = tiny / RUN.format(variant="noInit")
    frame1 = run / "shots" / SHOT / "frame_000001.png"
    before = frame1.stat().st_mtime_ns
    stale = tiny / "scratch/runs/demo/swirls/h40/tiny/noInit" / SHOT  # an unfinished run with the old settings
    stale.mkdir(parents=True)
    shutil.copyfile(frame1, stale / "frame_000001.png")
    (stale / ".signature.json").write_text('{"params": "old"}')
    change = overlay(tiny, "budget", {"variants": {"noInit": {"first_iterations": 5}}})
    target = str(run.relative_to(tiny) / "run.json")
    out = snakemake("--cores", "2", target, "--configfile", str(CONFIG / "tiny.yaml"), change, workdir=tiny, timeout=300).stdout
    assert job_counts(out) == {"sequence": 1, "assemble": 1}
    assert frame1.stat().st_mtime_ns != before
    assert "starting afresh" in (tiny / f"logs/sequence/demo/swirls/h40/tiny/noInit/{SHOT}.log").read_text()
    assert json.loads((run / "run.json").read_text())["first_iterations"] == 5


def test_interrupted_stylisation_resumes(tiny: Path, tmp_path: Path) -> None:
    """Kill Snakemake (and its job) mid-clip; the next call finishes the clip from where it stopped.

    On a private copy of the tiny run: its frames, flow and masks are reused, and a new budget makes
    a new run of the same 4-frame clip, slow enough (20 iterations a frame) to be caught mid-shot."""
    work = private_copy(tiny, tmp_path)
    config = yaml.safe_load((CONFIG / "tiny.yaml").read_text())
    config["budgets"] = {"slow": {"first": 20, "later": 20}}
    config["variants"] = {"noInit": {}}
    cfg = overlay(work, "cfg", config)
    run = work / "results/runs/demo/swirls/h40/slow/noInit"
    target = str(run.relative_to(work) / "run.json")  # this stage only: no metrics, tables, plots
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(work),
           "--cores", "2", target, "--configfile", cfg]  # fmt: skip
    scratch = work / "scratch/runs/demo/swirls/h40/slow/noInit" / SHOT  # config scratch
    # a frame is finished once its record is written (after its PNG): kill after frame 2's
    kill_when(cmd, work, scratch / ".records" / "frame_000002.json", env=env)
    done = {p.name: p.stat().st_mtime_ns for p in scratch.glob("frame_*.png")
            if (scratch / ".records" / f"{p.stem}.json").exists()}
    assert 2 <= len(done) < 4 and not (run / "run.json").exists()
    snakemake("--unlock", "--configfile", cfg, workdir=work)  # the killed run left its lock
    out = snakemake("--cores", "2", target, "--configfile", cfg, workdir=work, timeout=300).stdout
    assert job_counts(out) == {"sequence": 1, "assemble": 1}  # no frames, flow or masks: the copy's
    shot = run / "shots" / SHOT  # the finished frames moved there from the scratch folder
    assert {n: (shot / n).stat().st_mtime_ns for n in done} == done  # finished frames kept as they were
    assert len(list((run / "frames").glob("frame_*.png"))) == 4 and not scratch.exists()
    log = (work / f"logs/sequence/demo/swirls/h40/slow/noInit/{SHOT}.log").read_text()
    assert "resuming the unfinished run" in log and "starting afresh" not in log
