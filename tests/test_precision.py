"""``precision: auto`` decided by timing on a CPU with native bfloat16; the capability rule on CUDA.

The timing function (:func:`styleflow.optim.precision.time_backbone`) is replaced by a fake that
says which precision is faster and counts its calls, so these tests do not depend on the machine;
each test has its own decision file (the one shared by a machine's processes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from test_stylize import make_content, make_style, settings  # tests/ is on sys.path

from styleflow.errors import StyleflowError
from styleflow.optim import precision as P
from styleflow.optim.stylizer import Stylizer


@pytest.fixture(autouse=True)
def decision_file(tmp_path, monkeypatch):
    """Every test starts and ends with an empty process cache of timed decisions, without the
    forced choice conftest sets for the rest of the suite, and with its own decision file."""
    P.forget_timings()
    monkeypatch.delenv(P.FORCE_ENV, raising=False)
    path = tmp_path / "cache" / "precision-auto.json"
    monkeypatch.setenv(P.CACHE_ENV, str(path))
    yield path
    P.forget_timings()


class FakeTimer:
    """Stands in for ``time_backbone``: fixed seconds per pass, and the sizes it was asked for."""

    def __init__(self, float32: float, bfloat16: float):
        self.seconds = {"float32": float32, "bfloat16": bfloat16}
        self.sizes: list[tuple[int, int]] = []

    def __call__(self, meter, size=P.TIMING_SIZE, passes=P.TIMING_PASSES):
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


CPU = torch.device("cpu")


def test_auto_picks_float32_where_bfloat16_times_slower(native_cpu, monkeypatch, decision_file):
    timer = FakeTimer(float32=0.20, bfloat16=0.30)  # the Xeon host's way round
    monkeypatch.setattr(P, "time_backbone", timer)
    st = Stylizer(settings(iterations=2, precision="auto"), [make_style()], device="cpu")
    assert st.precision_policy.choice is None and st.meter.amp_dtype is None  # waits for the first run; float32 meanwhile
    st.stylize(textured())
    assert timer.sizes == [P.TIMING_SIZE] == [(128, 192)]  # the fixed size, not the job's 48x64
    assert st.precision == "float32" and st.meter.amp_dtype is None and st.precision_policy.note is None
    assert st.precision_record == {"asked": "auto", "chosen": "float32", "by": "timing",
                                   "seconds_per_pass": {"float32": 0.2, "bfloat16": 0.3}, "timed_at": [128, 192],
                                   "cache": str(decision_file)}


def test_auto_picks_bfloat16_where_it_times_faster(native_cpu, monkeypatch):
    timer = FakeTimer(float32=0.20, bfloat16=0.11)  # the Zen 4 host's way round
    monkeypatch.setattr(P, "time_backbone", timer)
    st = Stylizer(settings(iterations=2, precision="auto"), [make_style()], device="cpu")
    st.stylize(textured())
    assert st.precision == "bfloat16" and st.meter.amp_dtype == torch.bfloat16  # and it passed the accuracy check
    assert st.precision_record["chosen"] == "bfloat16" and st.precision_record["by"] == "timing"


def test_a_tie_goes_to_float32(native_cpu, monkeypatch):
    monkeypatch.setenv(P.CACHE_ENV, "off")
    slightly_faster = FakeTimer(float32=0.20, bfloat16=0.20 / (P.BF16_MIN_SPEEDUP - 0.01))
    assert P.choose_auto(CPU, slightly_faster.measure).chosen == "float32"
    P.forget_timings()
    clearly_faster = FakeTimer(float32=0.20, bfloat16=0.20 / (P.BF16_MIN_SPEEDUP + 0.01))
    assert P.choose_auto(CPU, clearly_faster.measure).chosen == "bfloat16"


def test_one_timing_per_process_whatever_the_size(native_cpu, monkeypatch):
    monkeypatch.setenv(P.CACHE_ENV, "off")  # the process cache alone
    timer = FakeTimer(float32=0.20, bfloat16=0.11)
    monkeypatch.setattr(P, "time_backbone", timer)
    first = Stylizer(settings(iterations=1, precision="auto"), [make_style()], device="cpu")
    first.stylize(textured())
    first.stylize(textured(96, 128))  # 4x the area: the same decision (per-size timings disagreed)
    second = Stylizer(settings(iterations=1, precision="auto"), [make_style()], device="cpu")
    second.stylize(textured(30, 200))  # a new stylizer (the next shot), another size and aspect ratio
    assert timer.sizes == [P.TIMING_SIZE]
    assert second.precision_record == first.precision_record and second.precision_record["cache"] is None


def test_the_decision_file_makes_later_processes_agree(native_cpu, decision_file):
    first = P.choose_auto(CPU, FakeTimer(float32=0.20, bfloat16=0.11).measure)
    assert first.by == "timing" and first.chosen == "bfloat16" and decision_file.is_file()
    stored = json.loads(decision_file.read_text())["decisions"]
    assert list(stored) == [P.machine_key(CPU)] and stored[P.machine_key(CPU)]["chosen"] == "bfloat16"
    assert not [p for p in decision_file.parent.iterdir() if ".tmp-" in p.name]  # written atomically

    P.forget_timings()  # a later process on the same machine, under other load
    loaded = FakeTimer(float32=0.20, bfloat16=0.30)
    later = P.choose_auto(CPU, loaded.measure)
    assert loaded.sizes == [] and later.chosen == "bfloat16" and later.by == "timing cache"
    assert later.seconds_per_pass == first.seconds_per_pass and later.cache == str(decision_file)


def test_the_decision_file_is_per_machine_and_survives_damage(native_cpu, monkeypatch, decision_file):
    P.choose_auto(CPU, FakeTimer(float32=0.20, bfloat16=0.11).measure)
    P.forget_timings()
    monkeypatch.setattr(P, "machine_key", lambda device: "another CPU [amx] torch 9.9 cpu")
    other = FakeTimer(float32=0.20, bfloat16=0.30)
    assert P.choose_auto(CPU, other.measure).chosen == "float32" and len(other.sizes) == 1  # timed: a new key
    assert len(json.loads(decision_file.read_text())["decisions"]) == 2  # both machines kept

    for damage in ("{not json", json.dumps({"decisions": {"another CPU [amx] torch 9.9 cpu": {"chosen": "int8"}}})):
        decision_file.write_text(damage)
        P.forget_timings()
        again = FakeTimer(float32=0.20, bfloat16=0.30)
        assert P.choose_auto(CPU, again.measure).by == "timing" and len(again.sizes) == 1
        assert json.loads(decision_file.read_text())["decisions"]["another CPU [amx] torch 9.9 cpu"]["chosen"] == "float32"


def test_no_decision_file_when_off_or_unwritable(native_cpu, monkeypatch, tmp_path):
    monkeypatch.setenv(P.CACHE_ENV, "off")
    assert P.cache_file() is None
    assert P.choose_auto(CPU, FakeTimer(0.2, 0.3).measure).cache is None
    P.forget_timings()
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(P.CACHE_ENV, str(tmp_path / "a-file" / "precision-auto.json"))  # its folder cannot exist
    choice = P.choose_auto(CPU, FakeTimer(0.2, 0.3).measure)
    assert choice.by == "timing" and choice.cache is None and choice.chosen == "float32"
    monkeypatch.delenv(P.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert P.cache_file() == tmp_path / "xdg" / "styleflow" / "precision-auto.json"


@pytest.mark.slow
def test_concurrent_processes_time_once_and_agree(decision_file):
    """Two processes deciding at once (two jobs of a workflow starting together): the second
    waits for the first's timing and reads it, although its own timing would say otherwise."""
    script = textwrap.dedent("""
        import json, pathlib, sys, time, torch
        from styleflow.optim import precision as P
        P.native_bfloat16 = lambda device: True
        faster, ready = sys.argv[1], pathlib.Path(sys.argv[2])
        (ready / faster).touch()
        while len(list(ready.iterdir())) < 2:  # both imported: start deciding together
            time.sleep(0.01)
        def measure(size):
            time.sleep(1.5)  # a slow timing: the other process asks meanwhile
            return {"float32": 0.2, "bfloat16": 0.1 if faster == "bfloat16" else 0.3}
        print(json.dumps(P.choose_auto(torch.device("cpu"), measure).as_record()))
    """)
    ready = decision_file.parent.parent / "ready"
    ready.mkdir()
    env = {k: v for k, v in os.environ.items() if k != P.FORCE_ENV} | {P.CACHE_ENV: str(decision_file)}
    procs = [subprocess.Popen([sys.executable, "-c", script, faster, str(ready)], stdout=subprocess.PIPE,
                              text=True, env=env) for faster in ("bfloat16", "float32")]
    records = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert records[0]["chosen"] == records[1]["chosen"]
    assert sorted(r["by"] for r in records) == ["timing", "timing cache"]


