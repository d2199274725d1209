"""Classification metrics equal scikit-learn's on the same predictions; names follow the loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from layernet import (
    AUC,
    SGD,
    Accuracy,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dense,
    F1Score,
    Metric,
    MSELoss,
    Precision,
    Recall,
    Sequential,
    Sigmoid,
    TopKAccuracy,
    evaluate,
)
from layernet.metrics import accumulate, get_metrics

skm = pytest.importorskip("sklearn.metrics")

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(0, 2, size=(200, 4))
LABELS = RNG.integers(0, 4, size=200)
LOGIT_1 = RNG.normal(0, 2, size=(200, 1))
BINARY = (LOGIT_1[:, 0] + RNG.normal(0, 2, size=200) > 0).astype(int)


def in_batches(metric: Metric, pred: Any, target: Any, size: int = 17) -> float:
    """The metric accumulated batch by batch, as fit and evaluate compute it."""
    metric.check_target(pred, target)
    stats = None
    for start in range(0, len(pred), size):
        batch = metric.statistics(pred[start : start + size], target[start : start + size])
        stats = accumulate(metric, stats, batch)
    assert stats is not None
    return metric.result(stats)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(Precision, skm.precision_score), (Recall, skm.recall_score), (F1Score, skm.f1_score)],
    ids=["precision", "recall", "f1"],
)
def test_multiclass_scores_equal_sklearn(ours: Any, theirs: Any, average: str) -> None:
    logits = LOGITS.copy()
    logits[:, 3] -= 10.0  # class 3 is never predicted: sklearn's 0/0 rule matters
    guess = logits.argmax(axis=1)
    expected = theirs(LABELS, guess, average=average, zero_division=0.0)
    for target in (LABELS, np.eye(4)[LABELS]):
        assert in_batches(ours(average=average), logits, target) == pytest.approx(
            expected, rel=1e-12
        )


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(Precision, skm.precision_score), (Recall, skm.recall_score), (F1Score, skm.f1_score)],
    ids=["precision", "recall", "f1"],
)
@pytest.mark.parametrize("kind", ["logits", "probabilities"])
def test_binary_scores_equal_sklearn_with_the_loss_threshold(
    ours: Any, theirs: Any, kind: str
) -> None:
    pred = LOGIT_1 if kind == "logits" else 1 / (1 + np.exp(-LOGIT_1))
    metric = ours()
    metric.configure(kind)
    expected = theirs(BINARY, (LOGIT_1[:, 0] > 0).astype(int))
    assert in_batches(metric, pred, BINARY.astype(float)) == pytest.approx(expected, rel=1e-12)


def test_binary_auc_equals_sklearn_with_ties() -> None:
    scores = np.round(LOGIT_1, 1)  # many ties
    expected = skm.roc_auc_score(BINARY, scores[:, 0])
    assert in_batches(AUC(), scores, BINARY.astype(float)) == pytest.approx(expected, rel=1e-12)
    probabilities = 1 / (1 + np.exp(-scores))
    assert in_batches(AUC(), probabilities, BINARY.astype(float)) == pytest.approx(
        expected, rel=1e-12
    )


def test_multiclass_auc_is_sklearn_ovr_macro_on_the_softmax() -> None:
    probs = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
    expected = skm.roc_auc_score(LABELS, probs, multi_class="ovr")
    metric = AUC()
    metric.configure("logits")
    assert in_batches(metric, LOGITS, LABELS) == pytest.approx(expected, rel=1e-12)


def test_auc_with_one_class_is_nan_and_values_columns_are_refused() -> None:
    assert np.isnan(AUC().compute(LOGIT_1[:5], np.ones(5)))
    with pytest.raises(ValueError, match=r"AUC: 4 output columns of values are not class scores"):
        AUC().compute(LOGITS, LABELS)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy_equals_sklearn_ties_included(k: int) -> None:
    scores = np.round(LOGITS)  # ties between classes
    expected = skm.top_k_accuracy_score(LABELS, scores, k=k, labels=np.arange(4))
    metric = TopKAccuracy(k=k)
    assert metric.name == f"top_{k}_accuracy"
    assert in_batches(metric, scores, LABELS) == pytest.approx(expected, rel=1e-12)


def test_accuracy_follows_the_loss() -> None:
    """The issue's trap: 'accuracy' on logits must threshold at 0, not 0.5."""
    x = RNG.normal(size=(300, 2))
    y = (x[:, 0] + 0.5 * RNG.normal(size=300) > 0.3).astype(float)
    model = Sequential([Dense(2, 1, rng=0)])
    model.fit(x, y, loss=BCEWithLogitsLoss(), optimizer=SGD(model.parameters(), lr=0.5),
              epochs=5, verbose=0, rng=0)  # fmt: skip
    logits = model.predict(x)[:, 0]
    truth = skm.accuracy_score(y, logits > 0)
    assert truth != skm.accuracy_score(y, logits > 0.5)  # the two thresholds disagree here
    for loss, pred in ((BCEWithLogitsLoss(), model), (BCELoss(), Sequential([*model, Sigmoid()]))):
        scores = evaluate(pred, x, y, loss=loss, metrics=["accuracy", "precision"])
        assert scores["accuracy"] == pytest.approx(truth, rel=1e-15)
        assert scores["precision"] == pytest.approx(skm.precision_score(y, logits > 0))
    explicit = evaluate(model, x, y, loss=BCEWithLogitsLoss(), metrics=[Accuracy(threshold=0.5)])
    assert explicit["accuracy"] == pytest.approx(skm.accuracy_score(y, logits > 0.5))


