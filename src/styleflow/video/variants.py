"""The variants of video stylisation, kept importable here: they are option data and live in
:mod:`styleflow.options.variants` (so that :mod:`styleflow.options` imports nothing from
:mod:`styleflow.video`)."""

from styleflow.options.variants import (  # noqa: F401
    DEFAULT_VARIANT,
    VARIANT_KEYS,
    VARIANTS,
    VideoSettings,
    resolve_variant,
    variant_spec,
)
