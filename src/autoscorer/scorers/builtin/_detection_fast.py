"""The fast reader of ``output/pred.json``: msgspec decodes straight into typed records.

A valid file (the usual case) is decoded by msgspec into small structs in C, its types
checked on the way (integers for ids, four numbers per box, a number for the score), then
turned into columns. Anything unusual (a wrong type, a missing field, a non-UTF-8
encoding, a BOM, NaN, an id not in the ground truth, a negative box) makes this reader
step aside and the general reader of :mod:`._detection_data` parse the file again, so
every error names the entry exactly as before and the accepted input is unchanged.
"""

from __future__ import annotations

from operator import attrgetter
from pathlib import Path

import msgspec
import numpy as np

from autoscorer.scorers.builtin._detection_data import CocoGroundTruth, gc_paused
from autoscorer.scorers.functional.coco_match import FloatArray, IntArray
from autoscorer.scorers.functional.detection import DetectionBoxes
from autoscorer.workspace import safeio
from autoscorer.workspace.files import check_file


class _Detection(msgspec.Struct, gc=False):
    """One entry of ``pred.json``; other keys are ignored, as by the general reader."""

    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    score: float


_DECODER = msgspec.json.Decoder(list[_Detection])
_UTF8 = ("utf-8", "utf8")


def _positions(ids: IntArray, known: IntArray) -> IntArray | None:
    """Index of each id in the sorted ``known`` ids; None if one is unknown."""
    pos = np.searchsorted(known, ids)
    if len(pos) and (int(pos.max()) >= len(known) or not np.array_equal(known[pos], ids)):
        return None
    return pos.astype(np.int64)


def _ids(dets: list[_Detection], key: str) -> IntArray | None:
    try:
        return np.fromiter(map(attrgetter(key), dets), dtype=np.int64, count=len(dets))
    except OverflowError:  # beyond int64: the general reader names the entry
        return None


def _columns(dets: list[_Detection], gt: CocoGroundTruth) -> DetectionBoxes | None:
    n = len(dets)
    image_ids, category_ids = _ids(dets, "image_id"), _ids(dets, "category_id")
    if image_ids is None or category_ids is None:
        return None
    image = _positions(image_ids, gt.image_ids)
    category = _positions(category_ids, gt.category_ids)
    box: FloatArray = np.array([d.bbox for d in dets], dtype=np.float64).reshape(n, 4)
    score = np.fromiter(map(attrgetter("score"), dets), dtype=np.float64, count=n)
    finite = np.isfinite(box).all() and np.isfinite(score).all()
    if image is None or category is None or not finite or (box[:, 2:] < 0).any():
        return None
    return DetectionBoxes(image=image, category=category, box=box, score=score)


def fast_detections(
    path: Path, max_bytes: int, encoding: str, gt: CocoGroundTruth
) -> DetectionBoxes | None:
    """The detections of a well-formed UTF-8 ``pred.json``, or None (use the general reader)."""
    if encoding.lower().replace("_", "-") not in _UTF8:
        return None
    check_file(path, max_bytes)
    with safeio.open_file(path) as fh:  # confined to the workspace, links not followed
        raw = fh.read(max_bytes + 1)
    with gc_paused():
        try:
            dets = _DECODER.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        return _columns(dets, gt)