def test_names_resolve_and_bad_arguments_are_named() -> None:
    names = ["precision", "recall", "f1", "auc", "top_k_accuracy"]
    resolved = get_metrics(names, "logits")
    assert [m.name for m in resolved] == ["precision", "recall", "f1", "auc", "top_5_accuracy"]
    assert all(m.pred_kind == "logits" for m in resolved)
    assert isinstance(get_metrics(["roc_auc"])[0], AUC)
    with pytest.raises(ValueError, match=r"Precision: average must be one of"):
        Precision(average="samples")
    with pytest.raises(ValueError, match=r"F1Score: average='binary' scores one positive class"):
        F1Score(average="binary").compute(LOGITS, LABELS)
    with pytest.raises(ValueError, match=r"TopKAccuracy: k must be a positive integer, got 0"):
        TopKAccuracy(k=0)
    with pytest.raises(ValueError, match=r"TopKAccuracy\(k=5\): needs one output column per class"):
        TopKAccuracy().compute(LOGIT_1, BINARY)
    with pytest.raises(ValueError, match=r"Recall: class labels must be integers in \[0, 4\)"):
        Recall().compute(LOGITS, LABELS + 1)


def test_fit_logs_the_new_metrics_per_epoch() -> None:
    model = Sequential([Dense(4, 4, rng=0)])
    history = model.fit(LOGITS, LABELS, loss=CrossEntropyLoss(),
                        optimizer=SGD(model.parameters(), lr=0.1), epochs=2,
                        metrics=["f1", "auc", TopKAccuracy(2)], validation_split=0.25, verbose=0,
                        rng=0)  # fmt: skip
    assert set(history.history) == {
        "loss", "f1", "auc", "top_2_accuracy", "val_loss", "val_f1", "val_auc",
        "val_top_2_accuracy",
    }  # fmt: skip
    assert history.params["greater_is_better"]["val_auc"] is True
    x_val = np.asarray(LOGITS)
    final = model.evaluate(x_val, LABELS, loss=CrossEntropyLoss(), metrics=["f1"])
    assert final["f1"] == pytest.approx(
        skm.f1_score(LABELS, model.predict(x_val).argmax(axis=1), average="macro")
    )
    regression = Sequential([Dense(4, 4, rng=0)])
    with pytest.raises(ValueError, match=r"AUC: 4 output columns of values are not class scores"):
        regression.evaluate(LOGITS, np.eye(4)[LABELS], loss=MSELoss(), metrics=["auc"])
