"""Sample images for the still-image demo: every listed sample loads offline, with its licence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from styleflow.data.samples import SAMPLES, sample, write_sample
from styleflow.errors import StyleflowError
from styleflow.io.images import read_image


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_is_bundled_rgb(name: str) -> None:
    img = sample(name)
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0 and min(img.shape[:2]) >= 64


def test_write_sample_records_the_licence(tmp_path: Path) -> None:
    write_sample("coffee", tmp_path / "coffee.png")
    assert read_image(tmp_path / "coffee.png").shape == sample("coffee").shape
    meta = json.loads((tmp_path / "coffee.png.json").read_text())
    assert meta == {"source": "skimage.data.coffee", "licence": SAMPLES["coffee"]}


def test_unknown_sample_names_the_choices() -> None:
    with pytest.raises(StyleflowError, match="sample image 'lena': unknown; choose one of chelsea"):
        sample("lena")
