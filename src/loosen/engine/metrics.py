"""Classification metrics from scikit-learn: accuracy beside the ones that see imbalance.

Aurora classes are far from balanced (the YRS hot-spot class is 4 % of the frames), so
macro-F1 and balanced accuracy are reported beside accuracy, and either can pick the
best checkpoint.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
)


def classification_metrics(targets: np.ndarray, predicted: np.ndarray,
                           num_classes: int) -> dict[str, float]:
    """Accuracy, macro-F1 (over every class, absent ones scoring 0) and balanced accuracy."""
    labels = list(range(num_classes))
    return {
        'accuracy': float(accuracy_score(targets, predicted)),
        'macro_f1': float(f1_score(targets, predicted, labels=labels, average='macro',
                                   zero_division=0)),
        'balanced_accuracy': float(balanced_accuracy_score(targets, predicted)),
    }


def per_class_f1(targets: np.ndarray, predicted: np.ndarray, num_classes: int) -> list[float]:
    """F1 of each class, in class order."""
    return [float(f) for f in f1_score(targets, predicted, labels=list(range(num_classes)),
                                       average=None, zero_division=0)]


def per_class_report(targets: np.ndarray, predicted: np.ndarray, classes: list[str]) -> str:
    """Precision, recall, F1 and support per class, in scikit-learn's layout."""
    return classification_report(targets, predicted, labels=list(range(len(classes))),
                                 target_names=classes, digits=4, zero_division=0)


def confusion(targets: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    return confusion_matrix(targets, predicted, labels=list(range(num_classes)))


def majority_fraction(targets: np.ndarray) -> float:
    """Accuracy of always answering the most common class: the bar any model must clear."""
    return float(np.bincount(targets).max() / len(targets))
