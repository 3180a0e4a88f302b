"""Helpers of the still-image stages (workflow/rules/images.smk): the `images:` section, the
runs it defines, what each contact sheet shows, targets and config checks."""

from styleflow.data.samples import SAMPLES

IMG_RUN = "results/images/runs/{photo}/{style}/h{res}/i{iters}/{preset}"
IMG_SHEET = "results/images/sheets/h{res}/i{iters}/{preset}"
IMG_LAYERS = "results/images/layers/{photo}/{style}/h{res}"
IMG_SAMPLE = "results/demo/images/{sample}.png"


wildcard_constraints:
    photo=NAME,
    preset=NAME,
    iters=r"[0-9]+",
    sample="|".join(SAMPLES),


def images_config():
    """The `images:` section (None when the config has none)."""
    return config.get("images")


def image_styles():
    """Still-image styles: `images.styles`, or the grid's `styles` when that is null."""
    styles = images_config()["styles"]
    return config["styles"] if styles is None else styles


def image_photo(wildcards):
    return images_config()["photos"][wildcards.photo]


def image_style_images(wildcards):
    return image_styles()[wildcards.style]["images"]


def image_style_weights(wildcards):
    return image_styles()[wildcards.style].get("weights")


def image_options(wildcards=None):
    """Settings of every still image: the grid's `options` (weights pinned, preset left out),
    `images.options` on top, and the seed; plus the device; for one run (wildcards with a
    preset) also its resolved settings, so that an edited preset reruns its still images.
    """
    options = {k: v for k, v in OPTIONS.items() if k != "preset"}
    options.update(images_config()["options"])
    options["seed"] = config["seed"]
    settings = {"options": options, "device": config["device"]}
    if wildcards is not None and "preset" in wildcards.keys():
        settings["resolved"] = resolved_settings(
            dict(options, preset=wildcards.preset), seed=config["seed"]
        )
    return settings


#: The options the layer figure uses (its losses and layers are fixed by the figure itself).
LAYER_OPTIONS = ("backbone", "weights", "optimizer", "lr", "pooling")


def layer_options(wildcards=None):
    """Settings of the layer figure: backbone, weights and optimiser from the still-image
    options, the seed and the device (so a loss-weight change does not redo the figure).
    """
    options = image_options()["options"]
    return {
        "options": {k: options[k] for k in LAYER_OPTIONS if k in options},
        "seed": config["seed"],
        "device": config["device"],
    }


def layer_iterations(wildcards):
    """Iterations of each image of the layer figure (`images.layers.iterations`)."""
    return images_config()["layers"]["iterations"]


def layer_names(wildcards):
    """The VGG layers the layer figure shows (`images.layers.layers`)."""
    return images_config()["layers"]["layers"]


def image_runs():
    """Every still-image run as wildcard values."""
    images = images_config()
    return [
        {"photo": p, "style": s, "res": str(r), "iters": str(i), "preset": pr}
        for p in images["photos"]
        for s in image_styles()
        for r in images["sizes"]
        for i in images["iterations"]
        for pr in images["presets"]
    ]


def sheet_layout(wildcards):
    """What a contact sheet shows, by name only: photos (columns), styles (rows) with how many
    images each blends, and the (style, photo) pair of each run. The files are the job's inputs
    (sheet_inputs, in the same order): a job reads only what it declares, which is all a node
    without a shared file system has."""
    images = images_config()
    return {
        "photos": list(images["photos"]),
        "styles": {name: len(s["images"]) for name, s in image_styles().items()},
        "results": [[s, p] for s in image_styles() for p in images["photos"]],
    }


def sheet_inputs(wildcards):
    """The contact sheet's files, in sheet_layout's order: photos, every style's images, runs."""
    images = images_config()
    run = dict(res=wildcards.res, iters=wildcards.iters, preset=wildcards.preset)
    return {
        "photos": [images["photos"][p] for p in images["photos"]],
        "styles": [path for s in image_styles().values() for path in s["images"]],
        "runs": [
            IMG_RUN.format(photo=p, style=s, **run) + ".png"
            for s, p in sheet_layout(wildcards)["results"]
        ],
    }


def layer_figure_inputs(wildcards):
    return {
        "photo": images_config()["photos"][wildcards.photo],
        "style": image_styles()[wildcards.style]["images"][0],
    }


def images_targets():
    """The contact sheets and the layer figure (each run is an input of its sheet)."""
    images = images_config()
    if not images:
        return []
    targets = sorted(
        {IMG_SHEET.format(**r) + ".png" for r in image_runs()},
    )
    layers = images["layers"]
    if layers:
        targets.append(
            IMG_LAYERS.format(
                photo=layers["photo"], style=layers["style"], res=layers["size"]
            )
            + ".png"
        )
    return targets


def _is_made_here(path):
    """Inputs the workflow makes itself: the demo style and the skimage samples."""
    return path in DEMO_OUTPUTS or any(
        path == IMG_SAMPLE.format(sample=s) for s in SAMPLES
    )


def check_images_config():
    """Cross-checks of the `images:` section; each error names its key (its options and presets
    are checked with the grid's, by check_options in common.smk)."""
    images = images_config()
    if images is None:
        return
    if not images["photos"]:
        raise config_error(
            "images.photos",
            "the list of photos is empty",
            "add at least one NAME: path (e.g. chelsea: results/demo/images/chelsea.png) "
            "or remove the images section",
        )
    for name, path in images["photos"].items():
        if not _is_made_here(path) and not os.path.isfile(path):
            raise config_error(
                f"images.photos.{name}",
                (
                    f"{path} is a folder, expected an image file"
                    if os.path.isdir(path)
                    else f"{path} does not exist"
                ),
                "point it at a photograph (relative to the working directory) or use a sample "
                f"made by the workflow, e.g. {IMG_SAMPLE.format(sample='chelsea')}",
            )
    key = "images.styles" if images["styles"] is not None else "styles"
    if not image_styles():
        raise config_error(
            key,
            "the list of styles is empty",
            "add at least one NAME: {images: [painting.jpg]}, or set it to null to use the grid's styles",
        )
    for name, s in image_styles().items():
        for path in s["images"]:
            if not _is_made_here(path) and not os.path.isfile(path):
                raise config_error(
                    f"{key}.{name}.images",
                    (
                        f"{path} is a folder, expected an image file"
                        if os.path.isdir(path)
                        else f"{path} does not exist"
                    ),
                    f"point it at a painting or use the demo style {DEMO_STYLE}",
                )
        w = s.get("weights")
        if w is not None and len(w) != len(s["images"]):
            raise config_error(
                f"{key}.{name}.weights",
                f"{len(w)} weights for {len(s['images'])} images",
                "give one weight per image, or leave weights out for equal weights",
            )
    layers = images["layers"]
    if layers:
        for what, known in (("photo", images["photos"]), ("style", image_styles())):
            if layers[what] not in known:
                raise config_error(
                    f"images.layers.{what}",
                    f"{layers[what]} is not in {key if what == 'style' else 'images.photos'}; "
                    f"{name_hint(layers[what], known)}",
                    "use one of the known names",
                )
