"""A video run's settings resolved once: the variant, the image settings and the iteration budgets.

:func:`run_settings` is what every consumer of a video run calls — the shot job
(:func:`styleflow.video.sequence.stylize_shot`), the runtime estimate of the workflow
(``workflow/rules/resources.smk``), the grid's flow-offset check (``common.smk:needed_offsets``)
and ``styleflow video`` (:func:`styleflow.video.job.stylize_video`) — so that each question about a
run is answered in one place:

====================================  ==================================================
is the temporal term on?              :attr:`VideoSettings.temporal` (γ > 0)
... in pass ``p`` of a multi-pass?    :meth:`VideoSettings.temporal_in_pass`
which earlier frames does it tie to?  :attr:`VideoSettings.temporal_offsets`
which flows and masks are read?       :attr:`VideoSettings.flow_offsets`
the budgets (first, later, pass)?     :meth:`VideoSettings.budgets`, via :attr:`RunSettings.budgets`
network only, no optimisation?        :attr:`RunSettings.network_only`
iterations of a shot (estimates)?     :meth:`RunSettings.shot_iterations`
====================================  ==================================================

(:class:`~styleflow.options.variants.VideoSettings` is in :mod:`styleflow.options.variants`.)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, NamedTuple

from styleflow.options.presets import DEFAULT_PRESET
from styleflow.options.settings import settings_from
from styleflow.options.variants import DEFAULT_VARIANT, resolve_variant


class Budgets(NamedTuple):
    """Iterations per frame: the first frame of a shot, later frames, each frame of a later pass."""

    first: int
    later: int
    per_pass: int


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a video run does, resolved once by :func:`run_settings`.

    Attributes:
        variant: the variant's name.
        video: its :class:`~styleflow.options.variants.VideoSettings`.
        preset: the preset's name.
        settings: the :class:`~styleflow.options.settings.StyleSettings` every frame is optimised with
            (preset, options, the variant's image overrides, seed).
        budgets: the iteration budgets.
    """

    variant: str
    video: Any
    preset: str
    settings: Any
    budgets: Budgets

    @property
    def network_only(self) -> bool:
        """Every frame is the feed-forward network's output, nothing is optimised (``feedforward``):
        the network starts every frame, both budgets are 0 and there is one pass."""
        v = self.video
        return (v.init == v.first_init == "model" and self.budgets.first == self.budgets.later == 0
                and v.passes == 1)

    def shot_iterations(self, frames: int) -> int:
        """Iterations a shot of ``frames`` frames runs at most (every pass), for runtime estimates."""
        frames = max(1, int(frames))
        b = self.budgets
        total = b.first + (frames - 1) * b.later
        if self.video.passes > 1:  # later passes revisit every frame
            total += (self.video.passes - 1) * frames * b.per_pass
        return total


def run_settings(
    variant: str | Mapping[str, Any] = DEFAULT_VARIANT,
    options: Mapping[str, Any] | None = None,
    *,
    first_iterations: int | None = None,
    iterations: int | None = None,
    seed: int = 0,
) -> RunSettings:
    """A video run's settings.

    Args:
        variant: a built-in variant name or a mapping (:func:`~styleflow.options.variants.resolve_variant`).
        options: ``preset`` plus image options (the grid's ``options``, the command line's flags).
        first_iterations, iterations: the grid's or the command line's budgets of the first and
            later frames (None: the preset's ``iterations``; a variant's own budgets win).
        seed: the run's seed.
    Raises:
        StyleflowError: a bad variant or option (one line, naming it).
    """
    name, video, image_overrides = resolve_variant(variant)
    opts = dict(options or {})
    preset = str(opts.pop("preset", DEFAULT_PRESET))
    settings = settings_from(preset, {**opts, **image_overrides, "seed": seed})
    budgets = Budgets(*video.budgets(first_iterations, iterations, settings.iterations))
    return RunSettings(name, video, preset, settings, budgets)
