"""The still-image stages of the pipeline (issue 9): runs, contact sheets, the layer figure.

A real run of a tiny still-image grid (32 px, a few iterations) in a temporary folder, then dry
runs after changes: adding a photo schedules that photo's runs and the sheet only; adding a style
that style's runs and the sheet; changing the layer figure's budget only the layer figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from workflow_helpers import CONFIG, overlay, scheduled, snakemake
from workflow_helpers import job_counts as _job_counts

#: Every test here starts Snakemake (seconds each): not in the quick tier (pytest -m "not slow").
pytestmark = pytest.mark.slow

IMAGE_RULES = {"demo_image", "demo_style", "stylize_image", "contact_sheet", "layer_figure"}
VIDEO_RULES = {"demo_clip", "frames", "flow", "consistency", "flowviz", "sequence", "encode", "metrics"}

TINY_IMAGES = {
    "images": {
        "photos": {"chelsea": "results/demo/images/chelsea.png", "coffee": "results/demo/images/coffee.png"},
        "styles": None,  # the grid's styles: swirls
        "sizes": [32],
        "iterations": [3],
        "presets": ["gatys"],
        "options": {"coarse_to_fine": 1},
        "layers": {"photo": "chelsea", "style": "swirls", "size": 32, "iterations": 2},
    }
}


def job_counts(output: str, rules: set[str] | None = None) -> dict[str, int]:
    """Job counts of a run's first "Job stats" table, for the still-image and video stages by default."""
    return _job_counts(output, IMAGE_RULES | VIDEO_RULES if rules is None else rules)


