"""``styleflow video``: the whole chain for one clip, reused on a second call."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from styleflow.cli.main import main
from styleflow.io.encode import encode_arrays
from styleflow.io.images import write_image
from styleflow.io.video import probe_video


@pytest.fixture(scope="module")
def clip_and_style(tmp_path_factory):
    root = tmp_path_factory.mktemp("videojob")
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.random((96, 160, 3)).astype(np.float32), (0, 0), 3)
    base = ((base - base.min()) / (base.max() - base.min()) * 255).astype(np.uint8)
    frames = [np.ascontiguousarray(base[8:72, 4 * k : 4 * k + 96]) for k in range(5)]  # panning right
    video = root / "pan.mp4"
    encode_arrays(frames, video, fps=12)
    style = root / "style.png"
    write_image(style, rng.random((48, 48, 3)).astype(np.float32))
    return video, style


def run_video(video, style, out, *extra: str) -> int:
    return main(["video", str(video), str(style), "-o", str(out), "--height", "32", "--max-frames", "3",
                 "--first-iterations", "3", "--iterations", "2", "--no-progress", *extra])


def test_video_chain_writes_h264_and_reuses_its_work_folder(tmp_path, clip_and_style):
    video, style = clip_and_style
    out = tmp_path / "styled.mp4"
    assert run_video(video, style, out) == 0
    info = probe_video(out)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["fps"] == pytest.approx(12, abs=0.1)
    work = tmp_path / "styled.work"
    (prep,) = work.iterdir()
    assert len(list((prep / "frames").glob("frame_*.png"))) == 3
    assert (prep / "flow-dis" / "forward_000001_000002.flo").is_file()
    assert (prep / "masks-dis" / "cuts.json").is_file()
    (run,) = (prep / "runs").iterdir()
    assert json.loads((run / "run.json").read_text())["frames"] == 3

    watched = [prep / "frames" / "frame_000001.png", prep / "flow-dis" / "forward_000001_000002.flo",
               run / "frame_000003.png"]
    stamps = [p.stat().st_mtime_ns for p in watched]
    assert run_video(video, style, out) == 0
    assert [p.stat().st_mtime_ns for p in watched] == stamps  # nothing recomputed

    # a different setting makes a new run folder next to the old one, reusing frames and flow
    assert run_video(video, style, out, "--variant", "noInit") == 0
    assert len(list((prep / "runs").iterdir())) == 2
    assert [p.stat().st_mtime_ns for p in watched[:2]] == stamps[:2]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--variant", "sideways"], "variant 'sideways': unknown"),
        (["--height", "0"], "--height 0: too small"),
    ],
)
def test_video_bad_options(tmp_path, clip_and_style, capsys, args, message):
    video, style = clip_and_style
    out = tmp_path / "x.mp4"
    assert run_video(video, style, out, *args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_video_missing_input(tmp_path, clip_and_style, capsys):
    _, style = clip_and_style
    out = tmp_path / "x.mp4"
    assert run_video(tmp_path / "nope.mp4", style, out) == 2
    assert "nope.mp4" in capsys.readouterr().err
    assert not out.exists()


def test_prepare_clip_reuses_each_stage_while_its_record_matches(tmp_path, clip_and_style, monkeypatch):
    import os

    from styleflow.video.job import prepare_clip

    video, _ = clip_and_style
    monkeypatch.chdir(video.parent)  # a relative video path must be recognised too
    prep = tmp_path / "prep"
    clip = prepare_clip(video.name, prep, 32, max_frames=3, progress=False)

    def stamps() -> list[int]:
        return [p.stat().st_mtime_ns for p in (clip.frame(1), clip.forward(1, 2), clip.mask(2, 1))]

    first = stamps()
    prepare_clip(video.name, prep, 32, max_frames=3, progress=False)
    assert stamps() == first  # nothing rebuilt

    # masks made from another flow: only the masks are rebuilt
    record = json.loads(clip.cuts.read_text())
    assert record["flow_record"]["method"] == "dis"
    record["flow_record"]["settings"] = {}
    clip.cuts.write_text(json.dumps(record))
    prepare_clip(video.name, prep, 32, max_frames=3, progress=False)
    now = stamps()
    assert now[:2] == first[:2] and now[2] != first[2]

    # a rebuilt frame (new time): the flow and the masks after it are rebuilt, the frames kept
    st = clip.frame(2).stat()
    os.utime(clip.frame(2), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    prepare_clip(video.name, prep, 32, max_frames=3, progress=False)
    later = stamps()
    assert later[0] == first[0] and later[1] != now[1] and later[2] != now[2]


def test_video_compact_flows_dropped_once_written_and_a_rerun_needs_none(tmp_path, clip_and_style, capsys):
    video, style = clip_and_style
    out = tmp_path / "styled.mp4"
    assert run_video(video, style, out, "--flow-format", "png", "--drop-flow") == 0
    assert probe_video(out)["codec"] == "h264"
    (prep,) = (tmp_path / "styled.work").iterdir()
    flow = prep / "flow-dis"
    assert sorted(p.name for p in flow.iterdir()) == ["flow_settings.json"]  # the files went, the record stays
    assert json.loads((flow / "flow_settings.json").read_text())["format"] == "png"
    (run,) = (prep / "runs").iterdir()
    masks = sorted((prep / "masks-dis").glob("reliable_*.pgm"))
    watched = [run / "frame_000003.png", *masks]
    stamps = [p.stat().st_mtime_ns for p in watched]

    # the run is finished: a second call computes no flow, keeps the masks and frames, re-encodes
    assert run_video(video, style, out, "--flow-format", "png", "--drop-flow") == 0
    assert sorted(p.name for p in flow.iterdir()) == ["flow_settings.json"]
    assert [p.stat().st_mtime_ns for p in watched] == stamps

    # another variant must stylise again: the flows come back (PNG), the masks stay current
    assert run_video(video, style, out, "--flow-format", "png", "--variant", "flowInit_noTemporalLoss") == 0
    assert sorted(p.name for p in flow.glob("*ward_*")) == [
        "backward_000002_000001.png", "backward_000003_000002.png",
        "forward_000001_000002.png", "forward_000002_000003.png",
    ]
    assert [p.stat().st_mtime_ns for p in masks] == stamps[1:]

    # back to .flo: the PNG flows are replaced, and the masks are rebuilt from the new flows
    assert run_video(video, style, out) == 0
    assert {p.suffix for p in flow.glob("*ward_*")} == {".flo"}
    assert "format" not in json.loads((flow / "flow_settings.json").read_text())
    assert [p.stat().st_mtime_ns for p in masks] != stamps[1:]
