"""Stylisation options: the one registry of options (type, range, default, help), the presets
as data, :class:`StyleSettings` and the resolved settings that a result records.

* :mod:`.registry` — :data:`~.registry.OPTIONS`, the only list of options;
* :mod:`.presets` — the presets, each the values in which it differs from the registry defaults;
* :mod:`.settings` — :class:`~.settings.StyleSettings` (generated from the registry), :func:`settings_from`;
* :mod:`.resolved` — :func:`resolved_settings`, what made a run (preset, variant, weights, version).
"""

from styleflow.options.presets import DEFAULT_PRESET, PRESETS, preset_values
from styleflow.options.resolved import check_grid_options, pin_weights, resolved_settings, weights_record
from styleflow.options.settings import StyleSettings, settings_from

__all__ = [
    "DEFAULT_PRESET", "PRESETS", "StyleSettings", "check_grid_options", "pin_weights", "preset_values", "resolved_settings",
    "settings_from", "weights_record",
]
