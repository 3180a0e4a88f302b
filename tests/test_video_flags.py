"""The CLI reaches every option (issue 23 item 7): every registry option that applies to a video run
is a ``styleflow video`` flag generated from the registry, ``--variant`` is the base the flags
override, and each flag's value arrives in the run's resolved settings. Fails when the registry
and the flags drift apart."""

from __future__ import annotations

from typing import Any

import pytest

from styleflow.cli.main import build_parser
from styleflow.cli.video import settings_of
from styleflow.options import registry as R
from styleflow.options import resolved_settings
from styleflow.options.variants import VARIANTS

VIDEO_NAMES = {o.name for o in R.options("video")}
#: Every option that decides something in a video run: the video options, and the image options
#: not shadowed by a video option of the same name (``init``, ``iterations`` of a frame).
APPLIES = [o for o in R.OPTIONS if o.scope == "video" or o.name not in VIDEO_NAMES]


def sample(o: R.Option) -> tuple[list[str], Any]:
    """Flag arguments that set ``o`` to a value other than its default, and that value."""
    if o.kind == "bool":
        return [("--no-" if o.default else "--") + o.flag[2:]], not o.default
    if o.name == "model":
        return ["--model", "net.pt", "--first-init", "model"], "net.pt"
    if o.name == "fill_change":  # restricts a fill: refused with the default `warped` (none)
        return ["--fill-change", "0.05", "--disocclusion-fill", "recolored"], 0.05
    if o.choices:
        value = next(c for c in (o.cli_choices or o.choices) if c != o.default and c != "model")
        return [o.flag, value], value
    if o.kind == "layers":
        return [o.flag, "relu3_1=0.5,relu2_1"], {"relu3_1": 0.5, "relu2_1": 1.0}
    if o.kind == "offsets":
        return [o.flag, "1,3"], [1, 3]
    if o.kind == "str":
        return [o.flag, "x"], "x"
    if o.maximum is not None:
        value = o.maximum if o.kind == "int" else o.maximum / 2
        value = value if value != o.default else (o.minimum or 0) + (1 if o.kind == "int" else 0.25)
    else:
        value = (o.default or 1) * 2 + 1
    value = int(value) if o.kind == "int" else float(value)
    return [o.flag, str(value)], value


def parse(*extra: str) -> Any:
    return build_parser().parse_args(["video", "v.mp4", "s.png", "-o", "o.mp4", *extra])


@pytest.mark.parametrize("o", APPLIES, ids=lambda o: f"{o.scope}.{o.name}")
def test_every_option_of_a_video_run_is_a_flag_that_reaches_the_run(o: R.Option) -> None:
    argv, value = sample(o)
    wanted = settings_of(parse(*argv))
    resolved = resolved_settings(wanted["options"], wanted["variant"], seed=wanted["seed"])
    if o.scope == "video":
        assert resolved["variant_values"][o.name] == value
        assert resolved["variant_values"][o.name] != R.option(o.name, "video").default
        assert wanted["variant"]["base"] == "flowInit_temporalLoss"
    else:
        assert resolved["settings"][o.name] == value != R.option(o.name).default


def test_the_flags_override_the_variant_and_nothing_else() -> None:
    wanted = settings_of(parse("--variant", "moreSteps", "--iterations", "7", "--temporal-weight", "2e4"))
    resolved = resolved_settings(wanted["options"], wanted["variant"])
    values = resolved["variant_values"]
    assert values["iterations"] == 7 and values["temporal_weight"] == 2e4
    assert values["first_iterations"] == VARIANTS["moreSteps"]["first_iterations"]  # the base's, untouched
    assert resolved["variant"] == "moreSteps"
    assert settings_of(parse("--variant", "noInit"))["variant"] == "noInit"  # no flag: the built-in by name


def test_model_alone_stylises_every_frame_with_the_network() -> None:
    assert settings_of(parse("--model", "net.pt"))["model"] == "net.pt"
    hybrid = settings_of(parse("--model", "net.pt", "--first-init", "model"))
    assert hybrid["model"] is None and hybrid["variant"]["model"] == "net.pt"


def test_no_flag_without_an_option() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["video"]
    group = next(g for g in sub._action_groups if g.title == "variant")
    assert {a.dest for a in group._group_actions} == VIDEO_NAMES
    flags = {s for a in sub._actions for s in a.option_strings}
    assert {o.flag for o in APPLIES} <= flags
