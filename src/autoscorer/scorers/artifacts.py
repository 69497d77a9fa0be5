"""Writing scorer artifacts: JSON, CSV and a confusion-matrix picture drawn with Pillow.

Scorers write into ``ctx.artifacts_dir`` (a staging folder); the pipeline moves
the files into ``output/artifacts/`` only once scoring has succeeded.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # Pillow loads only when a picture is drawn (not for --no-artifacts)
    from PIL import Image, ImageFont

_MAX_PICTURE = 800  # pixels for the grid part of the picture
_LABELLED_UP_TO = 40  # classes; beyond this the axes carry no names
_COUNTS_UP_TO = 15  # classes; up to this every cell shows its count


def write_json(directory: Path, filename: str, data: Any) -> Path:
    path = directory / filename
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, allow_nan=False)
    return path


def write_csv(
    directory: Path, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Path:
    path = directory / filename
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _cell_colours(cm: np.ndarray) -> np.ndarray:
    """White -> dark blue by the share of each true class (row) in the cell."""
    rows = cm.sum(axis=1, keepdims=True).astype(np.float64)
    share = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    white, blue = np.array([255.0, 255.0, 255.0]), np.array([8.0, 48.0, 107.0])
    rgb = white + share[..., None] * (blue - white)
    return rgb.round().astype(np.uint8)


def _vertical_text(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> Image.Image:
    from PIL import Image, ImageDraw

    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    strip = Image.new("RGBA", (right - left + 2, bottom - top + 2), (255, 255, 255, 0))
    ImageDraw.Draw(strip).text((-left + 1, -top + 1), text, fill="black", font=font)
    return strip.rotate(90, expand=True)


def confusion_matrix_png(path: Path, cm: np.ndarray, names: Sequence[str]) -> Path:
    """Heat map of ``cm`` (rows: ground truth, columns: prediction), row-normalised colours."""
    from PIL import Image, ImageDraw, ImageFont

    k = len(names)
    cell = max(1, min(48, _MAX_PICTURE // max(k, 1)))
    labelled = k <= _LABELLED_UP_TO
    margin = 80 if labelled else 24
    font = ImageFont.load_default()
    grid = Image.fromarray(_cell_colours(cm), "RGB").resize(
        (k * cell, k * cell), Image.Resampling.NEAREST
    )
    title = "Confusion matrix (rows: ground truth, columns: prediction)"
    width = max(margin + k * cell + 16, int(font.getlength(title)) + 12)
    img = Image.new("RGB", (width, 28 + k * cell + margin), "white")
    img.paste(grid, (margin, 28))
    draw = ImageDraw.Draw(img)
    draw.text((6, 6), title, "black", font)
    if cell >= 8:
        for i in range(k + 1):
            draw.line([(margin + i * cell, 28), (margin + i * cell, 28 + k * cell)], "#bbbbbb")
            draw.line([(margin, 28 + i * cell), (margin + k * cell, 28 + i * cell)], "#bbbbbb")
    if labelled:
        for i, name in enumerate(names):
            short = name if len(name) <= 12 else name[:10] + ".."
            draw.text((4, 28 + i * cell + cell // 2 - 5), short, fill="black", font=font)
            label = _vertical_text(short, font)
            img.paste(label, (margin + i * cell + cell // 2 - 5, 32 + k * cell), label)
    if k <= _COUNTS_UP_TO and cell >= 28:
        shares = _cell_colours(cm).mean(axis=2)
        for (i, j), value in np.ndenumerate(cm):
            colour = "white" if shares[i, j] < 128 else "black"
            text = f"{value:g}" if isinstance(value, float | np.floating) else str(value)
            x = margin + j * cell + (cell - font.getlength(text)) / 2
            draw.text((x, 28 + i * cell + cell // 2 - 5), text, colour, font)
    img.save(path, format="PNG", optimize=True)
    return path
