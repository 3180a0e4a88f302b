"""Labelled image grids: the contact sheet of a still-image grid (the source report's figure 4).

:func:`labelled_grid` draws any table of images, each cell an image with a text band above it;
:func:`contact_sheet` lays out a (style x photo) grid of results the way the report does —
photos along the first row, style images down the first column, the stylised image of style r
and photo c at row r, column c — and :func:`contact_sheet_files` does it from image files and
writes a PNG.

Images follow :mod:`styleflow.io.images`: ``(H, W, 3)`` float32 RGB in ``[0, 1]``. Boxes are
``(x, y, w, h)`` in pixels of the sheet, ``x`` to the right, ``y`` down, origin top-left.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import cv2
import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.images import (
    read_image,
    resize,
    resize_to_height,
    to_uint8,
    write_image,
)

Box = tuple[int, int, int, int]  # x, y, w, h

#: Sheet colours (RGB in [0, 1]) and spacing in pixels.
BACKGROUND = (1.0, 1.0, 1.0)
EMPTY = (0.92, 0.92, 0.92)  # the margin around an image narrower or shorter than its cell
INK = (0.0, 0.0, 0.0)
GAP = 4
MARGIN = 8
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass
class Grid:
    """A rendered grid: the image and where everything is.

    ``cells[r][c]`` is the box of the image in row r, column c (the image is centred in it when
    narrower than its column; see ``image_boxes``); ``labels[r][c]`` the box of its text band;
    ``title`` the box of the title line (None without a title).
    """

    image: np.ndarray
    cells: list[list[Box]]
    image_boxes: list[list[Box | None]]
    labels: list[list[Box]]
    title: Box | None = None
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return len(self.cells), len(self.cells[0]) if self.cells else 0


def _text_scale(text: str, width: int, height: int) -> tuple[str, float, int]:
    """The largest Hershey font scale (≤ 1) at which ``text`` fits ``width`` x ``height`` px;
    text too long even at the smallest scale is shortened with '..'."""
    thickness = 1
    scale = min(1.0, (height - 4) / 33.0)  # the simplex font is ~33 px tall (ascender + descender) at scale 1
    (tw, _), _ = cv2.getTextSize(text, FONT, scale, thickness)
    if tw > width - 4:
        scale = max(0.35, scale * (width - 4) / tw)
    while text and cv2.getTextSize(text, FONT, scale, thickness)[0][0] > width - 4:
        text = text[:-3] + ".." if len(text) > 3 else text[:-1]
    return text, scale, thickness


def _put_text(canvas: np.ndarray, text: str, box: Box, bold: bool = False) -> None:
    """Draw ``text`` centred in ``box`` of a uint8 RGB canvas (black, anti-aliased)."""
    x, y, w, h = box
    if not text:
        return
    text, scale, thickness = _text_scale(text, w, h)
    thickness += int(bold)
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    # centre the text with its descenders (th above the baseline, base below) inside the band
    org = (x + max(0, (w - tw) // 2), y + max(th, (h - th - base) // 2 + th))
    ink = tuple(int(255 * v) for v in INK)
    cv2.putText(canvas, text, org, FONT, scale, ink, thickness, cv2.LINE_AA)


def labelled_grid(
    cells: Sequence[Sequence[np.ndarray | None]],
    labels: Sequence[Sequence[str]] | None = None,
    title: str | None = None,
    label_height: int | None = None,
    bold: Sequence[Sequence[bool]] | None = None,
) -> Grid:
    """Draw a table of images with a text band above each one.

    Args:
        cells: rows of images, ``None`` for a blank cell. Every row has the same length. Images
            are placed at their own size: a column is as wide as its widest image, a row as
            tall as its tallest; a smaller image is centred in its cell on a light grey ground.
        labels: the text above each cell (same shape as ``cells``; '' for none).
        title: a line of text across the top.
        label_height: height of the text bands in px (default: 1/8 of the median row height,
            at least 16).
        bold: per cell, draw its label in bold.

    Returns:
        The :class:`Grid` with the image and the boxes of every cell, image and label.
    """
    rows = len(cells)
    if rows == 0 or any(len(r) == 0 for r in cells):
        raise StyleflowError("labelled grid: no images to lay out; give at least one row and one column")
    cols = len(cells[0])
    if any(len(r) != cols for r in cells):
        raise StyleflowError(f"labelled grid: rows of different lengths {[len(r) for r in cells]}; every row needs {cols} cells")
    labels = labels or [[""] * cols for _ in range(rows)]
    if len(labels) != rows or any(len(r) != cols for r in labels):
        raise StyleflowError("labelled grid: the labels do not have the shape of the cells")
    bold = bold or [[False] * cols for _ in range(rows)]
    for r, row in enumerate(cells):
        for c, img in enumerate(row):
            if img is not None and (img.ndim != 3 or img.shape[2] != 3):
                raise StyleflowError(f"labelled grid: cell ({r}, {c}) has shape {img.shape}; expected (H, W, 3)")

    heights = [max((img.shape[0] for img in row if img is not None), default=0) for row in cells]
    widths = [max((cells[r][c].shape[1] for r in range(rows) if cells[r][c] is not None), default=0) for c in range(cols)]
    known = [h for h in heights if h] or [64]
    heights = [h or int(np.median(known)) for h in heights]
    widths = [w or int(np.median(known)) for w in widths]
    band = label_height or max(16, int(np.median(heights)) // 8)
    title_h = band + GAP if title else 0

    total_w = 2 * MARGIN + sum(widths) + GAP * (cols - 1)
    total_h = 2 * MARGIN + title_h + sum(band + h for h in heights) + GAP * (rows - 1)
    canvas = np.empty((total_h, total_w, 3), np.uint8)
    canvas[:] = [int(255 * v) for v in BACKGROUND]
    empty = [int(255 * v) for v in EMPTY]

    title_box = (MARGIN, MARGIN, total_w - 2 * MARGIN, band) if title else None
    if title_box:
        _put_text(canvas, title, title_box, bold=True)

    cell_boxes: list[list[Box]] = []
    image_boxes: list[list[Box | None]] = []
    label_boxes: list[list[Box]] = []
    y = MARGIN + title_h
    for r in range(rows):
        x = MARGIN
        cb, ib, lb = [], [], []
        for c in range(cols):
            w, h = widths[c], heights[r]
            lbox = (x, y, w, band)
            cbox = (x, y + band, w, h)
            _put_text(canvas, labels[r][c], lbox, bold=bold[r][c])
            img = cells[r][c]
            if img is None:  # left blank (the corner of a contact sheet)
                ibox = None
            else:
                ih, iw = img.shape[:2]
                if (ih, iw) != (h, w):
                    canvas[y + band : y + band + h, x : x + w] = empty
                ix, iy = x + (w - iw) // 2, y + band + (h - ih) // 2
                canvas[iy : iy + ih, ix : ix + iw] = to_uint8(img)
                ibox = (ix, iy, iw, ih)
            cb.append(cbox)
            ib.append(ibox)
            lb.append(lbox)
            x += w + GAP
        cell_boxes.append(cb)
        image_boxes.append(ib)
        label_boxes.append(lb)
        y += band + heights[r] + GAP
    return Grid(canvas.astype(np.float32) / 255.0, cell_boxes, image_boxes, label_boxes, title_box)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge by a whole ``factor`` with nearest-neighbour sampling (every pixel kept as it is)."""
    if factor == 1:
        return image
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)


