"""Contact sheets (issue 9): layout (rows x columns), where the labels are, pixels in place, bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from styleflow.errors import StyleflowError
from styleflow.io.images import read_image, to_uint8, write_image
from styleflow.viz.contact_sheet import (
    contact_sheet,
    contact_sheet_files,
    display_scale,
    labelled_grid,
    upscale,
)


def pattern(h: int, w: int, seed: int) -> np.ndarray:
    """A distinct image per seed, exactly representable in 8 bits."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3)).astype(np.float32) / 255.0


def crop(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return img[y : y + h, x : x + w]


def has_ink(img: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Dark (text) pixels in the box."""
    return bool((crop(img, box).max(axis=2) < 0.5).any())


PHOTOS = [("cat", (32, 48)), ("cup", (32, 40)), ("man", (32, 32))]
STYLES = [("swirls", (40, 50)), ("dots", (24, 24))]


def sheet_inputs(h: int = 32):
    photos = [(name, pattern(*shape, seed=i)) for i, (name, shape) in enumerate(PHOTOS)]
    styles = [(name, pattern(*shape, seed=10 + i)) for i, (name, shape) in enumerate(STYLES)]
    results = {
        (s, p): pattern(h, img.shape[1], seed=100 + 10 * i + j)
        for i, (s, _) in enumerate(styles)
        for j, (p, img) in enumerate(photos)
    }
    return photos, styles, results


def test_layout_rows_are_styles_columns_are_photos() -> None:
    photos, styles, results = sheet_inputs()
    grid = contact_sheet(photos, styles, results, height=32, scale=1, title="h32, 3 iterations, gatys")
    assert grid.shape == (1 + len(STYLES), 1 + len(PHOTOS))
    img = grid.image
    # the corner is blank; row 0 holds the photos, column 0 the style images
    assert grid.image_boxes[0][0] is None
    for c, (_, photo) in enumerate(photos, start=1):
        np.testing.assert_array_equal(to_uint8(crop(img, grid.image_boxes[0][c])), to_uint8(photo))
    for r, (sname, _) in enumerate(styles, start=1):
        for c, (pname, _) in enumerate(photos, start=1):
            box = grid.image_boxes[r][c]
            np.testing.assert_array_equal(to_uint8(crop(img, box)), to_uint8(results[(sname, pname)]))
    # style images are scaled to the row height (at most 1.5x as wide as high), aspect kept
    x, y, w, h = grid.image_boxes[1][0]
    assert h == 32 and w == 40  # 40x50 → 32 high, 40 wide
    x, y, w, h = grid.image_boxes[2][0]
    assert (w, h) == (32, 32)


def test_cells_form_a_regular_grid_with_labels_above() -> None:
    photos, styles, results = sheet_inputs()
    grid = contact_sheet(photos, styles, results, height=32, scale=1, title="title")
    rows, cols = grid.shape
    for r in range(rows):
        ys = {grid.cells[r][c][1] for c in range(cols)}
        assert len(ys) == 1  # a row is aligned
        for c in range(cols):
            lx, ly, lw, lh = grid.labels[r][c]
            cx, cy, cw, ch = grid.cells[r][c]
            assert (lx, lw) == (cx, cw) and ly + lh == cy  # the label band sits right above its cell
            if c + 1 < cols:
                assert grid.cells[r][c + 1][0] > cx + cw - 1  # columns left to right, no overlap
        if r + 1 < rows:
            assert grid.labels[r + 1][0][1] > grid.cells[r][0][1] + grid.cells[r][0][3] - 1
    for c in range(cols):
        assert len({grid.cells[r][c][0] for r in range(rows)}) == 1  # a column is aligned
    assert grid.title is not None and grid.title[1] + grid.title[3] <= grid.labels[0][0][1]


def test_labels_name_photos_on_top_and_styles_on_the_left() -> None:
    photos, styles, results = sheet_inputs()
    grid = contact_sheet(photos, styles, results, height=32, scale=2, title="a title")
    rows, cols = grid.shape
    assert has_ink(grid.image, grid.title)
    for c in range(1, cols):
        assert has_ink(grid.image, grid.labels[0][c]), f"photo label {c}"
    for r in range(1, rows):
        assert has_ink(grid.image, grid.labels[r][0]), f"style label {r}"
        for c in range(1, cols):
            assert not has_ink(grid.image, grid.labels[r][c])  # results carry no label
    assert not has_ink(grid.image, grid.labels[0][0])


def test_labels_differ_by_name() -> None:
    """The text drawn is the name: two sheets differing only in a photo's name differ only in its label."""
    photos, styles, results = sheet_inputs()
    a = contact_sheet(photos, styles, results, height=32, scale=2)
    renamed = [("kitten", photos[0][1])] + photos[1:]
    results2 = {(s, "kitten" if p == "cat" else p): v for (s, p), v in results.items()}
    b = contact_sheet(renamed, styles, results2, height=32, scale=2)
    assert a.cells == b.cells
    diff = np.argwhere((a.image != b.image).any(axis=2))
    x, y, w, h = a.labels[0][1]
    assert len(diff) and (diff[:, 0] >= y).all() and (diff[:, 0] < y + h).all()
    assert (diff[:, 1] >= x).all() and (diff[:, 1] < x + w).all()


def test_scale_enlarges_pixel_for_pixel() -> None:
    photos, styles, results = sheet_inputs()
    grid = contact_sheet(photos, styles, results, height=32, scale=3)
    box = grid.image_boxes[2][3]
    assert box[2:] == (32 * 3, 32 * 3)
    np.testing.assert_array_equal(to_uint8(crop(grid.image, box)), to_uint8(upscale(results[("dots", "man")], 3)))
    assert display_scale(32) == 5 and display_scale(256) == 1


def test_results_of_another_height_are_resized() -> None:
    photos, styles, results = sheet_inputs()
    results = {k: cv2.resize(v, (v.shape[1] * 2, 64), interpolation=cv2.INTER_NEAREST) for k, v in results.items()}
    grid = contact_sheet(photos, styles, results, height=32, scale=1)
    assert grid.image_boxes[1][1][2:] == (48, 32)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p, s, r: ([], s, r), "the list of photos is empty"),
        (lambda p, s, r: (p, [], r), "the list of styles is empty"),
        (lambda p, s, r: (p, s, {k: v for k, v in r.items() if k != ("dots", "cup")}), "no result for style 'dots' on photo 'cup'"),
        (lambda p, s, r: (p + [p[0]], s, r), "photo name 'cat' appears twice"),
    ],
)
def test_bad_input_is_one_clear_line(change, message: str) -> None:
    with pytest.raises(StyleflowError) as err:
        contact_sheet(*change(*sheet_inputs()), height=32)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_grid_rows_must_match() -> None:
    with pytest.raises(StyleflowError, match="rows of different lengths"):
        labelled_grid([[pattern(8, 8, 0)], [pattern(8, 8, 1), None]])
    with pytest.raises(StyleflowError, match="no images"):
        labelled_grid([])


