"""The Snakemake workflow catalog's conventions (issue 16 item 4).

config/README.md (the usage page) names every config key of the schema; the catalog file, the
LICENSE and the .test/ config are there and say what the project says elsewhere; the one conda
environment of every rule asks for what pyproject.toml asks for; the .test config validates and
dry-runs the video and still-image stages.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from workflow_helpers import REPO, job_counts, snakemake

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
ENV = REPO / "workflow" / "envs" / "styleflow.yaml"


def schema_keys() -> list[str]:
    """Every key path of the config schema, NAME standing for a user-chosen name, [] for a list."""
    schema = yaml.safe_load(SCHEMA.read_text())
    defs = schema.get("$defs", {})
    keys: list[str] = []

    def walk(node: dict, path: str) -> None:
        if "$ref" in node:
            node = {**defs[node["$ref"].split("/")[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        for name, sub in (node.get("properties") or {}).items():
            key = f"{path}.{name}" if path else name
            keys.append(key)
            walk(sub, key)
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}.NAME")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")

    walk(schema, "")
    return keys


def test_config_readme_names_every_schema_key() -> None:
    readme = (REPO / "config" / "README.md").read_text()
    keys = schema_keys()
    assert len(keys) > 40, keys  # the walk found the schema's keys
    missing = [k for k in keys if f"`{k}`" not in readme and f"`{k}`," not in readme]
    assert not missing, f"config/README.md does not describe: {missing}"


def test_catalog_file_license_and_test_config() -> None:
    catalog = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    usage = catalog["usage"]
    assert usage["software-stack-deployment"]["conda"] is True and usage["report"] is True
    assert (REPO / "Snakefile").is_file()  # the project keeps its top-level Snakefile
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT"
    licence = (REPO / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in licence
    assert re.search(r"^Copyright \(c\) \d{4} \S", licence, re.M), "LICENSE names no year and holder"
    # the catalog's usage text says what a user runs, and what it says holds
    desc = usage["mandatory-flags"]["desc"]
    assert "snakemake --cores N" in desc and "config/config.yaml" in desc and "config/README.md" in desc
    assert (REPO / "config" / "README.md").is_file() and (REPO / "workflow" / "envs" / "styleflow.yaml").is_file()
    assert any(p.name.endswith(".rst") for p in (REPO / "workflow" / "report").iterdir())  # report: true


def test_the_test_config_is_the_tiny_grid_with_still_images() -> None:
    """.test/config/config.yaml (the catalog's CI config) is schema-valid, reads only what the workflow
    makes itself (results/demo/), is the tiny video grid plus a toy network's variant, still images
    and the layer figure."""
    from snakemake.utils import validate

    test_cfg = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
    tiny = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
    validate(test_cfg, str(SCHEMA))
    validate(tiny, str(SCHEMA))  # both with the schema's defaults filled in
    # the tiny grid plus a toy network and its feed-forward variant (the storage test trains it)
    assert set(test_cfg["models"]) == {"tiny_net"} and test_cfg["variants"].pop("feedforward") == {"model": "tiny_net"}
    extra = ("images", "models")
    assert {k: v for k, v in test_cfg.items() if k not in extra} == {k: v for k, v in tiny.items() if k not in extra}
    images = test_cfg["images"]
    assert all(str(p).startswith("results/demo/") for p in images["photos"].values())
    assert images["sizes"] and max(images["sizes"]) <= 64 and images["layers"]["photo"] in images["photos"]


def _requirement_name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req, maxsplit=1)[0].lower()


def test_conda_env_asks_for_what_pyproject_asks_for() -> None:
    env = yaml.safe_load(ENV.read_text())
    deps = env["dependencies"]
    assert any(str(d).replace(" ", "").startswith("python=") for d in deps), deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # jobs need the library's dependencies, not Snakemake or its plugins
    wanted = sorted(r.split("#")[0].strip() for r in project["dependencies"] if not _requirement_name(r).startswith("snakemake"))
    assert sorted(pip) == wanted, "workflow/envs/styleflow.yaml and pyproject.toml disagree"


def test_every_rule_names_the_one_conda_env() -> None:
    rules = sorted((REPO / "workflow" / "rules").glob("*.smk"))
    text = "\n".join(p.read_text() for p in rules)
    blocks = re.split(r"^(?=(?:rule|checkpoint) \w+:)", text, flags=re.M)[1:]
    envs = re.findall(r"^    conda:\n        \"([^\"]+)\"", text, re.M)
    # aggregate rules run nothing; a `run:` rule (the plan) runs inside Snakemake's own process
    with_job = [b.split(":", 1)[0] for b in blocks if b.split(":", 1)[0] != "rule images" and "\n    run:\n" not in b]
    assert len(envs) == len(with_job) and len(with_job) >= 15, (with_job, envs)
    assert set(envs) == {"../envs/styleflow.yaml"}


@pytest.mark.slow
def test_test_config_dry_runs_video_and_still_image_stages(tmp_path: Path) -> None:
    config = REPO / ".test" / "config" / "config.yaml"
    out = snakemake("-n", "--configfile", str(config), workdir=tmp_path).stdout
    # a fresh dry run cannot know the shots yet (consistency is a checkpoint): one assemble job per run
    # (nor, so, the network's training, which only the feed-forward run's shot jobs ask for)
    counts = job_counts(out, {"assemble", "encode", "metrics", "stylize_image", "layer_figure", "contact_sheet"})
    assert counts == {"assemble": 3, "encode": 3, "metrics": 3, "stylize_image": 1, "layer_figure": 1, "contact_sheet": 1}
