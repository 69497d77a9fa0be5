"""Reading segmentation data: ``gt.json``, ``pred.json`` and PNG class-index masks.

Every problem raises a :mod:`autoscorer.errors` error whose message names the
file, the entry (``images[3].width``) or the image id, and what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from autoscorer.errors import (
    DuplicateId,
    InvalidValue,
    MissingColumn,
    MissingFile,
    MissingId,
    ParseError,
    UnknownId,
)
from autoscorer.scorers.functional.segmentation import first_out_of_range
from autoscorer.workspace.files import open_checked, read_json

if TYPE_CHECKING:
    from autoscorer.scorers.base import ScoringContext

GT_NAME = "input/gt.json"
PRED_NAME = "output/pred.json"
# single-channel modes whose pixel values are the class indices ("P": palette indices)
MASK_MODES = ("L", "P", "1", "I", "I;16", "I;16B", "I;16L")
ImageId = int | str


@dataclass(frozen=True)
class ImageSpec:
    """One entry of ``gt.json``'s ``images``."""

    id: ImageId
    width: int
    height: int
    mask_file: str


@dataclass(frozen=True)
class GroundTruth:
    """Images in file order, keyed by id, and category id -> name."""

    images: dict[ImageId, ImageSpec]
    categories: dict[int, str]


def _bad(file: str, where: str, message: str, **details: Any) -> InvalidValue:
    return InvalidValue(
        f"{file} {where}: {message}", field=f"{file} {where}", details={"file": file, **details}
    )


def _need(entry: Any, key: str, file: str, where: str) -> Any:
    if not isinstance(entry, dict):
        raise _bad(file, where, f"must be a JSON object, got {type(entry).__name__}")
    if key not in entry:
        raise MissingColumn(
            f"{file} {where} has no '{key}' field",
            field=f"{file} {where}.{key}",
            details={"file": file, "missing": key},
        )
    return entry[key]


def _image_id(value: Any, file: str, where: str) -> ImageId:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise _bad(file, f"{where}.image_id", f"must be an integer or string, got {value!r}")
    return value


