"""The config schema: shipped configs pass and get their defaults; bad grids fail with the key named."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
SHIPPED = sorted((REPO / "config").glob("*.yaml"))


def load(name: str = "config.yaml") -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def check(cfg: dict) -> dict:
    validate(cfg, SCHEMA)
    return cfg


def fails(cfg: dict, *fragments: str) -> str:
    with pytest.raises(Exception) as info:
        validate(cfg, SCHEMA)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path: Path) -> None:
    cfg = check(yaml.safe_load(path.read_text()))
    assert {"flow", "options", "device", "seed", "runs"} <= set(cfg)  # validated: the defaults are filled in


def test_shipped_configs_say_what_they_are_for() -> None:
    """config.yaml is the default grid on built-in demo material (nothing outside results/demo/, every
    variant built in or a built-in with overrides, every model named); tiny.yaml is a CPU smoke grid
    of at most 6 frames at <= 64 px and <= 10 iterations (the tests' grid: seconds, not minutes)."""
    from styleflow.video.variants import VARIANTS

    assert {"config.yaml", "report.yaml", "tiny.yaml"} <= {p.name for p in SHIPPED}
    default = check(load("config.yaml"))
    paths = [v["path"] for v in default["videos"].values()] + [i for s in default["styles"].values() for i in s["images"]]
    assert paths and all(p.startswith("results/demo/") for p in paths), paths
    assert set(default["variants"]) <= set(VARIANTS), sorted(set(default["variants"]) - set(VARIANTS))
    assert {v["model"] for v in default["variants"].values() if v and "model" in v} <= set(default["models"])
    tiny = check(load("tiny.yaml"))
    assert tiny["device"] == "cpu" and max(tiny["resolutions"]) <= 64
    assert all(v["max_frames"] <= 6 for v in tiny["videos"].values())
    assert all(max(b["first"], b["later"]) <= 10 for b in tiny["budgets"].values())


def test_defaults_are_filled() -> None:
    cfg = {
        "videos": {"v": {"path": "clip.mp4"}},
        "styles": {"s": {"images": ["a.png"]}},
        "resolutions": [64],
        "budgets": {"b": {"first": 10, "later": 5}},
        "variants": {"noInit": None},
    }
    check(cfg)
    assert cfg["videos"]["v"] == {"path": "clip.mp4", "start": 0, "step": 1, "max_frames": None}
    assert cfg["styles"]["s"]["weights"] is None
    assert cfg["flow"] == {"method": "dis", "params": {}, "offsets": [1], "format": "flo", "keep": True}
    assert cfg["options"] == {}
    assert cfg["device"] == "auto" and cfg["seed"] == 0 and cfg["runs"] == []
    assert cfg["demo"] == {"frames": 16, "height": 192, "fps": 10}


def test_report_config_is_the_source_report_experiment() -> None:
    cfg = check(load("report.yaml"))
    assert len(cfg["videos"]) == 1 and len(cfg["styles"]) == 1
    assert cfg["resolutions"] == [350]
    assert list(cfg["budgets"].values()) == [{"first": 600, "later": 300}]
    assert set(cfg["variants"]) == {
        "noFlowInit_noTemporalLoss", "noFlowInit_temporalLoss", "flowInit_temporalLoss", "moreSteps", "noInit",
    }  # fmt: skip
    assert not cfg["variants"]["moreSteps"]  # the built-in one: 500 / 500


def test_default_grid_has_the_report_main_variants() -> None:
    cfg = check(load())
    assert {"noInit", "noFlowInit_noTemporalLoss", "noFlowInit_temporalLoss", "flowInit_temporalLoss"} <= set(
        cfg["variants"]
    )
    assert any(n.startswith("moreSteps") for n in cfg["variants"])


@pytest.mark.parametrize("section", ["videos", "styles", "budgets", "variants"])
@pytest.mark.parametrize("bad", ["a/b", "../up", "with space", "", "x;rm", "é"])
def test_names_are_restricted(section: str, bad: str) -> None:
    cfg = load()
    first = next(iter(cfg[section]))
    cfg[section][bad] = copy.deepcopy(cfg[section][first])
    fails(cfg, section, "does not match")


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda c: c.pop("videos"), ["'videos' is a required property"]),
        (lambda c: c["videos"]["demo"].pop("path"), ["'path' is a required property"]),
        (lambda c: c["videos"]["demo"].update(step=0), ["step", "minimum"]),
        (lambda c: c["videos"]["demo"].update(colour="red"), ["colour"]),
        (lambda c: c.update(resolutions=[4]), ["resolutions", "minimum"]),
        (lambda c: c.update(resolutions=["96"]), ["resolutions", "integer"]),
        (lambda c: c.update(resolutions=[]), ["resolutions"]),
        (lambda c: c["budgets"]["demo"].pop("later"), ["'later' is a required property"]),
        (lambda c: c["budgets"]["demo"].update(first=-1), ["first", "minimum"]),
        (lambda c: c["styles"]["swirls"].update(images=[]), ["images"]),
        (lambda c: c["flow"].update(method="magic"), ["method", "magic"]),
        (lambda c: c["flow"].update(offsets=[0]), ["offsets"]),
        (lambda c: c.update(device="gpu0"), ["device"]),
        (lambda c: c.update(runs=[{"colour": "red"}]), ["runs", "colour"]),
        (lambda c: c.update(runs=[{"variant": "bad/name"}]), ["runs"]),
        (lambda c: c.update(unknown_key=1), ["unknown_key"]),
    ],
)
def test_bad_configs_name_the_key(edit, fragments) -> None:
    cfg = load()
    edit(cfg)
    fails(cfg, *fragments)


def test_runs_filter_accepts_names_and_lists() -> None:
    cfg = load()
    cfg["runs"] = [{"variant": ["noInit", "flowInit_temporalLoss"]}, {"video": "demo", "resolution": 96}]
    assert check(cfg)["runs"][1] == {"video": "demo", "resolution": 96}
    cfg["runs"] = [{"variant": 3}]  # neither a name nor a list of names
    fails(cfg, "runs")