def display_scale(height: int, minimum: int = 160) -> int:
    """The whole factor that brings cells of ``height`` px to at least ``minimum`` px (labels stay readable)."""
    return max(1, math.ceil(minimum / max(1, height)))


def fit_height(image: np.ndarray, height: int, max_width: int | None = None) -> np.ndarray:
    """Resize to ``height`` keeping the aspect ratio; then shrink to ``max_width`` if wider."""
    out = resize_to_height(image, height)
    if max_width is not None and out.shape[1] > max_width:
        out = resize(out, (max(1, round(out.shape[0] * max_width / out.shape[1])), max_width))
    return out


def contact_sheet(
    photos: Sequence[tuple[str, np.ndarray]],
    styles: Sequence[tuple[str, np.ndarray]],
    results: Mapping[tuple[str, str], np.ndarray],
    height: int | None = None,
    scale: int = 1,
    title: str | None = None,
) -> Grid:
    """The report's figure 4: rows are styles, columns photos.

    Row 0 holds the photos (column 0 empty), column 0 the style images; the cell in row r,
    column c (r, c ≥ 1) is ``results[(style r, photo c)]``. Labels: photo names above the photos,
    style names above the style images.

    Args:
        photos: (name, image) in column order.
        styles: (name, image) in row order.
        results: the stylised image for each (style name, photo name).
        height: image height in the sheet before ``scale`` (default: the results' height). Photos
            and style images are resized to it; results too, if they differ.
        scale: whole enlargement factor (nearest neighbour), so that small runs stay readable.
        title: a line across the top (e.g. the size, iterations and preset of the runs).

    Returns:
        The :class:`Grid` (``shape == (1 + len(styles), 1 + len(photos))``).

    Raises:
        StyleflowError: no photos, no styles, duplicate names, or a missing result.
    """
    if not photos:
        raise StyleflowError("contact sheet: the list of photos is empty; give at least one photo")
    if not styles:
        raise StyleflowError("contact sheet: the list of styles is empty; give at least one style")
    for what, items in (("photo", photos), ("style", styles)):
        names = [n for n, _ in items]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise StyleflowError(f"contact sheet: {what} name {dup[0]!r} appears twice; give each {what} a distinct name")
    missing = [(s, p) for s, _ in styles for p, _ in photos if (s, p) not in results]
    if missing:
        s, p = missing[0]
        raise StyleflowError(f"contact sheet: no result for style {s!r} on photo {p!r} ({len(missing)} missing); run it first")
    if scale < 1 or int(scale) != scale:
        raise StyleflowError(f"contact sheet: scale {scale!r}; expected a whole number >= 1")
    h = height or max(img.shape[0] for img in results.values())

    def prep(img: np.ndarray, max_width: int | None = None) -> np.ndarray:
        return upscale(fit_height(img, h, max_width), int(scale))

    photo_cells = [prep(img) for _, img in photos]
    style_cells = [prep(img, max_width=round(1.5 * h)) for _, img in styles]
    cells: list[list[np.ndarray | None]] = [[None, *photo_cells]]
    labels = [["", *[name for name, _ in photos]]]
    for (sname, _), scell in zip(styles, style_cells):
        row: list[np.ndarray | None] = [scell]
        for (pname, _), pcell in zip(photos, photo_cells):
            out = prep(results[(sname, pname)])
            if out.shape != pcell.shape:  # a result of another aspect ratio: show it at the photo's size
                out = resize(out, pcell.shape[:2])
            row.append(out)
        cells.append(row)
        labels.append([sname] + [""] * len(photos))
    bold = [[r == 0 or c == 0 for c in range(len(photos) + 1)] for r in range(len(styles) + 1)]
    band = max(18, min(30, (h * scale) // 7))
    grid = labelled_grid(cells, labels, title=title, label_height=band, bold=bold)
    grid.meta = {"photos": [n for n, _ in photos], "styles": [n for n, _ in styles], "height": h, "scale": scale}
    return grid


def style_thumbnail(images: Sequence[np.ndarray], height: int) -> np.ndarray:
    """One picture for a style made of several images (a blend): side by side at ``height``."""
    if not images:
        raise StyleflowError("style thumbnail: no style images")
    parts = [resize_to_height(img, height) for img in images]
    if len(parts) == 1:
        return parts[0]
    sep = np.ones((height, max(1, height // 32), 3), np.float32)
    out = [parts[0]]
    for p in parts[1:]:
        out += [sep, p]
    return np.concatenate(out, axis=1)


def contact_sheet_files(
    photos: Mapping[str, str | os.PathLike[str]],
    styles: Mapping[str, Sequence[str | os.PathLike[str]]],
    results: Mapping[tuple[str, str], str | os.PathLike[str]],
    out: str | os.PathLike[str],
    height: int | None = None,
    scale: int | None = None,
    title: str | None = None,
) -> Grid:
    """:func:`contact_sheet` from files; writes ``out`` (PNG) atomically.

    Args:
        photos: photo name → image file, in column order.
        styles: style name → its image file(s), in row order (several images are shown side by side).
        results: (style name, photo name) → the stylised image file.
        out: the sheet, a ``.png`` file.
        height: see :func:`contact_sheet`; default the results' height.
        scale: whole enlargement factor; default enough for cells of at least 160 px.
    """
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise StyleflowError(f"{out}: the contact sheet is written as PNG; give a name ending in .png")
    if not photos:
        raise StyleflowError("contact sheet: the list of photos is empty; give at least one photo")
    if not styles:
        raise StyleflowError("contact sheet: the list of styles is empty; give at least one style")
    result_imgs = {key: read_image(path) for key, path in results.items()}
    h = height or max((img.shape[0] for img in result_imgs.values()), default=0) or 256
    photo_imgs = [(name, read_image(path)) for name, path in photos.items()]
    style_imgs = []
    for name, paths in styles.items():
        if not paths:
            raise StyleflowError(f"contact sheet: style {name!r} has no images; give at least one image file")
        style_imgs.append((name, style_thumbnail([read_image(p) for p in paths], h)))
    grid = contact_sheet(photo_imgs, style_imgs, result_imgs, height=h,
                         scale=scale or display_scale(h), title=title)  # fmt: skip
    write_image(out, grid.image)
    return grid
