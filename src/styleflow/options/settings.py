"""Settings of one image optimisation: :class:`StyleSettings` and :func:`settings_from`.

The fields, their defaults and their checks come from the registry
(:mod:`styleflow.options.registry`); the defaults are the ``gatys`` preset, so a bare
``StyleSettings()`` equals ``settings_from("gatys")``. Other presets: :mod:`styleflow.options.presets`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from styleflow.errors import StyleflowError
from styleflow.options.presets import DEFAULT_PRESET, PRESETS, preset_values
from styleflow.options.registry import GATYS_STYLE_LAYERS, PRECISIONS, check_keys, check_value, option, options
from styleflow.options.registry import settings_class


class _StyleSettingsMethods:
    """Methods of :class:`StyleSettings` (its fields are generated from the registry)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Every field against its registry entry, then the checks that involve two fields."""
        for o in options("image"):
            setattr(self, o.name, check_value(o, getattr(self, o.name)))
        if not self.style_layers:  # type: ignore[attr-defined]
            raise StyleflowError("style_layers: at least one layer is needed")

    def stop_rule(self, warm: bool = False) -> tuple[float, int]:
        """``(tol, window)`` of the convergence test for a cold or a ``warm`` start."""
        s: Any = self
        if not warm:
            return s.tol, s.window
        return (s.tol if s.warm_tol is None else s.warm_tol, s.window if s.warm_window is None else s.warm_window)

    def replace(self, **changes: Any) -> "StyleSettings":
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


def _settings_class() -> type:

    return settings_class(
        "StyleSettings", "image", _StyleSettingsMethods,
        "Everything that decides how one image is optimised (units: pixels in [0, 1]); one field per "
        "image option of styleflow.options.registry.OPTIONS, defaults = the gatys preset.",
        __name__,
    )


StyleSettings: Any = _settings_class()


def settings_from(preset: str = DEFAULT_PRESET, overrides: Mapping[str, Any] | None = None) -> Any:
    """:class:`StyleSettings` of ``preset`` with ``overrides`` (None values are ignored) on top.

    An unknown override key is an error naming the closest valid key.
    """
    values = preset_values(preset)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    check_keys(given, values, where="option ")
    values.update(given)
    return StyleSettings(**values)


__all__ = [
    "DEFAULT_PRESET", "GATYS_STYLE_LAYERS", "PRECISIONS", "PRESETS", "StyleSettings", "option", "preset_values",
    "settings_from",
]
