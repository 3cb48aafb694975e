"""Build the demo's real model artifacts and per-stage batches at setup time.

The local demo promotes a genuine scikit-learn model, so the metrics shown to approvers come
from real inference rather than canned numbers. Everything is derived from the breast cancer
dataset bundled with scikit-learn (no download) and a seed, so repeated builds are identical.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

__all__ = [
    "STAGES",
    "WEAK_FEATURES",
    "DemoAssets",
    "build_demo_assets",
    "build_retrained_model_archive",
    "build_weaker_model_archive",
]

STAGES: tuple[str, ...] = ("dev", "test", "uat", "prod")

WEAK_FEATURES: tuple[str, ...] = ("mean texture", "mean smoothness")
"""Two weakly predictive features, so the challenger model is real but clearly worse."""

_HOLDOUT_FRACTION = 0.5
_MODEL_MEMBER = "model.joblib"


@dataclass(frozen=True)
class DemoAssets:
    """Paths of the built artifacts: the model archive and, per stage, (input.csv, labels.csv)."""

    model_archive: Path
    batches: dict[str, tuple[Path, Path]]


@dataclass(frozen=True)
class _Split:
    """Training rows and held-out rows; held-out rows are never seen during training."""

    train_features: np.ndarray
    train_labels: np.ndarray
    holdout_features: np.ndarray
    holdout_labels: np.ndarray
    feature_names: tuple[str, ...]


def build_demo_assets(out_dir: Path, *, seed: int = 7, stages: Sequence[str] = STAGES) -> DemoAssets:
    """Train the demo model, write out_dir/model.tar.gz and one held-out batch per stage.

    Batches are stratified folds of the held-out rows, so every stage sees both classes and
    its metrics are defined.
    """
    if not stages or len(set(stages)) != len(stages):
        raise ValueError(f"stages must be non-empty and unique, got {tuple(stages)!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    split = _split(seed)

    model = Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=1000))])
    model.fit(split.train_features, split.train_labels)
    archive = _write_model_archive(model, out_dir / "model.tar.gz")

    batches: dict[str, tuple[Path, Path]] = {}
    for stage, indices in zip(stages, _stage_indices(split.holdout_labels, len(stages), seed), strict=True):
        stage_dir = out_dir / "batches" / stage
        stage_dir.mkdir(parents=True, exist_ok=True)
        input_path = stage_dir / "input.csv"
        labels_path = stage_dir / "labels.csv"
        input_path.write_text(_features_csv(split.holdout_features[indices]), encoding="utf-8")
        labels_path.write_text(_labels_csv(split.holdout_labels[indices]), encoding="utf-8")
        batches[stage] = (input_path, labels_path)
    return DemoAssets(model_archive=archive, batches=batches)


def build_weaker_model_archive(out_dir: Path, *, seed: int = 7) -> Path:
    """Train a challenger on only two weak features and write out_dir/weak-model.tar.gz.

    It still accepts all 30 features, so it scores the same batches as the demo model and
    shows what a rejected, lower-quality version looks like.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    split = _split(seed)
    columns = [split.feature_names.index(name) for name in WEAK_FEATURES]
    model = Pipeline(
        [
            ("select", ColumnTransformer([("weak", StandardScaler(), columns)], remainder="drop")),
            ("classify", LogisticRegression(max_iter=1000)),
        ]
    )
    model.fit(split.train_features, split.train_labels)
    return _write_model_archive(model, out_dir / "weak-model.tar.gz")


def build_retrained_model_archive(out_dir: Path, *, seed: int = 7) -> Path:
    """A second version of the demo model, retrained with stronger regularisation: out_dir/model-v2.tar.gz.

    Close to the first version but not identical, so the champion comparison shows real differences.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    split = _split(seed)
    model = Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(C=0.05, max_iter=1000))])
    model.fit(split.train_features, split.train_labels)
    return _write_model_archive(model, out_dir / "model-v2.tar.gz")


def _split(seed: int) -> _Split:
    """Hold out a stratified share of the dataset; both models train on the same rows."""
    dataset = load_breast_cancer()
    train_x, holdout_x, train_y, holdout_y = train_test_split(
        dataset.data,
        dataset.target,
        test_size=_HOLDOUT_FRACTION,
        stratify=dataset.target,
        random_state=seed,
    )
    return _Split(
        train_features=train_x,
        train_labels=train_y,
        holdout_features=holdout_x,
        holdout_labels=holdout_y,
        feature_names=tuple(str(name) for name in dataset.feature_names),
    )


def _stage_indices(labels: np.ndarray, count: int, seed: int) -> list[np.ndarray]:
    """Partition held-out row indices into ``count`` stratified, disjoint batches."""
    if count == 1:
        return [np.arange(len(labels))]
    folds = StratifiedKFold(n_splits=count, shuffle=True, random_state=seed)
    return [np.sort(test) for _, test in folds.split(np.zeros((len(labels), 1)), labels)]


def _features_csv(features: np.ndarray) -> str:
    """Headerless CSV, repr-exact floats, as a batch transform input file."""
    return "".join(",".join(repr(float(value)) for value in row) + "\n" for row in features)


def _labels_csv(labels: np.ndarray) -> str:
    """One 0/1 label per line, as a ground-truth file."""
    return "".join(f"{int(label)}\n" for label in labels)


def _write_model_archive(model: BaseEstimator, path: Path) -> Path:
    """Write model.joblib into a gzip tar with fixed timestamps, so rebuilds are byte-identical."""
    payload = io.BytesIO()
    joblib.dump(model, payload)
    data = payload.getvalue()

    member = tarfile.TarInfo(_MODEL_MEMBER)
    member.size = len(data)
    member.mode = 0o644
    member.mtime = 0

    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.addfile(member, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return path
