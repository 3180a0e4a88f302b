"""Image reading (8/16 bit, gray, RGBA, EXIF orientation), atomic writing and size checks."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from styleflow.errors import StyleflowError
from styleflow.io.images import (
    MAX_SIDE,
    check_size,
    read_image,
    resize_to_height,
    size_for_height,
    to_uint8,
    write_image,
)


def test_rgb_8bit_is_read_as_rgb_float(tmp_path):
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[0, 0] = (10, 20, 30)  # B, G, R on disk
    cv2.imwrite(str(tmp_path / "a.png"), bgr)
    img = read_image(tmp_path / "a.png")
    assert img.shape == (4, 6, 3) and img.dtype == np.float32
    assert np.allclose(img[0, 0], np.array([30, 20, 10]) / 255.0, atol=1e-7)  # R, G, B


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    img = read_image(tmp_path / "g.png")
    assert img.shape == (3, 4, 3)
    for c in range(3):
        assert np.allclose(img[:, :, c], gray / 255.0, atol=1e-7)


def test_rgba_is_composited_over_white(tmp_path):
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[0, 0] = (0, 0, 255, 255)  # opaque red
    bgra[0, 1] = (0, 0, 255, 0)  # fully transparent red → white
    bgra[1, 0] = (0, 0, 0, 102)  # 40 % black over white → 0.6
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    img = read_image(tmp_path / "a.png")
    assert img.shape == (2, 2, 3)
    assert np.allclose(img[0, 0], [1, 0, 0], atol=1e-6)
    assert np.allclose(img[0, 1], [1, 1, 1], atol=1e-6)
    assert np.allclose(img[1, 0], [0.6, 0.6, 0.6], atol=1e-6)


def test_16bit_color_and_gray_scale_by_65535(tmp_path):
    bgr16 = np.zeros((2, 3, 3), np.uint16)
    bgr16[0, 0] = (65535, 257 * 100, 1)
    cv2.imwrite(str(tmp_path / "c16.png"), bgr16)
    img = read_image(tmp_path / "c16.png")
    assert img.dtype == np.float32
    assert np.allclose(img[0, 0], [1 / 65535, 100 / 255, 1.0], atol=1e-7)

    g16 = np.full((2, 3), 65535 // 5, np.uint16)  # 13107 = 0.2 · 65535
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    assert np.allclose(read_image(tmp_path / "g16.png"), 0.2, atol=1e-7)


def test_exif_orientation_is_applied(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[:, :10] = 255  # left half white
    im = pil.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    im.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    img = read_image(tmp_path / "phone.jpg")
    assert img.shape == (20, 10, 3)  # portrait, as a viewer shows it
    assert img[2, 5].mean() > 0.9 and img[17, 5].mean() < 0.1  # left half → top half


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "folder"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not a picture\n"), "not an image"),
    ],
    ids=["missing", "folder", "empty", "text-named-png"],
)
def test_bad_files_raise_naming_the_file(tmp_path, make, expected):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(StyleflowError, match=expected) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_truncated_png_is_rejected(tmp_path):
    cv2.imwrite(str(tmp_path / "ok.png"), (np.random.default_rng(0).random((30, 30, 3)) * 255).astype(np.uint8))
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(StyleflowError, match="cut.png"):
        read_image(tmp_path / "cut.png")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    cv2.imwrite(str(path), np.zeros((4, 4, 3), np.uint8))
    path.chmod(0)
    with pytest.raises(StyleflowError, match="secret.png"):
        read_image(path)


def test_write_image_roundtrip_and_no_temporary_left(tmp_path):
    img = np.random.default_rng(3).random((5, 7, 3)).astype(np.float32)
    write_image(tmp_path / "o.png", img)
    assert sorted(os.listdir(tmp_path)) == ["o.png"]
    assert np.array_equal(to_uint8(read_image(tmp_path / "o.png")), to_uint8(img))


def test_write_image_failure_leaves_nothing(tmp_path):
    with pytest.raises(StyleflowError, match="o.unknownformat"):
        write_image(tmp_path / "o.unknownformat", np.zeros((4, 4, 3), np.float32))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("bad", [0, -3, 7, MAX_SIDE + 1, 10**6, True, 12.0, "64"])
def test_check_size_rejects(bad):
    with pytest.raises(StyleflowError, match="--size"):
        check_size(bad)


@pytest.mark.parametrize("good", [8, 64, MAX_SIDE, np.int64(32)])
def test_check_size_accepts(good):
    assert check_size(good) == good


def test_sizes_keep_aspect_ratio():
    assert size_for_height((436, 1024), 128) == (128, 301)  # 1024·128/436 = 300.6
    assert size_for_height((100, 50), 64) == (64, 32)
    assert size_for_height((436, 1024), 127, even=True) == (128, 298)  # 298.3 → 149·2
    assert resize_to_height(np.zeros((50, 100, 3), np.float32), 20).shape == (20, 40, 3)
    with pytest.raises(StyleflowError, match="width"):
        size_for_height((10, 1000), 100)  # would be 10000 px wide
