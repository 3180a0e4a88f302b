"""Shots as independent units of stylisation (issue 16 item 1).

A clip with a real scene cut (two unrelated textures, flows and masks computed by the project's own
DIS flow and consistency check, the cut found by the cut detector): stylising each shot on its own,
in a fresh folder that holds nothing of the other shot and from a prepared clip whose flows and
masks *across* the cut are deleted, gives byte-identical frames to one sequential run over the
clip, for the default variant, long-term and multi-pass. Shots are stylised in reverse order, so
nothing a shot uses can come from an earlier one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_sequence import style_file  # noqa: F401 (the striped style fixture)

from styleflow.errors import StyleflowError
from styleflow.io.images import write_image
from styleflow.io.layout import ClipPaths, frame_name
from styleflow.motion.consistency import compute_masks
from styleflow.motion.flow import compute_flows
from styleflow.video.sequence import CSV_COLUMNS, stylize_clip, stylize_shot
from styleflow.video.shots import (
    Shot,
    assemble_run,
    clip_shots,
    plan_shots,
    publish_shot,
    read_rows,
)

H, W = 40, 56
CUT = 4  # frames 1-3: texture A panning; frames 4-6: texture B panning the other way
N = 6
OPTIONS = {"coarse_to_fine": 1}
BUDGET = {"first_iterations": 5, "iterations": 3}


def texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((3 * H, 3 * W, 3)).astype(np.float32), (0, 0), 2.5)
    return ((img - img.min()) / (img.max() - img.min())).astype(np.float32)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> ClipPaths:
    root = tmp_path_factory.mktemp("cutclip")
    paths = ClipPaths(root / "frames", root / "flow", root / "masks")
    paths.frames.mkdir()
    for k in range(1, N + 1):
        first = k < CUT
        src = texture(1 if first else 2)
        dx, dy = ((k - 1) * 2.0, (k - 1) * 1.0) if first else (-(k - CUT) * 2.0, 0.5 * (k - CUT))
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        frame = cv2.warpAffine(src, m, (src.shape[1], src.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        write_image(paths.frame(k), frame[H : 2 * H, W : 2 * W])
    compute_flows(paths.frames, paths.flow, method="dis", offsets=[1, 2, 4], progress=False)
    compute_masks(paths.flow, paths.masks, offsets=[1, 2, 4], frames_dir=paths.frames, progress=False)
    return paths


def without_cross_cut_files(clip: ClipPaths, dest: Path) -> ClipPaths:
    """A copy of the prepared clip without any flow or mask that pairs frames of different shots."""
    copy = ClipPaths(dest / "frames", dest / "flow", dest / "masks")
    for a, b in ((clip.frames, copy.frames), (clip.flow, copy.flow), (clip.masks, copy.masks)):
        shutil.copytree(a, b)
    removed = 0
    for folder in (copy.flow, copy.masks):
        for f in folder.iterdir():
            numbers = [int(x) for x in f.stem.split("_")[1:] if x.isdigit()]
            if len(numbers) == 2 and (min(numbers) < CUT) != (max(numbers) < CUT):
                f.unlink()
                removed += 1
    assert removed > 0
    return copy


def test_plan_shots_and_names() -> None:
    assert plan_shots([], 5) == [Shot(1, 5)]
    assert plan_shots([9, 4, 4, 1, 12], 10) == [Shot(1, 3), Shot(4, 8), Shot(9, 10)]
    assert Shot.parse("000004-000008") == Shot(4, 8) and Shot(4, 8).name == "000004-000008"
    assert list(Shot(4, 6).frames) == [4, 5, 6] and len(Shot(4, 6)) == 3
    with pytest.raises(StyleflowError, match="6-digit"):
        Shot.parse("4-8")
    with pytest.raises(StyleflowError, match="first <= last"):
        Shot(5, 4)


def test_the_clip_has_the_cut(clip: ClipPaths) -> None:
    assert clip_shots(clip.masks) == [Shot(1, CUT - 1), Shot(CUT, N)]


@pytest.mark.parametrize("variant", ["flowInit_temporalLoss", "longTerm", "multiPass"])
@pytest.mark.slow
def test_shots_alone_equal_one_sequential_run(clip: ClipPaths, style_file: Path, tmp_path: Path, variant: str) -> None:
    kw = dict(variant=variant, options=OPTIONS, device="cpu", seed=3, progress=False, **BUDGET)
    one = tmp_path / "one"
    record = stylize_clip(clip, [style_file], one, **kw)
    assert record["scene_cuts"] == [CUT] and [s["frames"] for s in record["shots"]] == [[1, CUT - 1], [CUT, N]]
    cut_free = without_cross_cut_files(clip, tmp_path / "prep")
    published = []
    for shot in reversed(clip_shots(clip.masks)):  # last shot first: nothing can come from an earlier one
        work, out = tmp_path / "scratch" / shot.name, tmp_path / "shots" / shot.name
        rec, rows = stylize_shot(cut_free, [style_file], work, shot, **kw)
        assert [r["frame"] for r in rows] == list(shot.frames) and rec["shot"] == [shot.first, shot.last]
        assert sorted(p.name for p in work.glob("frame_*.png")) == [frame_name(k) for k in shot.frames]
        publish_shot(work, out, shot, rec, rows, CSV_COLUMNS)
        assert not work.exists()
        published.append(out)
    run = tmp_path / "run"
    joined = assemble_run(published, run / "frames", run / "frames.csv", run / "run.json", CSV_COLUMNS)
    for k in range(1, N + 1):
        assert (run / "frames" / frame_name(k)).read_bytes() == (one / frame_name(k)).read_bytes(), f"frame {k}"
    same = [c for c in CSV_COLUMNS if c != "seconds"]
    assert [[r[c] for c in same] for r in read_rows(run / "frames.csv")] == [
        [r[c] for c in same] for r in read_rows(one / "frames.csv")
    ]
    for key in ("frames", "scene_cuts", "total_iterations", "settings", "variant", "precision", "weights_file"):
        assert joined.get(key) == record.get(key), key
    assert json.loads((run / "run.json").read_text())["frames"] == N


def test_a_shot_resumes_at_the_frame_it_stopped_at(clip: ClipPaths, style_file: Path, tmp_path: Path) -> None:
    kw = dict(variant="flowInit_temporalLoss", options=OPTIONS, device="cpu", seed=3, progress=False, **BUDGET)
    shot = Shot(CUT, N)
    full = tmp_path / "full"
    stylize_shot(clip, [style_file], full, shot, **kw)
    part = tmp_path / "part"
    shutil.copytree(full, part)
    for k in (CUT + 1, CUT + 2):  # "killed" after the shot's first frame
        (part / frame_name(k)).unlink()
        (part / ".records" / f"frame_{k:06d}.json").unlink()
    kept = (part / frame_name(CUT)).stat().st_mtime_ns
    stylize_shot(clip, [style_file], part, shot, **kw)
    assert (part / frame_name(CUT)).stat().st_mtime_ns == kept
    for k in shot.frames:
        assert (part / frame_name(k)).read_bytes() == (full / frame_name(k)).read_bytes(), f"frame {k}"


def test_a_shot_that_is_not_one_is_refused(clip: ClipPaths, style_file: Path, tmp_path: Path) -> None:
    for wrong in (Shot(2, N), Shot(1, CUT - 2), Shot(1, N), Shot(CUT, N + 1)):
        with pytest.raises(StyleflowError, match="not a shot of"):
            stylize_shot(clip, [style_file], tmp_path / "x", wrong, device="cpu", progress=False)
    assert not (tmp_path / "x").exists()


def test_assembly_refuses_shots_with_a_gap(tmp_path: Path) -> None:
    for name in ("000001-000002", "000004-000005"):
        d = tmp_path / name
        d.mkdir()
        shot = Shot.parse(name)
        for k in shot.frames:
            write_image(d / frame_name(k), np.zeros((4, 4, 3), np.float32))
        (d / "frames.csv").write_text("frame\n" + "".join(f"{k}\n" for k in shot.frames))
        (d / "shot.json").write_text(json.dumps({"variant": "v"}))
    with pytest.raises(StyleflowError, match="rows do not cover|tile the clip"):
        assemble_run(sorted(tmp_path.iterdir()), tmp_path / "f", tmp_path / "r.csv", tmp_path / "r.json", ["frame"])
    assert not (tmp_path / "r.json").exists()


# ---------------------------------------------------------------- the workflow: one job per shot


@pytest.mark.slow
def test_workflow_runs_one_job_per_shot_with_the_frames_of_one_job(clip: ClipPaths, style_file: Path, tmp_path: Path) -> None:
    """A video with a cut: after the checkpoint the DAG has one sequence job per shot and run; the
    assembled frames equal stylize_clip's in one process (same seed, one torch thread)."""
    import yaml
    from workflow_helpers import CONFIG, job_counts, overlay, scheduled, snakemake

    from styleflow.io.encode import encode_arrays
    from styleflow.io.images import read_image, to_uint8

    encode_arrays([to_uint8(read_image(clip.frame(k))) for k in range(1, N + 1)], tmp_path / "cut.mp4", fps=10)
    shutil.copyfile(style_file, tmp_path / "style.png")
    cfg = yaml.safe_load((CONFIG / "tiny.yaml").read_text())
    cfg["videos"] = {"cut": {"path": "cut.mp4"}}
    cfg["styles"] = {"stripes": {"images": ["style.png"]}}
    cfg["seed"] = 3
    cfgfile = overlay(tmp_path, "cut", cfg)
    prep = "results/prep/cut/h40"
    snakemake(f"{prep}/cuts-dis/cuts.json", "--cores", "2", "--configfile", cfgfile, workdir=tmp_path, timeout=300)
    assert json.loads((tmp_path / prep / "cuts-dis/cuts.json").read_text())["cuts"] == [CUT]
    run = "results/runs/cut/stripes/h40/tiny/flowInit_temporalLoss"
    dry = snakemake("-n", "--configfile", cfgfile, workdir=tmp_path).stdout
    assert job_counts(dry, {"sequence", "assemble"}) == {"sequence": 4, "assemble": 2}  # 2 shots x 2 variants
    assert {j["shot"] for j in scheduled(dry, "sequence")} == {f"000001-{CUT - 1:06d}", f"{CUT:06d}-{N:06d}"}
    out = snakemake(f"{run}/run.json", "--cores", "2", "--set-threads", "sequence=1", "--configfile", cfgfile,
                    workdir=tmp_path, timeout=600).stdout  # fmt: skip
    assert job_counts(out, {"sequence", "assemble"}) == {"sequence": 2, "assemble": 1}
    prepared = ClipPaths(tmp_path / prep / "frames", tmp_path / prep / "flow-dis", tmp_path / prep / "masks-dis")
    one = tmp_path / "one"
    stylize_clip(prepared, [tmp_path / "style.png"], one, variant="flowInit_temporalLoss", first_iterations=6,
                 iterations=3, options=cfg["options"], device="cpu", seed=3, progress=False)  # fmt: skip
    for k in range(1, N + 1):
        assert (tmp_path / run / "frames" / frame_name(k)).read_bytes() == (one / frame_name(k)).read_bytes(), f"frame {k}"
    record = json.loads((tmp_path / run / "run.json").read_text())
    assert record["scene_cuts"] == [CUT] and len(record["shots"]) == 2
