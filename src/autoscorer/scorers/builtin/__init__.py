"""Built-in scorers. Each module registers its scorers when imported;
:func:`autoscorer.scorers.registry.ensure_builtins` imports them all, and
:func:`~autoscorer.scorers.registry.get_scorer` only the one a built-in name needs
(``MODULES``), so scoring a classification workspace never loads PIL or the COCO code."""

MODULES = {
    "classification_f1": "classification",
    "classification_accuracy": "classification",
    "detection_map": "detection",
    "regression_rmse": "regression",
    "segmentation_miou": "segmentation",
}