def merged(changes: dict) -> dict:
    """TINY_IMAGES with ``changes`` merged into its images section."""
    images = dict(TINY_IMAGES["images"])
    for key, value in changes.items():
        images[key] = dict(images[key], **value) if isinstance(value, dict) and isinstance(images.get(key), dict) else value
    return {"images": images}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The tiny still-image grid built in a fresh folder (target `images`: no video stages)."""
    workdir = tmp_path_factory.mktemp("images")
    base = overlay(workdir, "images", TINY_IMAGES)
    out = snakemake("images", "--cores", "2", "--configfile", str(CONFIG / "tiny.yaml"), base, workdir=workdir, timeout=600)
    (workdir / "run.txt").write_text(out.stdout)
    return workdir


def dry(workdir: Path, changes: dict | None = None, target: str = "images") -> str:
    files = [str(CONFIG / "tiny.yaml"), overlay(workdir, "change", merged(changes or {}))]
    return snakemake("-n", target, "--configfile", *files, workdir=workdir).stdout


def test_the_run_builds_runs_sheet_and_layer_figure(built: Path) -> None:
    counts = job_counts((built / "run.txt").read_text())
    assert counts == {"demo_image": 2, "demo_style": 1, "stylize_image": 2, "contact_sheet": 1, "layer_figure": 1}
    for photo in ("chelsea", "coffee"):
        run = built / f"results/images/runs/{photo}/swirls/h32/i3/gatys.png"
        record = json.loads(Path(f"{run}.json").read_text())
        assert record["height"] == 32 and record["preset"] == "gatys" and record["iterations"] <= 3
        assert record["workflow"] == {"photo": photo, "style": "swirls", "res": "32", "iters": "3", "preset": "gatys"}
        assert record["weights_source"] != "random"
    import cv2

    sheet = cv2.imread(str(built / "results/images/sheets/h32/i3/gatys.png"))
    assert sheet is not None and sheet.shape[0] > 2 * 32 * 5  # 2 rows of 32 px cells, enlarged 5x
    fig = built / "results/images/layers/chelsea/swirls/h32.png"
    assert cv2.imread(str(fig)) is not None
    panels = json.loads(Path(f"{fig}.json").read_text())["panels"]
    assert len(panels) == 10 and all(p["objective_after"] < p["objective_before"] for p in panels)
    for rule in ("stylize_image", "contact_sheet", "layer_figure"):
        assert list((built / "logs" / rule).rglob("*.log")), rule


def test_nothing_to_do_after_the_run(built: Path) -> None:
    assert "Nothing to be done" in dry(built)


def test_adding_a_photo_runs_only_that_photo_and_redraws_the_sheet(built: Path) -> None:
    out = dry(built, {"photos": {"astronaut": "results/demo/images/astronaut.png"}})
    assert job_counts(out) == {"demo_image": 1, "stylize_image": 1, "contact_sheet": 1}
    assert [j["photo"] for j in scheduled(out, "stylize_image")] == ["astronaut"]


def test_adding_a_style_runs_only_that_style(built: Path) -> None:
    from styleflow.data.demo import make_style

    make_style(built / "other.png", height=48, width=64, seed=3)
    styles = {"swirls": {"images": ["results/demo/swirls.png"]}, "other": {"images": ["other.png"]}}
    out = dry(built, {"styles": styles})
    assert job_counts(out) == {"stylize_image": 2, "contact_sheet": 1}
    assert {j["style"] for j in scheduled(out, "stylize_image")} == {"other"}


def test_adding_a_size_adds_its_runs_and_its_own_sheet(built: Path) -> None:
    out = dry(built, {"sizes": [32, 40]})
    assert job_counts(out) == {"stylize_image": 2, "contact_sheet": 1}
    assert {j["res"] for j in scheduled(out, "contact_sheet")} == {"40"}


def test_changing_the_layer_figure_budget_reruns_only_the_layer_figure(built: Path) -> None:
    out = dry(built, {"layers": {"iterations": 3}})
    assert job_counts(out) == {"layer_figure": 1}


def test_changing_image_options_reruns_the_runs_not_the_layer_figure(built: Path) -> None:
    out = dry(built, {"options": {"coarse_to_fine": 1, "style_weight": 1e4}})
    assert job_counts(out) == {"stylize_image": 2, "contact_sheet": 1}


def test_changing_the_seed_reruns_everything_that_uses_it(built: Path) -> None:
    files = [str(CONFIG / "tiny.yaml"), overlay(built, "images", TINY_IMAGES), overlay(built, "seed", {"seed": 5})]
    out = snakemake("-n", "images", "--configfile", *files, workdir=built).stdout
    assert job_counts(out) == {"stylize_image": 2, "contact_sheet": 1, "layer_figure": 1}


def test_a_config_without_images_has_no_image_jobs(tmp_path: Path) -> None:
    out = snakemake("-n", "--configfile", str(CONFIG / "tiny.yaml"), workdir=tmp_path).stdout
    assert not IMAGE_RULES - {"demo_style"} & set(job_counts(out))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"photos": {}}, "config images.photos: the list of photos is empty"),
        ({"photos": {"x": "nope.png"}}, "config images.photos.x: nope.png does not exist"),
        ({"styles": {}}, "config images.styles: the list of styles is empty"),
        ({"styles": {"s": {"images": ["gone.jpg"]}}}, "config images.styles.s.images: gone.jpg does not exist"),
        ({"layers": {"photo": "dog", "style": "swirls"}}, "config images.layers.photo: dog is not in images.photos"),
        ({"options": {"preset": "report"}}, "config images.options.preset"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, changes: dict, message: str) -> None:
    images = dict(TINY_IMAGES["images"], **changes)
    if "layers" in changes:
        images["layers"] = changes["layers"]
    bad = overlay(tmp_path, "bad", {"images": images})
    proc = snakemake("-n", "--configfile", str(CONFIG / "tiny.yaml"), bad, workdir=tmp_path, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-2000:]


def test_bad_names_and_sizes_are_rejected_by_the_schema(tmp_path: Path) -> None:
    for images in ({"photos": {"../x": "a.png"}}, {"photos": {"a": "a.png"}, "sizes": [4]}):
        bad = overlay(tmp_path, "bad", {"images": images})
        proc = snakemake("-n", "--configfile", str(CONFIG / "tiny.yaml"), bad, workdir=tmp_path, check=False)
        assert proc.returncode != 0 and "images" in proc.stdout


def test_default_config_builds_sheets_and_the_layer_figure(tmp_path: Path) -> None:
    """config/config.yaml: every photo x style is a run, one sheet, one layer figure; video jobs unchanged."""
    out = snakemake("-n", "--configfile", str(CONFIG / "config.yaml"), workdir=tmp_path).stdout
    images = yaml.safe_load((CONFIG / "config.yaml").read_text())["images"]
    runs = len(images["photos"]) * len(images["styles"]) * len(images["sizes"]) * len(images["iterations"])
    counts = job_counts(out, IMAGE_RULES)
    assert counts["stylize_image"] == runs and counts["contact_sheet"] == 1 and counts["layer_figure"] == 1
    layers = images["layers"]
    assert f"results/images/layers/{layers['photo']}/{layers['style']}/h{layers['size']}.png" in out
