"""Reading COCO detection data: ``input/gt.json`` and ``output/pred.json``.

Columns are pulled out of the parsed JSON with whole-list operations; only when
a check fails is the list scanned again to find the first offending entry, so
every error names the file, the entry (``annotations[3].bbox``, ``[17].score``)
and what is wrong, without slowing down valid files.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from autoscorer.errors import DuplicateId, InvalidValue, MissingColumn, UnknownId
from autoscorer.scorers.functional.coco_match import FloatArray, IntArray
from autoscorer.scorers.functional.detection import DetectionBoxes, GroundTruthBoxes
from autoscorer.workspace.files import read_json

GT_NAME = "input/gt.json"
PRED_NAME = "output/pred.json"
_NUMBER = (int, float)


@dataclass(frozen=True)
class CocoGroundTruth:
    """Ground-truth arrays plus the id <-> index maps (ids sorted, as pycocotools)."""

    boxes: GroundTruthBoxes
    image_ids: IntArray
    category_ids: IntArray
    category_names: dict[int, str]
    warnings: list[str] = field(default_factory=list)


def _bad(file: str, where: str, message: str, **details: Any) -> InvalidValue:
    return InvalidValue(
        f"{file} {where}: {message}", field=f"{file} {where}", details={"file": file, **details}
    )


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects.

    Parsed JSON holds no reference cycles, yet each burst of new dicts/lists
    triggers full collections: pausing them halves the parse time of a large
    ``pred.json``. The previous state is restored, even on error.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _first(values: Sequence[Any], wrong: Callable[[Any], bool]) -> int:
    return next(i for i, v in enumerate(values) if wrong(v))


def _column(entries: list[Any], key: str, file: str, where: str) -> list[Any]:
    """``[e[key] for e in entries]``; a non-object or a missing key names the entry."""
    try:
        return list(map(itemgetter(key), entries))
    except (KeyError, TypeError, IndexError):
        i = _first(entries, lambda e: not isinstance(e, dict) or key not in e)
    if not isinstance(entries[i], dict):
        raise _bad(file, where.format(i), f"must be a JSON object, got {type(entries[i]).__name__}")
    raise MissingColumn(
        f"{file} {where.format(i)} has no '{key}' field",
        field=f"{file} {where.format(i)}.{key}",
        details={"file": file, "index": i, "missing": key},
    )


def _check_types(
    values: list[Any], allowed: tuple[type, ...], file: str, where: str, what: str
) -> None:
    """Exact types only: ``True`` is not an id, ``"3"`` is not a number."""
    if not set(map(type, values)) <= set(allowed):
        i = _first(values, lambda v: type(v) not in allowed)
        raise _bad(file, where.format(i), f"must be {what}, got {values[i]!r}", index=i)


def _int_ids(values: list[Any], file: str, where: str) -> IntArray:
    _check_types(values, (int,), file, where, "an integer id")
    try:
        return np.fromiter(values, dtype=np.int64, count=len(values))
    except OverflowError:
        i = _first(values, lambda v: not -(2**63) <= v < 2**63)
        raise _bad(file, where.format(i), f"id {values[i]} is out of range", index=i) from None


def _finite(values: list[Any], file: str, where: str, what: str) -> FloatArray:
    _check_types(values, _NUMBER, file, where, what)
    out = np.fromiter(values, dtype=np.float64, count=len(values))
    bad = np.flatnonzero(~np.isfinite(out))
    if len(bad):
        i = int(bad[0])
        raise _bad(file, where.format(i), f"must be a finite number, got {values[i]!r}", index=i)
    return out


def _boxes(bboxes: list[Any], file: str, where: str) -> FloatArray:
    """(n, 4) float array of [x, y, w, h]; wrong shape, NaN/inf or negative size names the entry."""
    if not set(map(type, bboxes)) <= {list} or not set(map(len, bboxes)) <= {4}:
        i = _first(bboxes, lambda b: not isinstance(b, list) or len(b) != 4)
        raise _bad(file, where.format(i), f"must be [x, y, width, height], got {bboxes[i]!r}")
    flat = list(chain.from_iterable(bboxes))
    if not set(map(type, flat)) <= set(_NUMBER):
        i = _first(flat, lambda v: type(v) not in _NUMBER) // 4
        raise _bad(file, where.format(i), f"must hold 4 numbers, got {bboxes[i]!r}", index=i)
    box = np.fromiter(flat, dtype=np.float64, count=len(flat)).reshape(-1, 4)
    bad = np.flatnonzero(~np.isfinite(box).all(axis=1) | (box[:, 2] < 0) | (box[:, 3] < 0))
    if len(bad):
        i = int(bad[0])
        raise _bad(
            file,
            where.format(i),
            f"{bboxes[i]!r} has a NaN/infinite value or a negative width/height; "
            "boxes are [x, y, width, height] with width, height >= 0",
            index=i,
        )
    return box


def _list(doc: Any, key: str) -> list[Any]:
    if not isinstance(doc, dict):
        raise _bad(
            GT_NAME, "(top level)", "must be a COCO object {images, annotations, categories}"
        )
    if key not in doc:
        raise MissingColumn(
            f"{GT_NAME} has no '{key}' list (COCO format: images, annotations, categories)",
            field=f"{GT_NAME} {key}",
            details={"file": GT_NAME, "missing": key},
        )
    if not isinstance(doc[key], list):
        raise _bad(GT_NAME, key, f"must be a list, got {type(doc[key]).__name__}")
    return doc[key]


def _unique_ids(entries: list[Any], section: str) -> IntArray:
    ids = _int_ids(_column(entries, "id", GT_NAME, section + "[{}]"), GT_NAME, section + "[{}].id")
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        value = int(unique[counts > 1][0])
        i = int(np.flatnonzero(ids == value)[1])
        raise DuplicateId(
            f"{GT_NAME} {section}[{i}]: id {value} occurs more than once",
            field=f"{GT_NAME} {section}[{i}].id",
            details={"file": GT_NAME, "index": i, "id": value},
        )
    return unique


def index_of(
    ids: IntArray, known: IntArray, file: str, where: str, what: str, values: list[Any]
) -> IntArray:
    """Position of each id in the sorted ``known`` ids; an unknown one names its entry."""
    pos = np.searchsorted(known, ids)
    hit = pos < len(known)
    hit[hit] = known[pos[hit]] == ids[hit]
    if not hit.all():
        i = int(np.flatnonzero(~hit)[0])
        raise UnknownId(
            f"{file} {where.format(i)}: {what} {values[i]!r} is not in {GT_NAME}",
            field=f"{file} {where.format(i)}",
            details={"file": file, "index": i, "id": values[i]},
        )
    return pos.astype(np.int64)


def _areas(anns: list[Any], box: FloatArray, warnings: list[str]) -> FloatArray:
    raw = [a.get("area") for a in anns]
    missing = np.array([v is None for v in raw], dtype=bool)
    if missing.any():
        warnings.append(
            f"{int(missing.sum())} annotation(s) of {GT_NAME} have no 'area'; their box area "
            "(width x height) is used for the size ranges"
        )
        raw = [
            float(box[i, 2] * box[i, 3]) if m else v
            for i, (v, m) in enumerate(zip(raw, missing, strict=True))
        ]
    return _finite(raw, GT_NAME, "annotations[{}].area", "a number")


def _crowd(anns: list[Any]) -> np.ndarray:
    raw = [a.get("iscrowd", 0) for a in anns]
    if not set(map(type, raw)) <= {int, bool} or not set(raw) <= {0, 1}:
        i = _first(raw, lambda v: v not in (0, 1))
        raise _bad(GT_NAME, f"annotations[{i}].iscrowd", f"must be 0 or 1, got {raw[i]!r}")
    return np.array(raw, dtype=bool).reshape(-1)


def _category_names(cats: list[Any]) -> dict[int, str]:
    return {int(c["id"]): str(c.get("name", c["id"])) for c in cats}


def _mapped_ids(
    entries: list[Any], key: str, known: IntArray, file: str, where: str, what: str
) -> IntArray:
    """The ``key`` column as positions in the sorted ``known`` ids of the ground truth."""
    raw = _column(entries, key, file, where)
    ids = _int_ids(raw, file, f"{where}.{key}")
    return index_of(ids, known, file, f"{where}.{key}", what, raw)


def load_ground_truth(path: Path, max_bytes: int, encoding: str) -> CocoGroundTruth:
    """Parse and validate ``gt.json``; annotations must name a listed image and category."""
    with gc_paused():
        doc = read_json(path, max_bytes, encoding)
    images, anns, cats = _list(doc, "images"), _list(doc, "annotations"), _list(doc, "categories")
    image_ids, category_ids = _unique_ids(images, "images"), _unique_ids(cats, "categories")
    if not anns:
        raise _bad(GT_NAME, "annotations", "is empty: there is no ground truth to score against")
    where = "annotations[{}]"
    box = _boxes(_column(anns, "bbox", GT_NAME, where), GT_NAME, where + ".bbox")
    warnings: list[str] = []
    boxes = GroundTruthBoxes(
        image=_mapped_ids(anns, "image_id", image_ids, GT_NAME, where, "image id"),
        category=_mapped_ids(anns, "category_id", category_ids, GT_NAME, where, "category id"),
        box=box,
        area=_areas(anns, box, warnings),
        crowd=_crowd(anns),
        num_images=len(image_ids),
        num_categories=len(category_ids),
    )
    return CocoGroundTruth(boxes, image_ids, category_ids, _category_names(cats), warnings)


def parse_detections(doc: Any, gt: CocoGroundTruth) -> DetectionBoxes:
    """Validate the parsed ``pred.json`` list and map its ids to ground-truth indices."""
    if not isinstance(doc, list):
        raise _bad(
            PRED_NAME,
            "(top level)",
            f"must be a JSON list of {{image_id, category_id, bbox, score}}, got "
            f"{type(doc).__name__}",
        )
    where = "[{}]"
    return DetectionBoxes(
        image=_mapped_ids(doc, "image_id", gt.image_ids, PRED_NAME, where, "image id"),
        category=_mapped_ids(doc, "category_id", gt.category_ids, PRED_NAME, where, "category id"),
        box=_boxes(_column(doc, "bbox", PRED_NAME, where), PRED_NAME, where + ".bbox"),
        score=_finite(
            _column(doc, "score", PRED_NAME, where), PRED_NAME, where + ".score", "a number"
        ),
    )


def load_detections(
    path: Path, max_bytes: int, encoding: str, gt: CocoGroundTruth
) -> DetectionBoxes:
    """Parse and validate ``pred.json``."""
    with gc_paused():
        return parse_detections(read_json(path, max_bytes, encoding), gt)
