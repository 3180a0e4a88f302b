"""Dense optical flow between two frames.

``compute_flow(a, b)`` returns the flow from ``a`` to ``b`` on ``a``'s grid: ``a(x) ≈ b(x + f(x))``,
``(H, W, 2)`` float32 pixels, u (x, right) then v (y, down). Methods:

* ``dis`` (default): OpenCV's Dense Inverse Search (Kroeger et al. 2016). Our default settings
  (:data:`DIS_DEFAULT`) were chosen with ``bench/bench_flow.py`` on Sintel to beat DeepFlow's
  error at a fraction of its time; any OpenCV ``DISOpticalFlow`` setting can be overridden.
* ``farneback``: OpenCV's polynomial-expansion flow.
* ``deepflow``: ``cv2.optflow`` DeepFlow (opencv-contrib), the reference implementation's choice.
* ``raft``: torchvision's RAFT, only from weights already on disk (torchvision's cache or an
  explicit ``weights=PATH``); it never downloads.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from styleflow.errors import StyleflowError

FLOW_METHODS = ("dis", "farneback", "deepflow", "raft")

#: Default DIS settings (see docs/video-stages.md for the benchmark that chose them).
#: ``preset`` is applied first, then the explicit parameters.
DIS_DEFAULT: dict[str, Any] = {
    "preset": "medium",
    # DIS proper (OpenCV DISOpticalFlow setters) on the grey frames upscaled by ``scale``:
    # upscaling by 2 with finest_scale 1 gives patches at the frames' own resolution plus one
    # more pyramid level for large motion.
    "scale": 2.0,
    "finest_scale": 1,
    "coarsest_scale": -1,
    "patch_size": 8,
    "patch_stride": 4,
    "grad_descent_iterations": 25,
    "variational_refinement_iterations": 5,
    "variational_refinement_alpha": 40.0,
    "variational_refinement_gamma": 5.0,
    "variational_refinement_delta": 5.0,
    "variational_refinement_epsilon": 0.01,
    "use_mean_normalization": True,
    "use_spatial_propagation": True,
    # Then a variational refinement at full resolution on each colour channel in turn (R, G, B),
    # weighted towards gradient constancy; 0 iterations switches it off. SOR over-relaxation 1.9
    # (OpenCV's default is 1.6) makes 3 fixed-point × 3 SOR iterations reach what 10 × 20 reach
    # at 1.6, so one pass over R, G, B suffices.
    "color_refine_iterations": 3,
    "color_refine_rounds": 1,
    "color_refine_alpha": 40.0,
    "color_refine_gamma": 20.0,
    "color_refine_delta": 0.5,
    "color_refine_sor": 3,
    "color_refine_omega": 1.9,
}

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

_DIS_SETTERS = {
    "finest_scale": ("setFinestScale", int),
    "coarsest_scale": ("setCoarsestScale", int),
    "patch_size": ("setPatchSize", int),
    "patch_stride": ("setPatchStride", int),
    "grad_descent_iterations": ("setGradientDescentIterations", int),
    "variational_refinement_iterations": ("setVariationalRefinementIterations", int),
    "variational_refinement_alpha": ("setVariationalRefinementAlpha", float),
    "variational_refinement_gamma": ("setVariationalRefinementGamma", float),
    "variational_refinement_delta": ("setVariationalRefinementDelta", float),
    "variational_refinement_epsilon": ("setVariationalRefinementEpsilon", float),
    "use_mean_normalization": ("setUseMeanNormalization", bool),
    "use_spatial_propagation": ("setUseSpatialPropagation", bool),
}

FARNEBACK_DEFAULT: dict[str, Any] = {
    "pyr_scale": 0.5,
    "levels": 5,
    "winsize": 15,
    "iterations": 3,
    "poly_n": 5,
    "poly_sigma": 1.2,
}

#: torchvision RAFT variants: name → (builder, weights enum name).
RAFT_MODELS = {"large": ("raft_large", "Raft_Large_Weights"), "small": ("raft_small", "Raft_Small_Weights")}


def compute_flow(a: np.ndarray, b: np.ndarray, method: str = "dis", **params: Any) -> np.ndarray:
    """Optical flow from frame ``a`` to frame ``b``.

    Args:
        a, b: ``(H, W, 3)`` float32 RGB images in [0, 1] of the same size.
        method: one of :data:`FLOW_METHODS`.
        **params: method settings, e.g. ``preset="fast"`` or ``finest_scale=0`` for DIS,
            ``winsize=21`` for Farneback, ``weights="raft.pth"``/``model="small"`` for RAFT.

    Returns:
        ``(H, W, 2)`` float32 flow in pixels on ``a``'s grid, such that ``a(x) ≈ b(x + f(x))``.

    Raises:
        StyleflowError: unknown method or parameter, mismatched frames, RAFT weights missing.
    """
    a = _check_frame(a, "first frame")
    b = _check_frame(b, "second frame")
    if a.shape != b.shape:
        raise StyleflowError(
            f"flow: the frames differ in size ({a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}); "
            "resize them to the same resolution"
        )
    if method == "dis":
        flow = _dis(a, b, params)
    elif method == "farneback":
        flow = _farneback(a, b, params)
    elif method == "deepflow":
        flow = _deepflow(a, b, params)
    elif method == "raft":
        flow = _raft(a, b, params)
    else:
        raise StyleflowError(f"flow method {method!r}: unknown; choose one of {', '.join(FLOW_METHODS)}")
    return np.ascontiguousarray(flow, dtype=np.float32)


def method_settings(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full settings a method runs with (its defaults updated by ``params``), for provenance."""
    params = dict(params or {})
    if method == "dis":
        return _dis_settings(params)
    if method == "farneback":
        return {**FARNEBACK_DEFAULT, **_known(params, FARNEBACK_DEFAULT, "farneback")}
    if method == "deepflow":
        _known(params, {}, "deepflow")
        return {}
    if method == "raft":
        return {"model": "large", "weights": None, "iterations": 12, "device": "cpu",
                **_known(params, {"model": 1, "weights": 1, "iterations": 1, "device": 1}, "raft")}
    raise StyleflowError(f"flow method {method!r}: unknown; choose one of {', '.join(FLOW_METHODS)}")


