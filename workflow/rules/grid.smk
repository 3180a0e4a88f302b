"""The grid of runs (videos x styles x resolutions x budgets x variants, filtered by `runs:`),
the config cross-checks the schema cannot express, and the targets. Included by common.smk.
"""

# ---------------------------------------------------------------- the grid


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _grid_axes():
    return {
        "video": list(config["videos"]),
        "style": list(config["styles"]),
        "res": [str(r) for r in config["resolutions"]],
        "budget": list(config["budgets"]),
        "variant": list(config["variants"]),
    }


def _run_filters():
    """The `runs:` entries as {key: set of allowed values}, checked against the grid."""
    axes = _grid_axes()
    filters = []
    for i, entry in enumerate(config["runs"]):
        f = {}
        for key, values in entry.items():
            axis = "res" if key == "resolution" else key
            allowed = [str(v) for v in _as_list(values)]
            unknown = [v for v in allowed if v not in axes[axis]]
            if unknown:
                raise config_error(
                    f"runs[{i}].{key}",
                    f"{unknown[0]} is not in the grid; {name_hint(unknown[0], axes[axis])}",
                    "use one of the grid's names or add it to the grid",
                )
            f[axis] = set(allowed)
        filters.append(f)
    return filters


def grid_runs():
    """Every run of the grid that the `runs:` filter keeps, as dicts of wildcard values."""
    axes = _grid_axes()
    filters = _run_filters()
    runs = []
    for values in itertools.product(*(axes[k] for k in KEYS)):
        run = dict(zip(KEYS, values))
        m = variant_model(run["variant"])
        if m is not None and config["models"].get(m, {}).get("style") != run["style"]:
            continue  # a network stylises only in the style it was trained on
        if not filters or any(
            all(run[k] in allowed for k, allowed in f.items()) for f in filters
        ):
            runs.append(run)
    if not runs:
        raise config_error(
            "runs",
            "no run of the grid matches any entry",
            "loosen or remove the filter",
        )
    return runs


def check_options():
    """`options`, every variant and `images.options` against the option registry
    (styleflow.options.registry): an unknown key names the closest valid one."""
    try:
        check_grid_options(config)
    except StyleflowError as exc:
        raise config_error(*str(exc).split(": ", 1)) from None


def check_config():
    """Cross-checks the schema cannot express; each error names its key."""
    check_options()
    for name in config["variants"]:
        m = variant_model(name)
        if m is not None and m not in config["models"]:
            raise config_error(
                f"variants.{name}.model",
                f"{m} is not a `models:` entry; {name_hint(m, config['models'])}",
                "add it under models: or fix the name",
            )
    for name, m in config["models"].items():
        if m["style"] not in config["styles"]:
            raise config_error(
                f"models.{name}.style",
                f"{m['style']} is not a style of the grid; {name_hint(m['style'], config['styles'])}",
                "use one of the grid's styles",
            )
    for name, v in config["videos"].items():
        p = v["path"]
        if p not in DEMO_OUTPUTS and not os.path.isfile(p):
            raise config_error(
                f"videos.{name}.path",
                (
                    f"{p} is a folder, expected a video file"
                    if os.path.isdir(p)
                    else f"{p} does not exist"
                ),
                "point it at your video (relative to the working directory) or use "
                f"the demo clip {DEMO_VIDEO}",
            )
    for name, s in config["styles"].items():
        for p in s["images"]:
            if p not in DEMO_OUTPUTS and not os.path.isfile(p):
                raise config_error(
                    f"styles.{name}.images",
                    (
                        f"{p} is a folder, expected an image file"
                        if os.path.isdir(p)
                        else f"{p} does not exist"
                    ),
                    f"point it at a style image or use the demo style {DEMO_STYLE}",
                )
        w = s["weights"]
        if w is not None and len(w) != len(s["images"]):
            raise config_error(
                f"styles.{name}.weights",
                f"{len(w)} weights for {len(s['images'])} images",
                "give one weight per image, or leave weights out for equal weights",
            )
    for name in config["variants"]:
        missing = sorted(set(needed_offsets(name)) - set(config["flow"]["offsets"]))
        if missing:
            raise config_error(
                "flow.offsets",
                f"variant {name} needs flow at frame offsets {missing}",
                f"add them, e.g. offsets: {sorted(set(config['flow']['offsets']) | set(missing))}",
            )


# ---------------------------------------------------------------- targets


def run_targets():
    """Per run: the stylised video, the per-frame record and the run summary."""
    return [
        os.path.join(RUN.format(**r), name)
        for r in grid_runs()
        for name in ("video.mp4", "frames.csv", "run.json")
    ]


def prep_targets():
    """Per (video, resolution) in use: the flow visualisation and content-warped videos."""
    pairs = sorted({(r["video"], r["res"]) for r in grid_runs()})
    return [
        os.path.join(PREP.format(video=v, res=res), f"{kind}-{FLOW}.mp4")
        for v, res in pairs
        for kind in ("flow", "warped")
    ]


def all_targets():
    return run_targets() + prep_targets()