def _positive_int(value: Any, file: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _bad(file, where, f"must be a positive integer, got {value!r}")
    return value


def _parse_image(entry: Any, i: int) -> ImageSpec:
    where = f"images[{i}]"
    mask_file = _need(entry, "mask_file", GT_NAME, where)
    if not isinstance(mask_file, str) or not mask_file.strip():
        raise _bad(GT_NAME, f"{where}.mask_file", f"must be a file name, got {mask_file!r}")
    return ImageSpec(
        id=_image_id(_need(entry, "id", GT_NAME, where), GT_NAME, where),
        width=_positive_int(_need(entry, "width", GT_NAME, where), GT_NAME, f"{where}.width"),
        height=_positive_int(_need(entry, "height", GT_NAME, where), GT_NAME, f"{where}.height"),
        mask_file=mask_file,
    )


def _parse_categories(raw: Any) -> dict[int, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise _bad(GT_NAME, "categories", "must be a list of {id, name}")
    out: dict[int, str] = {}
    for i, entry in enumerate(raw):
        cid = _need(entry, "id", GT_NAME, f"categories[{i}]")
        if isinstance(cid, bool) or not isinstance(cid, int) or cid < 0:
            raise _bad(GT_NAME, f"categories[{i}].id", f"must be a class index >= 0, got {cid!r}")
        if cid in out:
            raise DuplicateId(
                f"{GT_NAME} categories[{i}]: category id {cid} occurs twice",
                field=f"{GT_NAME} categories[{i}].id",
                details={"file": GT_NAME, "id": cid},
            )
        out[cid] = str(entry.get("name", ""))
    return out


def load_ground_truth(path: Path, max_bytes: int, encoding: str) -> GroundTruth:
    """Parse ``gt.json``: non-empty unique ``images``, optional ``categories``."""
    data = read_json(path, max_bytes, encoding)
    images = _need(data, "images", GT_NAME, "(top level)")
    if not isinstance(images, list) or not images:
        raise _bad(GT_NAME, "images", "must be a non-empty list")
    specs: dict[ImageId, ImageSpec] = {}
    for i, entry in enumerate(images):
        spec = _parse_image(entry, i)
        if spec.id in specs:
            raise DuplicateId(
                f"{GT_NAME} images[{i}]: image id {spec.id!r} occurs twice",
                field=f"{GT_NAME} images[{i}].id",
                details={"file": GT_NAME, "id": spec.id},
            )
        specs[spec.id] = spec
    return GroundTruth(images=specs, categories=_parse_categories(data.get("categories")))


def gt_mask_paths(gt_path: Path, max_bytes: int = 256 * 1024**2) -> list[str]:
    """``input/<folder>`` holding each mask ``gt_path`` names (the file when at the top).

    What a sandbox must not see; a gt.json that cannot be read hides all of ``input/``.
    """
    if not gt_path.is_file():
        return []
    try:
        images = read_json(gt_path, max_bytes, "utf-8").get("images") or []
        names = {str(image["mask_file"]) for image in images}
    except Exception:  # unreadable or unexpected: the safe answer is "everything"
        return ["input"]
    out = set()
    for name in names:
        parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
        if not parts or ".." in parts or parts[0] == "/":
            continue  # outside input/: the scorer refuses it
        out.add("/".join(["input", *(parts[:-1] or parts)]))
    return sorted(out)


def load_predictions(
    path: Path, max_bytes: int, encoding: str, gt: GroundTruth
) -> dict[ImageId, str]:
    """Image id -> mask file; ids must match the ground truth exactly (an empty list is allowed)."""
    data = read_json(path, max_bytes, encoding)
    if not isinstance(data, list):
        raise _bad(PRED_NAME, "(top level)", "must be a list of {image_id, mask_file}")
    out: dict[ImageId, str] = {}
    for i, entry in enumerate(data):
        where = f"entry [{i}]"
        image_id = _image_id(_need(entry, "image_id", PRED_NAME, where), PRED_NAME, where)
        mask_file = _need(entry, "mask_file", PRED_NAME, where)
        if not isinstance(mask_file, str) or not mask_file.strip():
            raise _bad(PRED_NAME, f"{where}.mask_file", f"must be a file name, got {mask_file!r}")
        if image_id not in gt.images:
            raise UnknownId(
                f"{PRED_NAME} {where}: image_id {image_id!r} is not in {GT_NAME}",
                field=f"{PRED_NAME} {where}.image_id",
                details={"file": PRED_NAME, "index": i, "id": image_id},
            )
        if image_id in out:
            raise DuplicateId(
                f"{PRED_NAME} {where}: image_id {image_id!r} has a second prediction",
                field=f"{PRED_NAME} {where}.image_id",
                details={"file": PRED_NAME, "index": i, "id": image_id},
            )
        out[image_id] = mask_file
    _check_complete(out, gt)
    return out


def _check_complete(preds: dict[ImageId, str], gt: GroundTruth) -> None:
    if not preds:
        return
    missing = [image_id for image_id in gt.images if image_id not in preds]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise MissingId(
            f"{PRED_NAME} has no prediction for {len(missing)} image(s) of {GT_NAME}: {shown}",
            field=PRED_NAME,
            details={"file": PRED_NAME, "missing_ids": missing[:100], "count": len(missing)},
        )


def mask_path(base: Path, relative: str, file: str, image: ImageSpec) -> Path:
    """``base / relative`` resolved (symlinks too); it must stay inside ``base``.

    Predictions may not point into ``input/`` (the ground-truth masks), nor
    anywhere else outside ``output/``.
    """
    label = f"{base.name}/"
    # os.path, not pathlib: this runs twice per image, and pathlib's parsing was ~5% of a run
    root = os.path.realpath(base)
    resolved = os.path.realpath(os.path.join(root, relative))
    inside = resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep)
    if os.path.isabs(relative) or not inside:
        raise _bad(
            file,
            f"image {image.id!r}",
            f"mask_file {relative!r} resolves outside {label} (symlinks are followed); mask "
            f"paths are relative to {label} and must stay inside it",
            image_id=image.id,
            mask_file=relative,
        )
    return Path(resolved)


def _mask_error(name: str, image: ImageSpec, message: str, **details: Any) -> InvalidValue:
    return InvalidValue(
        f"{name} (image {image.id!r}) {message}",
        field=name,
        details={"file": name, "image_id": image.id, **details},
    )


def _check_image(img: Image.Image, name: str, image: ImageSpec) -> None:
    if img.format != "PNG":
        raise _mask_error(name, image, f"is {img.format}, not PNG (masks must be lossless)")
    if img.size != (image.width, image.height):
        raise _mask_error(
            name,
            image,
            f"is {img.width}x{img.height} (width x height) but {GT_NAME} says "
            f"{image.width}x{image.height}",
            shape=[img.height, img.width],
            expected_shape=[image.height, image.width],
        )
    if img.mode not in MASK_MODES:
        raise _mask_error(
            name,
            image,
            f"has mode {img.mode}; save class indices as a single-channel PNG "
            "(mode L, P or I;16), not colours",
        )


# How many images a workspace needs before its masks are read through pyarrow (below):
# importing pyarrow (~60 ms) costs what the copies of about 30 such masks cost.
VIEW_MIN_IMAGES = 32


def _pixels(img: Image.Image, view: bool) -> NDArray[Any]:
    """The decoded pixels as a read-only 2-D array.

    ``np.asarray(img)`` copies them through ``tobytes`` (a third of an 8-bit mask's decode
    time); with ``view``, 8-bit masks are read in place through Pillow's Arrow export."""
    if img.mode == "1":
        return np.asarray(img).astype(np.uint8)
    if not view or img.mode not in ("L", "P"):
        return np.asarray(img)
    import pyarrow as pa

    img.load()
    try:
        arr = pa.array(img)
    except ValueError:  # a large image held in several blocks: no single buffer to view
        return np.asarray(img)
    pixels = np.frombuffer(arr.buffers()[1], np.uint8, count=len(arr), offset=arr.offset)
    return pixels.reshape(img.height, img.width)


def _open_mask(path: Path, name: str, image: ImageSpec, view: bool, max_bytes: int) -> NDArray[Any]:
    fh = open_checked(path, max_bytes)  # its errors (missing, empty, ...) are not PNG errors
    try:
        with fh, Image.open(fh) as img:
            # size and mode are checked from the header, before any pixel is decoded
            _check_image(img, name, image)
            return _pixels(img, view)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ParseError(
            f"{name} (image {image.id!r}) is not a readable PNG: {exc}",
            field=name,
            details={"file": name, "image_id": image.id},
        ) from exc


def mask_name(base: Path, relative: str) -> str:
    """``output/masks/3.png``: how messages name a mask."""
    return f"{base.name}/{Path(relative).as_posix()}"


def read_mask(
    base: Path,
    relative: str,
    image: ImageSpec,
    role: str,
    ctx: ScoringContext,
    view: bool = False,
) -> NDArray[Any]:
    """The mask of ``image`` as a read-only 2-D integer array, checked against the gt size
    (``view``: 8-bit masks without a copy, see ``_pixels``)."""
    file = GT_NAME if role == "gt" else PRED_NAME
    path = mask_path(base, relative, file, image)
    name = mask_name(base, relative)
    if not path.is_file() and not path.is_symlink():  # a link is judged by open_checked
        whose = "ground-truth" if role == "gt" else "predicted"
        raise MissingFile(
            f"{name} is missing: the {whose} mask of image {image.id!r} named in {file}",
            field=name,
            details={"file": name, "image_id": image.id, "listed_in": file},
        )
    return _open_mask(path, name, image, view, ctx.max_file_bytes)


def check_class_range(
    mask: NDArray[Any],
    name: str,
    image: ImageSpec,
    num_classes: int,
    counted: NDArray[np.bool_] | None,
) -> None:
    """Every ``counted`` pixel of ``mask`` must be a class index in ``[0, num_classes)``."""
    hit = first_out_of_range(mask, num_classes, counted)
    if hit is None:
        return
    (row, col), value = hit
    raise InvalidValue(
        f"{name} (image {image.id!r}): pixel value {value} at row {row}, column {col} is not a "
        f"class index 0..{num_classes - 1}; check num_classes / ignore_index in scorer_params",
        field=name,
        details={"file": name, "image_id": image.id, "row": row, "column": col, "value": value},
    )
