"""Classification metrics from scikit-learn: accuracy beside the ones that see imbalance.

Aurora classes are far from balanced (the YRS hot-spot class is 4 % of the frames), so
macro-F1 and balanced accuracy are reported beside accuracy, and either can pick the
best checkpoint. They are averaged over the classes present in the targets: a night
holding only arcs and draperies is scored on those two, while predictions of the
model's other classes still count as mistakes.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    recall_score,
)


def present(targets: np.ndarray, num_classes: int) -> list[int]:
    """The class indices (of ``num_classes``) that occur in ``targets``, in order."""
    return [k for k in range(num_classes) if k in set(np.asarray(targets).tolist())]


def classification_metrics(targets: np.ndarray, predicted: np.ndarray,
                           num_classes: int) -> dict[str, float]:
    """Accuracy, macro-F1 and balanced accuracy, over the classes present (see above)."""
    labels = present(targets, num_classes)
    return {
        'accuracy': float(accuracy_score(targets, predicted)),
        'macro_f1': float(f1_score(targets, predicted, labels=labels, average='macro',
                                   zero_division=0)),
        'balanced_accuracy': float(np.mean(recall_score(targets, predicted, labels=labels,
                                                         average=None, zero_division=0))),
    }


def per_class_f1(targets: np.ndarray, predicted: np.ndarray, num_classes: int) -> list[float]:
    """F1 of each class, in class order."""
    return [float(f) for f in f1_score(targets, predicted, labels=list(range(num_classes)),
                                       average=None, zero_division=0)]


def per_class_report(targets: np.ndarray, predicted: np.ndarray, classes: list[str]) -> str:
    """Precision, recall, F1 and support per class present, in scikit-learn's layout, and
    the classes absent from the data named below it."""
    labels = present(targets, len(classes))
    report = classification_report(targets, predicted, labels=labels, digits=4,
                                   target_names=[classes[k] for k in labels], zero_division=0)
    absent = [c for k, c in enumerate(classes) if k not in labels]
    if absent:
        report += (f'\nnot in the data, so not scored (the model may still predict them): '
                   f'{", ".join(absent)}\n')
    return report


def confusion(targets: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    return confusion_matrix(targets, predicted, labels=list(range(num_classes)))

