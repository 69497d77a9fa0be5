"""functional.segmentation on hand-built masks: every figure worked out by hand.

Covers what the sklearn comparisons in test_segmentation.py do not reach: images without a
prediction (``add_missing`` / ``add_missed``) in both reductions, the per-class means of
``per_image``, ``ignore_index`` at and past the class range, the edges of
``first_out_of_range``, and no numpy warning when a figure is undefined.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from autoscorer.scorers.functional.segmentation import (
    ConfusionAccumulator,
    SegmentationMetrics,
    excluded_classes,
    first_out_of_range,
    metrics_from_confusion,
    segmentation_metrics,
)

NAN = math.nan
VOID = 255


def close(actual: object, expected: object) -> None:
    """Equal to 1e-12, NaN where expected is NaN."""
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=0, atol=1e-12
    )


def _with_a_missed_image() -> ConfusionAccumulator:
    """Image 1: gt [[0, 0], [1, 1]], pred [[0, 1], [1, 1]]: cm rows [1, 1, 0], [0, 2, 0].
    Image 2 has no prediction: gt [[0, 2], [2, void]] -> missed [1, 0, 2]."""
    acc = ConfusionAccumulator(3, VOID)
    acc.add(np.array([[0, 0], [1, 1]], np.uint8), np.array([[0, 1], [1, 1]], np.uint8))
    image = acc.add_missing(np.array([[0, 2], [2, VOID]], np.uint8))
    # the missed image alone: gt [1, 0, 2], nothing predicted -> 0 where gt, NaN for class 1
    close(image.iou, [0.0, NAN, 0.0])
    close(image.dice, [0.0, NAN, 0.0])
    close(image.class_accuracy, [0.0, NAN, 0.0])
    close([image.miou, image.pixel_accuracy], [0.0, 0.0])
    np.testing.assert_array_equal(image.gt_pixels, [1, 0, 2])
    np.testing.assert_array_equal(acc.missed, [1, 0, 2])
    return acc


def test_a_missed_image_counts_its_pixels_as_false_negatives() -> None:
    m = _with_a_missed_image().result("dataset")
    # tp [1, 2, 0]; gt = [2, 2, 0] + missed [1, 0, 2] = [3, 2, 2]; pred [1, 3, 0]
    close(m.iou, [1 / 3, 2 / 3, 0.0])  # tp / (gt + pred - tp)
    close(m.dice, [2 / 4, 4 / 5, 0.0])  # 2 tp / (gt + pred)
    close(m.class_accuracy, [1 / 3, 1.0, 0.0])  # tp / gt
    close(m.miou, 1 / 3)
    close(m.mdice, (0.5 + 0.8) / 3)
    close(m.mean_class_accuracy, 4 / 9)
    close(m.pixel_accuracy, 3 / 7)
    np.testing.assert_array_equal(m.gt_pixels, [3, 2, 2])
    np.testing.assert_array_equal(m.pred_pixels, [1, 3, 0])
    assert m.num_pixels == 7
    assert m.gt_pixels.dtype == m.pred_pixels.dtype == np.int64  # counts stay integers


def test_per_image_means_skip_the_images_where_a_class_is_undefined() -> None:
    m = _with_a_missed_image().result("per_image")
    # image 1: iou [1/2, 2/3, NaN], dice [2/3, 4/5, NaN], acc [1/2, 1, NaN], pixel acc 3/4
    # image 2: iou [0, NaN, 0], dice [0, NaN, 0], acc [0, NaN, 0], pixel acc 0
    close(m.iou, [1 / 4, 2 / 3, 0.0])
    close(m.dice, [1 / 3, 4 / 5, 0.0])
    close(m.class_accuracy, [1 / 4, 1.0, 0.0])
    close(m.miou, (7 / 12 + 0.0) / 2)
    close(m.mdice, (11 / 15 + 0.0) / 2)
    close(m.mean_class_accuracy, (3 / 4 + 0.0) / 2)
    close(m.pixel_accuracy, (3 / 4 + 0.0) / 2)
    np.testing.assert_array_equal(m.gt_pixels, [3, 2, 2])  # the dataset's counts
    np.testing.assert_array_equal(m.pred_pixels, [1, 3, 0])


def test_result_defaults_to_the_dataset_reduction() -> None:
    acc = _with_a_missed_image()
    assert acc.result().miou == acc.result("dataset").miou == pytest.approx(1 / 3, abs=1e-12)


def test_missed_pixels_add_up_over_images() -> None:
    acc = ConfusionAccumulator(3, None)
    first = acc.add_missing(np.array([[0, 1]], np.int64))  # class 2 in neither image
    np.testing.assert_array_equal(first.gt_pixels, [1, 1, 0])
    acc.add_missing(np.array([[1, 1]], np.int64))
    np.testing.assert_array_equal(acc.missed, [1, 3, 0])
    m = acc.result()
    np.testing.assert_array_equal(m.gt_pixels, [1, 3, 0])
    close(m.iou, [0.0, 0.0, NAN])
    close(m.pixel_accuracy, 0.0)
    # add_missed takes the per-class counts directly, as the builtin scorer hands them
    acc.add_missed(np.array([0, 0, 4], np.int64))
    np.testing.assert_array_equal(acc.result().gt_pixels, [1, 3, 4])


def test_an_empty_accumulator_has_undefined_figures_of_the_right_size() -> None:
    for reduction in ("dataset", "per_image"):
        m = ConfusionAccumulator(3).result(reduction)
        for per_class in (m.iou, m.dice, m.class_accuracy):
            assert per_class.shape == (3,) and np.isnan(per_class).all()
        assert all(math.isnan(v) for v in (m.miou, m.mdice, m.pixel_accuracy))
        assert math.isnan(m.mean_class_accuracy) and m.num_pixels == 0


def test_undefined_figures_raise_no_numpy_warning() -> None:
    gt = np.full((2, 2), VOID, np.uint8)  # every pixel void: 0/0 everywhere
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reduction in ("dataset", "per_image"):
            m = segmentation_metrics([(gt, gt)], 2, VOID, reduction)
            assert math.isnan(m.miou) and math.isnan(m.pixel_accuracy)
            assert np.isnan(m.iou).all() and m.num_pixels == 0


def test_metrics_from_confusion_counts_rows_as_truth_and_columns_as_predictions() -> None:
    cm = np.array([[1, 1, 0], [0, 2, 0], [0, 0, 0]], np.int64)
    m = metrics_from_confusion(cm)
    np.testing.assert_array_equal(m.gt_pixels, [2, 2, 0])
    np.testing.assert_array_equal(m.pred_pixels, [1, 3, 0])
    close(m.iou, [1 / 2, 2 / 3, NAN])
    close(m.pixel_accuracy, 3 / 4)
    assert isinstance(m, SegmentationMetrics) and m.num_pixels == 4


def test_the_default_ignore_index_is_255() -> None:
    gt = np.array([[0, VOID], [1, 1]], np.uint8)
    pred = np.array([[0, 0], [1, 0]], np.uint8)
    m = segmentation_metrics([(gt, pred)], 2)
    # counted: 0->0, 1->1, 1->0: iou 0 = 1/2, iou 1 = 1/2
    close(m.iou, [1 / 2, 1 / 2])
    assert m.num_pixels == 3


def test_an_ignore_index_that_is_a_class_is_left_out_of_each_image_too() -> None:
    gt = np.array([[0, 1], [2, 2]], np.uint8)
    pred = np.array([[1, 1], [2, 0]], np.uint8)
    # gt 0 pixels dropped; counted 1->1, 2->2, 2->0; class 0 itself is not scored
    for reduction in ("dataset", "per_image"):
        m = segmentation_metrics([(gt, pred)], 3, 0, reduction)
        close(m.iou, [NAN, 1.0, 1 / 2])
        close(m.miou, 0.75)  # 0.5 if class 0 (iou 0) were counted


def test_an_ignore_index_just_past_the_classes_is_only_void() -> None:
    assert excluded_classes(2, 2) == ()
    assert excluded_classes(2, 1) == (1,)
    assert excluded_classes(2, 0) == (0,)
    assert excluded_classes(2, -1) == ()
    assert excluded_classes(2, None) == ()
    gt = np.array([[0, 2]], np.uint8)
    m = segmentation_metrics([(gt, np.array([[0, 1]], np.uint8))], 2, 2)
    close(m.iou, [1.0, NAN])
    assert m.num_pixels == 1


def test_first_out_of_range_finds_the_first_value_at_or_past_num_classes() -> None:
    values = np.array([[0, 1], [3, 2]])
    assert first_out_of_range(values, 3) == ((1, 0), 3)  # 3 == num_classes is out
    assert first_out_of_range(values, 4) is None
    assert first_out_of_range(np.array([[1, -1]]), 2) == ((0, 1), -1)
    counted = np.array([[True, True], [False, True]])
    assert first_out_of_range(values, 3, counted) is None  # the 3 is not counted
    assert first_out_of_range(values, 2, counted) == ((1, 1), 2)
