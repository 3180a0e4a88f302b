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


<<<<<<< HEAD
def _settings_class() -> type:
    from styleflow.options.registry import settings_class

    return settings_class(
        "StyleSettings", "image", _StyleSettingsMethods,
        "Everything that decides how one image is optimised (units: pixels in [0, 1]); one field per "
        "image option of styleflow.options.registry.OPTIONS, defaults = the gatys preset.",
        __name__,
    )
=======
PRESETS: dict[str, dict[str, Any]] = {
    "gatys": {
        "content_layers": {"relu4_2": 1.0},
        "style_layers": {n: 1.0 / 5 for n in GATYS_STYLE_LAYERS},
        "content_weight": 1.0,
        "style_weight": 1e5,
        "iterations": 300,
        # Tuned with bench/bench_speed.py (docs/performance.md). Cold starts (first frame, frames
        # after a cut, still images) begin from the content recoloured to the style's palette and
        # stop when the best loss fell by < 0.5 % over 10 iterations (~200 iterations at 192 px);
        # warm starts (later video frames, from the warped previous frame) when it fell by < 2 %
        # over 8 (~50 iterations). Full size only: with the recoloured start a half-size level
        # first did not reach a given loss sooner (measured at 128 and 192 px); coarse_to_fine
        # stays an option.
        "tol": 0.005,
        "window": 10,
        "warm_tol": 0.02,
        "warm_window": 8,
        "recolor_start": True,
        "coarse_to_fine": 1,
        "coarse_iterations": 100,
        # bfloat16 backbone where the hardware has it (1.55-1.8x faster per iteration on this
        # project's AVX512-BF16 CPU at 64-256 px, the same loss per iteration), float32 elsewhere
        "precision": "auto",
    },
    "report": {
        "content_layers": {"conv2_2": 1.0},
        "style_layers": {n: 1.0 for n in ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")},
        "content_weight": 1.0,
        "style_weight": 1e6,
        "iterations": 300,
        "tol": 0.0,
        "coarse_to_fine": 1,
        "precision": "float32",
    },
}
>>>>>>> 796a0cd (bench: the speed and memory benchmarks move out of the package into bench/ (bench_speed.py, bench_memory.py, benchlib.py, rates.py, speed_report.py; public API only); styleflow bench removed; Stylizer.loss_function (public) for timing an iteration; test_bench loads the scripts, checks the warping error against the written frames, the per-run memory peak, the memory script at a tiny size)


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