# ---------------------------------------------------------------- from files


def write_files(folder: Path) -> tuple[dict, dict, dict]:
    photos, styles, results = sheet_inputs()
    pf = {}
    for name, img in photos:
        pf[name] = folder / f"{name}.png"
        write_image(pf[name], img)
    sf = {}
    for name, img in styles:
        sf[name] = [folder / f"{name}.png"]
        write_image(sf[name][0], img)
    rf = {}
    for (s, p), img in results.items():
        rf[(s, p)] = folder / f"{s}-{p}.png"
        write_image(rf[(s, p)], img)
    return pf, sf, rf


def test_sheet_from_files_is_a_png_equal_to_the_grid(tmp_path: Path) -> None:
    pf, sf, rf = write_files(tmp_path)
    out = tmp_path / "sheet.png"
    grid = contact_sheet_files(pf, sf, rf, out, height=32, scale=2, title="t")
    assert grid.shape == (3, 4)
    np.testing.assert_array_equal(to_uint8(read_image(out)), to_uint8(grid.image))


def test_grayscale_and_alpha_paintings_are_converted(tmp_path: Path) -> None:
    pf, sf, rf = write_files(tmp_path)
    gray = (pattern(24, 30, 5)[:, :, 0] * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    rgba = np.dstack([np.full((20, 20, 3), 200, np.uint8), np.full((20, 20), 0, np.uint8)])  # transparent: white
    cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
    sf = {"gray": [tmp_path / "gray.png"], "alpha": [tmp_path / "alpha.png"]}
    rf = {("gray", p): path for (_, p), path in rf.items()} | {("alpha", p): path for (_, p), path in rf.items()}
    grid = contact_sheet_files(pf, sf, rf, tmp_path / "sheet.png", height=32, scale=1)
    cell = crop(grid.image, grid.image_boxes[1][0])
    assert np.allclose(cell[..., 0], cell[..., 1])  # gray replicated to RGB
    assert np.allclose(crop(grid.image, grid.image_boxes[2][0]), 1.0)  # transparent over white


def test_a_blend_of_style_images_is_shown_side_by_side(tmp_path: Path) -> None:
    pf, sf, rf = write_files(tmp_path)
    sf = {"blend": [*sf["swirls"], *sf["dots"]]}
    rf = {("blend", p): path for (s, p), path in rf.items() if s == "swirls"}
    grid = contact_sheet_files(pf, sf, rf, tmp_path / "sheet.png", height=32, scale=1)
    assert grid.image_boxes[1][0][2] > 40  # wider than one image (then fitted to 1.5 x height)


@pytest.mark.parametrize("what", ["photo", "result"])
def test_unreadable_input_names_the_file(tmp_path: Path, what: str) -> None:
    pf, sf, rf = write_files(tmp_path)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    if what == "photo":
        pf["cup"] = bad
    else:
        rf[("dots", "man")] = bad
    out = tmp_path / "sheet.png"
    with pytest.raises(StyleflowError) as err:
        contact_sheet_files(pf, sf, rf, out, height=32)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert not out.exists() and not list(tmp_path.glob(".sheet*"))


def test_files_bad_names(tmp_path: Path) -> None:
    pf, sf, rf = write_files(tmp_path)
    with pytest.raises(StyleflowError, match="written as PNG"):
        contact_sheet_files(pf, sf, rf, tmp_path / "sheet.jpg")
    with pytest.raises(StyleflowError, match="the list of photos is empty"):
        contact_sheet_files({}, sf, {}, tmp_path / "sheet.png")
    with pytest.raises(StyleflowError, match="style 'swirls' has no images"):
        contact_sheet_files(pf, {"swirls": []}, rf, tmp_path / "sheet.png")