# --- helpers ---------------------------------------------------------------------------------


def _check_frame(img: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise StyleflowError(f"flow: the {what} must be an (H, W, 3) RGB image, got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


def _gray8(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(_u8(img), cv2.COLOR_RGB2GRAY)


def _known(params: dict[str, Any], allowed: dict[str, Any], method: str) -> dict[str, Any]:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        hint = ", ".join(sorted(allowed)) or "none"
        raise StyleflowError(f"flow method {method}: unknown parameter(s) {', '.join(unknown)}; known: {hint}")
    return params


def _dis_settings(params: dict[str, Any]) -> dict[str, Any]:
    _known(params, DIS_DEFAULT, "dis")
    if "preset" in params:
        # An explicit preset starts from OpenCV's preset as is (not our tuned values), plus
        # whatever else is given explicitly.
        settings: dict[str, Any] = {
            "scale": 1.0, "color_refine_iterations": 0,
            **{k: v for k, v in DIS_DEFAULT.items() if k.startswith("color_refine_") and k != "color_refine_iterations"},
            **params,
        }
    else:
        settings = {**DIS_DEFAULT, **params}
    if settings["preset"] not in DIS_PRESETS:
        raise StyleflowError(f"dis preset {settings['preset']!r}: unknown; choose one of {', '.join(DIS_PRESETS)}")
    sc = settings.get("scale", 1.0)
    if isinstance(sc, bool) or not isinstance(sc, (int, float)) or not 0.1 <= float(sc) <= 4.0:
        raise StyleflowError(f"dis scale {sc!r}: expected a factor in [0.1, 4]")
    for key in ("color_refine_iterations", "color_refine_rounds", "color_refine_sor"):
        if key in settings and (not isinstance(settings[key], int) or isinstance(settings[key], bool) or settings[key] < 0):
            raise StyleflowError(f"dis {key} {settings[key]!r}: expected a whole number >= 0")
    for key in ("color_refine_alpha", "color_refine_gamma", "color_refine_delta"):
        v = settings.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= float(v) < float("inf"):
            raise StyleflowError(f"dis {key} {v!r}: expected a number >= 0")
    om = settings.get("color_refine_omega")
    if isinstance(om, bool) or not isinstance(om, (int, float)) or not 0.0 < float(om) < 2.0:
        raise StyleflowError(f"dis color_refine_omega {om!r}: expected an SOR relaxation factor in (0, 2)")
    return settings


def make_dis(settings: dict[str, Any]) -> Any:
    """A new configured ``cv2.DISOpticalFlow`` for (validated) ``settings``."""
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[settings["preset"]])
    for key, (setter, kind) in _DIS_SETTERS.items():
        if key in settings:
            try:
                getattr(dis, setter)(kind(settings[key]))
            except (TypeError, ValueError, cv2.error) as exc:
                raise StyleflowError(f"dis {key}={settings[key]!r}: invalid ({exc})") from None
    return dis


#: Per-thread cache of configured DIS objects (settings → object) and of one variational-refinement
#: object, so that their work buffers (tens of MB at 2048x872) are reused from pair to pair instead
#: of being allocated (and page-faulted in) again: that cost ~0.02 s per pair each at 1024x436
#: (single core). The output is bit-identical to fresh objects'.
_DIS_CACHE = threading.local()
_DIS_CACHE_SIZE = 4


def _cached_dis(settings: dict[str, Any]) -> Any:
    key = tuple(sorted((k, repr(v)) for k, v in settings.items() if k == "preset" or k in _DIS_SETTERS))
    cache = getattr(_DIS_CACHE, "objects", None)
    if cache is None:
        cache = _DIS_CACHE.objects = OrderedDict()
    dis = cache.get(key)
    if dis is None:
        dis = make_dis(settings)  # raises on invalid settings before anything is cached
        cache[key] = dis
        while len(cache) > _DIS_CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return dis


def _u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _dis(a: np.ndarray, b: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    settings = _dis_settings(params)
    dis = _cached_dis(settings)
    a8, b8 = _u8(a), _u8(b)  # once, for the grey DIS input and the colour refinement
    ga, gb = cv2.cvtColor(a8, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b8, cv2.COLOR_RGB2GRAY)
    scale = float(settings.get("scale", 1.0))
    h, w = ga.shape
    if scale != 1.0:
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
        ga = cv2.resize(ga, size, interpolation=interp)
        gb = cv2.resize(gb, size, interpolation=interp)
    try:
        flow = dis.calc(ga, gb, None)
    except cv2.error as exc:
        raise StyleflowError(f"dis: OpenCV failed on {w}x{h} frames ({exc.err}); try a smaller patch_size") from None
    if scale != 1.0:
        sx, sy = w / ga.shape[1], h / ga.shape[0]
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA if scale > 1 else cv2.INTER_LINEAR)
        flow[..., 0] *= sx
        flow[..., 1] *= sy
    iterations = int(settings.get("color_refine_iterations", 0))
    rounds = int(settings.get("color_refine_rounds", 1))
    if iterations > 0 and rounds > 0:
        flow = refine_color(a8, b8, flow, iterations, rounds,
                            float(settings["color_refine_alpha"]), float(settings["color_refine_gamma"]),
                            float(settings["color_refine_delta"]), int(settings["color_refine_sor"]),
                            float(settings["color_refine_omega"]))
    return flow


def refine_color(a: np.ndarray, b: np.ndarray, flow: np.ndarray, iterations: int = 5, rounds: int = 1,
                 alpha: float = 40.0, gamma: float = 20.0, delta: float = 0.5, sor: int = 5,
                 omega: float = 1.6) -> np.ndarray:
    """Refine ``flow`` (a → b, (H, W, 2) float32 pixels) with OpenCV's variational refinement
    run on each colour channel of ``a``/``b`` in turn (``rounds`` times). ``a``/``b`` are RGB,
    float in [0, 1] or uint8. ``omega`` is the SOR over-relaxation factor. Returns the new flow."""
    vr = getattr(_DIS_CACHE, "refinement", None)
    if vr is None:
        vr = _DIS_CACHE.refinement = cv2.VariationalRefinement_create()
    vr.setAlpha(alpha)
    vr.setGamma(gamma)
    vr.setDelta(delta)
    vr.setFixedPointIterations(iterations)
    vr.setSorIterations(sor)
    vr.setOmega(omega)
    a8 = a if a.dtype == np.uint8 else _u8(a)
    b8 = b if b.dtype == np.uint8 else _u8(b)
    ca, cb = cv2.split(a8), cv2.split(b8)
    out = np.ascontiguousarray(flow, dtype=np.float32)
    for _ in range(rounds):
        for c in range(3):
            vr.calc(ca[c], cb[c], out)
    return out


def _farneback(a: np.ndarray, b: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    s = {**FARNEBACK_DEFAULT, **_known(params, FARNEBACK_DEFAULT, "farneback")}
    try:
        return cv2.calcOpticalFlowFarneback(
            _gray8(a), _gray8(b), None, float(s["pyr_scale"]), int(s["levels"]), int(s["winsize"]),
            int(s["iterations"]), int(s["poly_n"]), float(s["poly_sigma"]), 0,
        )
    except cv2.error as exc:
        raise StyleflowError(f"farneback: invalid settings {s} ({exc.err})") from None


def _deepflow(a: np.ndarray, b: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    _known(params, {}, "deepflow")
    optflow = getattr(cv2, "optflow", None)
    if optflow is None or not hasattr(optflow, "createOptFlow_DeepFlow"):
        raise StyleflowError("flow method deepflow needs opencv-contrib-python(-headless); install it or use --method dis")
    return optflow.createOptFlow_DeepFlow().calc(_gray8(a), _gray8(b), None)


# --- RAFT ----------------------------------------------------------------------------------------

_RAFT_CACHE: dict[tuple[str, str, str], Any] = {}


def raft_weights_path(model: str = "large") -> Path:
    """Where torchvision keeps RAFT ``model``'s default weights (``TORCH_HOME``/hub/checkpoints)."""
    import torch.hub  # here: torch/torchvision take ~5-10 s; only RAFT needs them (DIS flow jobs start without)
    from torchvision.models import optical_flow

    weights = getattr(optical_flow, RAFT_MODELS[model][1]).DEFAULT
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def _raft(a: np.ndarray, b: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    s = method_settings("raft", params)
    model_name = s["model"]
    if model_name not in RAFT_MODELS:
        raise StyleflowError(f"raft model {model_name!r}: unknown; choose large or small")
    path = Path(s["weights"]) if s["weights"] else raft_weights_path(model_name)
    if not path.is_file():
        raise StyleflowError(
            f"raft: weights not found at {path}; copy torchvision's {os.path.basename(raft_weights_path(model_name))} "
            f"there (or pass weights=PATH) — styleflow never downloads them; or use --method dis"
        )
    import torch  # here: torch/torchvision take ~5-10 s; only RAFT needs them (DIS flow jobs start without)
    import torch.nn.functional as F
    from torchvision.models import optical_flow

    device = torch.device(s["device"])
    key = (model_name, str(path), str(device))
    net = _RAFT_CACHE.get(key)
    if net is None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)  # fails fast on junk
            net = getattr(optical_flow, RAFT_MODELS[model_name][0])(weights=None, progress=False)
            net.load_state_dict(state)
        except Exception as exc:  # corrupt file, wrong model
            raise StyleflowError(f"{path}: not RAFT-{model_name} weights ({type(exc).__name__}: {exc})"[:300]) from None
        net = net.eval().to(device)
        _RAFT_CACHE.clear()
        _RAFT_CACHE[key] = net

    def prep(img: np.ndarray) -> "torch.Tensor":
        t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].to(device)
        return t * 2.0 - 1.0

    h, w = a.shape[:2]
    ph, pw = (-h) % 8, (-w) % 8
    ta, tb = prep(a), prep(b)
    if ph or pw:
        ta = F.pad(ta, (0, pw, 0, ph), mode="replicate")
        tb = F.pad(tb, (0, pw, 0, ph), mode="replicate")
    with torch.inference_mode():
        flows = net(ta, tb, num_flow_updates=int(s["iterations"]))
    flow = flows[-1][0, :, :h, :w].permute(1, 2, 0).cpu().numpy()
    return flow
