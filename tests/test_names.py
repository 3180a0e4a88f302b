"""Names are checked (issue 23 item 3): a variant that is not built in says what it is, and every
reference to a variant, style, video, model, budget or preset that is not there is refused with the
closest name, in one line, at parse time (``snakemake -n``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from workflow_helpers import CONFIG, overlay, snakemake

from styleflow.errors import StyleflowError
from styleflow.options import check_grid_options
from styleflow.options.registry import closest, name_hint
from styleflow.options.variants import VARIANTS, resolve_variant, variant_spec


def test_closest_prefers_the_same_letters_in_another_case() -> None:
    assert closest("noinit", VARIANTS) == "noInit"
    assert closest("flowinit_temporalloss", VARIANTS) == "flowInit_temporalLoss"
    assert closest("zzz", VARIANTS) is None
    assert name_hint("zzz", ["a", "b"]) == "known: a, b"


@pytest.mark.parametrize("name, entry", [("noinit", {}), ("noinit", None), ("myVar", {}), ("myVar", {"name": "x"})])
def test_an_empty_entry_that_is_not_built_in_is_refused(name: str, entry: dict | None) -> None:
    with pytest.raises(StyleflowError, match="not a built-in variant and the entry is empty") as info:
        variant_spec(name, entry)
    assert ("did you mean noInit?" in str(info.value)) == (name == "noinit")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("entry", [{"base": "noInit"}, {"temporal_weight": 0.0}, {"style_weight": 1.0}])
def test_a_custom_variant_that_says_what_it_is_passes(entry: dict) -> None:
    name, _, _ = resolve_variant(variant_spec("mine", entry))
    assert name == "mine"


def test_misspelt_names_in_the_grid_name_the_closest() -> None:
    with pytest.raises(StyleflowError, match="variants.noinit: .*did you mean noInit?"):
        check_grid_options({"variants": {"noinit": {}}})
    with pytest.raises(StyleflowError, match="variant base 'flowinit_temporalLoss': .*did you mean flowInit_temporalLoss?"):
        check_grid_options({"variants": {"mine": {"base": "flowinit_temporalLoss"}}})
    with pytest.raises(StyleflowError, match="variant 'noinit': unknown, not a built-in variant; did you mean noInit?"):
        resolve_variant("noinit")
    with pytest.raises(StyleflowError, match="preset 'gatsy': unknown; did you mean gatys?"):
        check_grid_options({"options": {"preset": "gatsy"}})


def tiny(**changes: object) -> dict:
    cfg = yaml.safe_load((CONFIG / "tiny.yaml").read_text())
    cfg.update(changes)
    return cfg


@pytest.mark.slow
@pytest.mark.parametrize(
    "change, message",
    [
        ({"variants": {"noInit": {}, "noinit": {}}}, "config variants.noinit: variant 'noinit': not a built-in variant "
                                                     "and the entry is empty; did you mean noInit?"),
        ({"variants": {"myVar": {}}}, "config variants.myVar: variant 'myVar': not a built-in variant"),
        ({"runs": [{"budget": "tinny"}]}, "config runs[0].budget: tinny is not in the grid; did you mean tiny?"),
        ({"runs": [{"style": "swirl"}]}, "config runs[0].style: swirl is not in the grid; did you mean swirls?"),
        ({"runs": [{"video": "Demo"}]}, "config runs[0].video: Demo is not in the grid; did you mean demo?"),
        ({"variants": {"feedforward": {"model": "net"}}, "models": {"nett": {"style": "swirls"}}},
         "config variants.feedforward.model: net is not a `models:` entry; did you mean nett?"),
        ({"models": {"net": {"style": "swirl"}}}, "config models.net.style: swirl is not a style of the grid; "
                                                  "did you mean swirls?"),
    ],
)
def test_misspelt_names_are_refused_at_a_dry_run(tmp_path: Path, change: dict, message: str) -> None:
    proc = snakemake("-n", "--configfile", overlay(tmp_path, "bad", tiny(**change)), workdir=tmp_path, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-2000:]