def test_the_environment_forces_the_choice(native_cpu, monkeypatch, decision_file):
    never = FakeTimer(0.2, 0.1)
    monkeypatch.setattr(P, "time_backbone", never)
    monkeypatch.setenv(P.FORCE_ENV, "bfloat16")
    st = Stylizer(settings(iterations=1, precision="auto"), [make_style()], device="cpu")
    st.choose_precision()
    assert st.meter.amp_dtype == torch.bfloat16 and st.precision_record == {
        "asked": "auto", "chosen": "bfloat16", "by": "STYLEFLOW_PRECISION_AUTO", "seconds_per_pass": None,
        "timed_at": None, "cache": None}
    monkeypatch.setenv(P.FORCE_ENV, "float32")
    assert P.choose_auto(CPU, never.measure).chosen == "float32"
    assert never.sizes == [] and not decision_file.exists()
    monkeypatch.setenv(P.FORCE_ENV, "fast")
    with pytest.raises(StyleflowError, match="STYLEFLOW_PRECISION_AUTO='fast': expected float32 or bfloat16"):
        P.choose_auto(CPU, never.measure)
    monkeypatch.setattr(P, "native_bfloat16", lambda device: False)  # the hardware rule comes first
    assert P.choose_auto(CPU, never.measure).by == "no native bfloat16"


