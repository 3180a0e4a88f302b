"""The video-stage commands: frames, flow, consistency, encode — success and bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from styleflow.cli.main import main
from styleflow.io.encode import encode_arrays
from styleflow.io.flo import read_flo, read_flow, write_flo
from styleflow.io.video import probe_video


def texture(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h + 20, w + 20, 3)).astype(np.float32), (0, 0), 1.5)
    return ((img - img.min()) / (img.max() - img.min()) * 255).astype(np.uint8)


@pytest.fixture()
def video(tmp_path):
    big = texture(0)
    frames = [np.ascontiguousarray(big[10:58, 10 - k:74 - k]) for k in range(6)]
    path = tmp_path / "in.mp4"
    encode_arrays(frames, path, fps=8)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_frames_flow_consistency_encode(tmp_path, capsys, video):
    code, err = run(capsys, "frames", video, "-o", tmp_path / "f", "--height", 32, "--step", 1,
                    "--max-frames", 4, "--no-progress")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "f").iterdir())[-1] == "meta.json"
    a, b = tmp_path / "f/frame_000001.png", tmp_path / "f/frame_000002.png"
    assert run(capsys, "flow", a, b, "-o", tmp_path / "fwd.flo", "--viz", tmp_path / "fwd.png")[0] == 0
    assert run(capsys, "flow", b, a, "-o", tmp_path / "bwd.flo", "--method", "farneback",
               "--param", "winsize=9")[0] == 0
    fwd = read_flo(tmp_path / "fwd.flo")
    assert fwd.shape == (32, 44, 2)  # 64x48 → 42.7 px wide → even 44
    assert abs(np.median(fwd[6:-6, 6:-6, 0]) - 32 / 48) < 0.2  # 1 px at 48 px height → 2/3 px at 32
    assert cv2.imread(str(tmp_path / "fwd.png")).shape == (32, 44, 3)
    code, err = run(capsys, "consistency", "--backward", tmp_path / "bwd.flo", "--forward", tmp_path / "fwd.flo",
                    "-o", tmp_path / "m.pgm")
    assert code == 0 and "reliable" in err
    assert cv2.imread(str(tmp_path / "m.pgm"), -1).shape == (32, 44)
    # the compact format, chosen by the suffix: the same flow to 1/128 px, read by consistency too
    assert run(capsys, "flow", a, b, "-o", tmp_path / "fwd.png")[0] == 0
    assert np.abs(read_flow(tmp_path / "fwd.png") - fwd).max() <= 1 / 128 + 1e-6
    code, err = run(capsys, "consistency", "--backward", tmp_path / "bwd.flo", "--forward", tmp_path / "fwd.png",
                    "-o", tmp_path / "m2.pgm")
    assert code == 0, err
    assert run(capsys, "encode", tmp_path / "f", "-o", tmp_path / "out.mp4", "--no-progress")[0] == 0
    info = probe_video(tmp_path / "out.mp4")
    assert (info["codec"], info["pix_fmt"], info["fps"]) == ("h264", "yuv420p", 8.0)


def _corrupt_flo(tmp_path):
    p = tmp_path / "bad.flo"
    p.write_bytes(b"\x00" * 40)
    return p


CASES = {
    "frames_missing": (lambda t, v: ["frames", t / "nope.mp4", "-o", t / "out", "--height", 32], "no such video file"),
    "frames_empty": (lambda t, v: ["frames", _touch(t / "e.mp4"), "-o", t / "out", "--height", 32], "is empty"),
    "frames_not_video": (lambda t, v: ["frames", _text(t / "x.mp4"), "-o", t / "out", "--height", 32],
                         "not a video"),
    "frames_truncated": (lambda t, v: ["frames", _half(v, t / "half.mp4"), "-o", t / "out", "--height", 32],
                         "truncated"),
    "frames_one": (lambda t, v: ["frames", v, "-o", t / "out", "--height", 32, "--start", 5], "only 1 frame"),
    "frames_height": (lambda t, v: ["frames", v, "-o", t / "out", "--height", 2], "--height 2"),
    "flow_missing": (lambda t, v: ["flow", t / "a.png", t / "b.png", "-o", t / "out.flo"], "no such file"),
    "flow_sizes": (lambda t, v: ["flow", _img(t / "a.png", 32), _img(t / "b.png", 30), "-o", t / "out.flo"],
                   "same size"),
    "flow_method": (lambda t, v: ["flow", _img(t / "a.png"), _img(t / "b.png"), "-o", t / "out.flo",
                                  "--method", "magic"], "unknown"),
    "flow_param": (lambda t, v: ["flow", _img(t / "a.png"), _img(t / "b.png"), "-o", t / "out.flo",
                                 "--param", "finest_scale"], "KEY=VALUE"),
    "flow_suffix": (lambda t, v: ["flow", _img(t / "a.png"), _img(t / "b.png"), "-o", t / "out.txt"], ".flo"),
    "raft_weights": (lambda t, v: ["flow", _img(t / "a.png"), _img(t / "b.png"), "-o", t / "out.flo",
                                   "--method", "raft", "--param", f"weights={t / 'raft.pth'}"], "never downloads"),
    "consistency_corrupt": (lambda t, v: ["consistency", "--backward", _corrupt_flo(t), "--forward",
                                          _flo(t / "f.flo"), "-o", t / "out.pgm"], "bad.flo"),
    "consistency_sizes": (lambda t, v: ["consistency", "--backward", _flo(t / "b.flo", 9), "--forward",
                                        _flo(t / "f.flo"), "-o", t / "out.pgm"], "same pair of frames"),
    "encode_sizes": (lambda t, v: ["encode", _mixed(t / "mixed"), "-o", t / "out.mp4", "--fps", 10],
                     "same size"),
    "encode_no_fps": (lambda t, v: ["encode", _mixed(t / "mixed", same=True), "-o", t / "out.mp4"], "give --fps"),
    "encode_empty_dir": (lambda t, v: ["encode", _dir(t / "empty"), "-o", t / "out.mp4", "--fps", 10],
                         "no frames"),
}


def _touch(p):
    p.write_bytes(b"")
    return p


def _text(p):
    p.write_text("hello\n")
    return p


def _half(v, p):
    p.write_bytes(v.read_bytes()[: v.stat().st_size // 2])
    return p


def _img(p, w=32):
    cv2.imwrite(str(p), texture(1, 24, w))
    return p


def _flo(p, w=8):
    write_flo(p, np.zeros((8, w, 2), np.float32))
    return p


def _dir(p):
    p.mkdir()
    return p


def _mixed(p, same=False):
    p.mkdir()
    cv2.imwrite(str(p / "frame_000001.png"), texture(1, 24, 32))
    cv2.imwrite(str(p / "frame_000002.png"), texture(2, 24 if same else 26, 32))
    return p


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, video, case, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    make, message = CASES[case]
    argv = make(tmp_path, video)
    out = argv[argv.index("-o") + 1]
    code, err = run(capsys, *argv)
    assert code == 2
    assert message in err and err.startswith(f"styleflow {argv[0]}: error:")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no temporaries left
