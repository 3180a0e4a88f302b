"""``precision: auto`` decided by timing on a CPU with native bfloat16; the capability rule on CUDA.

The timing function (:func:`styleflow.optim.precision.time_backbone`) is replaced by a fake that
says which precision is faster and counts its calls, so these tests do not depend on the machine.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_stylize import make_content, make_style, settings  # tests/ is on sys.path

from styleflow.optim import precision as P
from styleflow.optim.stylizer import Stylizer


@pytest.fixture(autouse=True)
def _no_cached_decisions():
    """Every test starts and ends with an empty process cache of timed decisions."""
    P.forget_timings()
    yield
    P.forget_timings()


class FakeTimer:
    """Stands in for ``time_backbone``: fixed seconds per pass, and the sizes it was asked for."""

    def __init__(self, float32: float, bfloat16: float):
        self.seconds = {"float32": float32, "bfloat16": bfloat16}
        self.sizes: list[tuple[int, int]] = []

    def __call__(self, meter, size, passes=P.TIMING_PASSES):
        return self.measure(size)

    def measure(self, size):
        """The :data:`styleflow.optim.precision.Measure` form (size → seconds by precision)."""
        self.sizes.append(tuple(size))
        return dict(self.seconds)


@pytest.fixture
def native_cpu(monkeypatch):
    """Make this CPU look like one with native bfloat16 (whatever its flags)."""
    monkeypatch.setattr(P, "native_bfloat16", lambda device: True)


def textured(h: int = 48, w: int = 64) -> np.ndarray:
    """A content image that passes the mixed-precision accuracy check (flat ones do not)."""
    rng = np.random.default_rng(0)
    return np.clip(make_content(h, w) + rng.normal(0, 0.08, (h, w, 3)), 0, 1).astype(np.float32)


def test_auto_picks_float32_where_bfloat16_times_slower(native_cpu, monkeypatch):
    timer = FakeTimer(float32=0.20, bfloat16=0.30)  # the Xeon host's way round
    monkeypatch.setattr(P, "time_backbone", timer)
    st = Stylizer(settings(iterations=2, precision="auto"), [make_style()], device="cpu")
    assert st.precision_choice is None and st.amp_dtype is None  # waits for a size; float32 meanwhile
    st.stylize(textured())
    assert timer.sizes == [(48, 64)]  # timed at the job's size
    assert st.precision == "float32" and st.amp_dtype is None and st.precision_note is None
    assert st.precision_record == {"asked": "auto", "chosen": "float32", "by": "timing",
                                   "seconds_per_pass": {"float32": 0.2, "bfloat16": 0.3}, "timed_at": [48, 64]}


def test_auto_picks_bfloat16_where_it_times_faster(native_cpu, monkeypatch):
    timer = FakeTimer(float32=0.20, bfloat16=0.11)  # the Zen 4 host's way round
    monkeypatch.setattr(P, "time_backbone", timer)
    st = Stylizer(settings(iterations=2, precision="auto"), [make_style()], device="cpu")
    st.stylize(textured())
    assert st.precision == "bfloat16" and st.amp_dtype == torch.bfloat16  # and it passed the accuracy check
    assert st.precision_record["chosen"] == "bfloat16" and st.precision_record["by"] == "timing"


def test_a_tie_goes_to_float32(native_cpu, monkeypatch):
    slightly_faster = FakeTimer(float32=0.20, bfloat16=0.20 / (P.BF16_MIN_SPEEDUP - 0.01))
    assert P.choose_auto(torch.device("cpu"), (32, 48), slightly_faster.measure).chosen == "float32"
    P.forget_timings()
    clearly_faster = FakeTimer(float32=0.20, bfloat16=0.20 / (P.BF16_MIN_SPEEDUP + 0.01))
    assert P.choose_auto(torch.device("cpu"), (32, 48), clearly_faster.measure).chosen == "bfloat16"


def test_the_decision_is_timed_once_per_size_bucket(native_cpu, monkeypatch):
    timer = FakeTimer(float32=0.20, bfloat16=0.11)
    monkeypatch.setattr(P, "time_backbone", timer)
    first = Stylizer(settings(iterations=1, precision="auto"), [make_style()], device="cpu")
    first.stylize(textured())
    first.stylize(textured())  # same stylizer, same size
    second = Stylizer(settings(iterations=1, precision="auto"), [make_style()], device="cpu")
    second.stylize(textured())  # a new stylizer (the next shot of a clip) in the same process
    assert timer.sizes == [(48, 64)]
    assert second.precision_record == first.precision_record
    second.stylize(textured(46, 64))  # another size in the same bucket (within √2 in area)
    assert len(timer.sizes) == 1
    second.stylize(textured(96, 128))  # 4x the area: another bucket, timed again
    assert timer.sizes == [(48, 64), (96, 128)]


def test_large_sizes_are_timed_on_a_capped_area(native_cpu, monkeypatch):
    timer = FakeTimer(float32=0.20, bfloat16=0.30)
    choice = P.choose_auto(torch.device("cpu"), (1080, 1920), timer.measure)
    (h, w), = timer.sizes
    assert h * w <= P.TIMING_MAX_PIXELS and abs(w / h - 1920 / 1080) < 0.02 and choice.timed_at == (h, w)
    assert P.size_bucket((1080, 1920)) == P.size_bucket((2160, 3840))  # every capped size is one bucket


def test_cuda_keeps_the_capability_rule_without_timing(monkeypatch):
    def no_timing(size):
        raise AssertionError("CUDA must not be timed")

    cuda = torch.device("cuda")
    monkeypatch.setattr(P, "native_bfloat16", lambda device: True)
    assert P.choose_auto(cuda, (256, 456), no_timing) == P.PrecisionChoice("auto", "bfloat16", "capability")
    monkeypatch.setattr(P, "native_bfloat16", lambda device: False)  # a pre-Ampere GPU
    assert P.choose_auto(cuda, (256, 456), no_timing).chosen == "float32"
    assert P.choose_auto(torch.device("cpu"), (256, 456), no_timing).as_record() == {
        "asked": "auto", "chosen": "float32", "by": "no native bfloat16", "seconds_per_pass": None, "timed_at": None}


def test_explicit_precisions_are_not_timed(native_cpu, monkeypatch):
    timer = FakeTimer(float32=0.20, bfloat16=0.11)
    monkeypatch.setattr(P, "time_backbone", timer)
    for asked, dtype in (("float32", None), ("bfloat16", torch.bfloat16)):
        st = Stylizer(settings(iterations=1, precision=asked), [make_style()], device="cpu")
        assert st.amp_dtype == dtype and st.precision_record == {
            "asked": asked, "chosen": asked, "by": "setting", "seconds_per_pass": None, "timed_at": None}
        st.stylize(textured())
    assert timer.sizes == []


def test_fallback_after_the_accuracy_check_is_not_undone(native_cpu, monkeypatch, recwarn):
    timer = FakeTimer(float32=0.20, bfloat16=0.11)
    monkeypatch.setattr(P, "time_backbone", timer)
    monkeypatch.setattr(P, "PRECISION_MIN_COSINE", 1.0)  # no low precision passes
    st = Stylizer(settings(iterations=2, precision="auto"), [make_style()], device="cpu")
    st.stylize(textured())
    assert st.precision_record["chosen"] == "bfloat16" and st.precision == "float32"
    assert "using float32" in st.precision_note
    st.stylize(textured(96, 128))  # a new bucket: no new timing, no bfloat16 again
    assert st.precision == "float32" and len(timer.sizes) == 1
    assert not [w for w in recwarn if "precision" in str(w.message)]  # auto falls back quietly


def test_the_image_record_holds_the_decision(native_cpu, monkeypatch, tmp_path):
    from styleflow.io.images import write_image
    from styleflow.optim.stylize_image import stylize_file

    monkeypatch.setattr(P, "time_backbone", FakeTimer(float32=0.20, bfloat16=0.30))
    write_image(tmp_path / "c.png", textured())
    write_image(tmp_path / "s.png", make_style())
    record = stylize_file(tmp_path / "c.png", [tmp_path / "s.png"], tmp_path / "out.png",
                          settings(iterations=1, precision="auto"), size=48, device="cpu", progress=False)
    assert record["precision"] == "float32"
    on_disk = json.loads((tmp_path / "out.png.json").read_text())
    assert on_disk["precision_choice"] == record["precision_choice"] == {
        "asked": "auto", "chosen": "float32", "by": "timing",
        "seconds_per_pass": {"float32": 0.2, "bfloat16": 0.3}, "timed_at": [48, 64]}


def test_time_backbone_times_both_and_restores_the_dtype():
    st = Stylizer(settings(weights="random", precision="float32"), [make_style()], device="cpu")
    seconds = P.time_backbone(st.meter, (32, 40), passes=1)
    assert set(seconds) == {"float32", "bfloat16"} and all(0 < v < 60 for v in seconds.values())
    assert st.amp_dtype is None
