"""Refuse early, in one line, leave nothing (issue 23 item 4): command-line numbers are checked by
the option registry when the command line is read; ``styleflow video`` decodes its paintings and
checks its video before any frame or flow is made; the workflow refuses folders where files are
expected and misspelt top-level keys at ``snakemake -n``, in one line with the closest key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from workflow_helpers import CONFIG, overlay, snakemake

from styleflow.cli.main import main
from styleflow.io.encode import encode_arrays
from styleflow.io.images import write_image


@pytest.fixture(scope="module")
def clip_and_style(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("refusals")
    rng = np.random.default_rng(0)
    video = root / "clip.mp4"
    encode_arrays([(rng.random((32, 48, 3)) * 255).astype(np.uint8) for _ in range(3)], video, fps=10)
    style = root / "style.png"
    write_image(style, rng.random((24, 24, 3)).astype(np.float32))
    return video, style


def refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``styleflow ARGV`` in ``tmp_path``; it must exit 2 with one line and create nothing."""
    before = sorted(tmp_path.rglob("*"))
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage error
        code = int(exc.code or 0)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert sorted(tmp_path.rglob("*")) == before  # no work folder, no output
    return err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--iterations", "-1"], "argument --iterations: expected a whole number >= 0 (or null), got -1"),
        (["--first-iterations", "x"], "argument --first-iterations: expected a whole number >= 0 (or null), got 'x'"),
        (["--temporal-weight", "-3"], "argument --temporal-weight: expected a number >= 0, got -3.0"),
        (["--passes", "51"], "argument --passes: expected a whole number from 1 to 50, got 51"),
        (["--long-term", "0,1"], "argument --long-term: expected distinct frame offsets >= 1"),
        (["--blend", "2"], "argument --blend: expected a number from 0 to 1, got 2.0"),
        (["--style-weight", "nan"], "argument --style-weight: expected a number >= 0, got nan"),
        (["--max-frames", "0"], "argument --max-frames: expected a whole number >= 1, got 0"),
        (["--step", "0"], "argument --step: expected a whole number >= 1, got 0"),
        (["--start", "-2"], "argument --start: expected a whole number >= 0, got -2"),
        (["--style-weights", "-1"], "argument --style-weights: expected a number >= 0, got -1.0"),
        (["--variant", "noinit"], "variant 'noinit': unknown, not a built-in variant; did you mean noInit?"),
        (["--init", "model"], "variant init/first_init 'model' needs `model: PATH`"),
    ],
)
def test_video_numbers_and_names_are_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clip_and_style: tuple[Path, Path], extra: list[str],
    message: str,
) -> None:
    video, style = clip_and_style
    err = refused(tmp_path, capsys, ["video", str(video), str(style), "-o", str(tmp_path / "out.mp4"),
                                     "--height", "16", "--no-progress", *extra])
    assert message in err, err


@pytest.mark.parametrize("bad", ["text", "folder", "empty"])
def test_a_bad_painting_is_refused_before_frames_and_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clip_and_style: tuple[Path, Path], bad: str
) -> None:
    video, _ = clip_and_style
    style = tmp_path / "style"
    if bad == "folder":
        style.mkdir()
    else:
        style.write_text("not a painting\n" if bad == "text" else "")
    err = refused(tmp_path, capsys, ["video", str(video), str(style), "-o", str(tmp_path / "out.mp4"),
                                     "--height", "16", "--no-progress"])
    assert str(style) in err
    assert {"text": "not an image", "folder": "is a folder", "empty": "is empty"}[bad] in err


def test_a_folder_as_video_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      clip_and_style: tuple[Path, Path]) -> None:
    _, style = clip_and_style
    folder = tmp_path / "clip.mp4"
    folder.mkdir()
    err = refused(tmp_path, capsys, ["video", str(folder), str(style), "-o", str(tmp_path / "out.mp4"),
                                     "--height", "16", "--no-progress"])
    assert "is a folder, expected a video file" in err


def test_image_numbers_are_refused_when_the_command_line_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clip_and_style: tuple[Path, Path]
) -> None:
    _, style = clip_and_style
    err = refused(tmp_path, capsys, ["image", str(style), str(style), "-o", str(tmp_path / "o.png"), "--iterations", "-1"])
    assert "argument --iterations: expected a whole number >= 0, got -1" in err


# ---------------------------------------------------------------- the workflow, at snakemake -n


def tiny() -> dict:
    return yaml.safe_load((CONFIG / "tiny.yaml").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("what", ["style", "video", "top-level key", "nested key"])
def test_the_workflow_refuses_at_a_dry_run_in_one_line(tmp_path: Path, what: str) -> None:
    cfg = tiny()
    folder = tmp_path / "paintings"
    folder.mkdir()
    if what == "style":
        cfg["styles"]["swirls"]["images"] = [str(folder)]
        expected = f"config styles.swirls.images: {folder} is a folder, expected an image file"
    elif what == "video":
        cfg["videos"]["demo"]["path"] = str(folder)
        expected = f"config videos.demo.path: {folder} is a folder, expected a video file"
    elif what == "top-level key":
        cfg["variant"] = cfg.pop("variants")
        expected = "config variant: unknown key; did you mean variants?"
    else:
        cfg["videos"]["demo"]["max_frame"] = cfg["videos"]["demo"].pop("max_frames")
        expected = "config videos.demo.max_frame: unknown key; did you mean max_frames?"
    proc = snakemake("-n", "--configfile", overlay(tmp_path, "bad", cfg), workdir=tmp_path, check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout, proc.stdout[-3000:]
    assert len(proc.stdout.splitlines()) < 20, proc.stdout  # no schema dump