def test_cuda_keeps_the_capability_rule_without_timing(monkeypatch):
    def no_timing(size):
        raise AssertionError("CUDA must not be timed")

    cuda = torch.device("cuda")
    monkeypatch.setattr(P, "native_bfloat16", lambda device: True)
    assert P.choose_auto(cuda, no_timing) == P.PrecisionChoice("auto", "bfloat16", "capability")
    monkeypatch.setattr(P, "native_bfloat16", lambda device: False)  # a pre-Ampere GPU
    assert P.choose_auto(cuda, no_timing).chosen == "float32"
    assert P.choose_auto(CPU, no_timing).as_record() == {
        "asked": "auto", "chosen": "float32", "by": "no native bfloat16", "seconds_per_pass": None,
        "timed_at": None, "cache": None}


def test_explicit_precisions_are_not_timed(native_cpu, monkeypatch):
    timer = FakeTimer(float32=0.20, bfloat16=0.11)
    monkeypatch.setattr(P, "time_backbone", timer)
    for asked, dtype in (("float32", None), ("bfloat16", torch.bfloat16)):
        st = Stylizer(settings(iterations=1, precision=asked), [make_style()], device="cpu")
        assert st.meter.amp_dtype == dtype and st.precision_record == {
            "asked": asked, "chosen": asked, "by": "setting", "seconds_per_pass": None, "timed_at": None,
            "cache": None}
        st.stylize(textured())
    assert timer.sizes == []


def test_fallback_after_the_accuracy_check_is_not_undone(native_cpu, monkeypatch, recwarn):
    timer = FakeTimer(float32=0.20, bfloat16=0.11)
    monkeypatch.setattr(P, "time_backbone", timer)
    monkeypatch.setattr(P, "PRECISION_MIN_COSINE", 1.0)  # no low precision passes
    st = Stylizer(settings(iterations=2, precision="auto"), [make_style()], device="cpu")
    st.stylize(textured())
    assert st.precision_record["chosen"] == "bfloat16" and st.precision == "float32"
    assert "using float32" in st.precision_policy.note
    st.stylize(textured(96, 128))  # another size: no new timing, no bfloat16 again
    assert st.precision == "float32" and len(timer.sizes) == 1
    assert not [w for w in recwarn if "precision" in str(w.message)]  # auto falls back quietly


def test_the_image_record_holds_the_decision(native_cpu, monkeypatch, tmp_path, decision_file):
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
        "seconds_per_pass": {"float32": 0.2, "bfloat16": 0.3}, "timed_at": [128, 192], "cache": str(decision_file)}


def test_time_backbone_times_both_and_restores_the_dtype():
    st = Stylizer(settings(weights="random", precision="float32"), [make_style()], device="cpu")
    seconds = P.time_backbone(st.meter, (32, 40), passes=1)
    assert set(seconds) == {"float32", "bfloat16"} and all(0 < v < 60 for v in seconds.values())
    assert st.meter.amp_dtype is None
