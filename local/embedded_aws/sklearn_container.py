"""The embedded AWS's stand-in for SageMaker's scikit-learn serving container, as a batch transform uses it.

It loads model.joblib from the model.tar.gz a model package names and scores a headerless CSV, one
prediction per line: the text/csv shape the real container returns. Pure functions over bytes and text.
"""

from __future__ import annotations

import csv
import io
import math
import tarfile
import zlib
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import joblib

__all__ = [
    "MODEL_MEMBER",
    "ScoringError",
    "format_predictions",
    "load_model",
    "parse_feature_rows",
    "score_rows",
]

MODEL_MEMBER = "model.joblib"
"""Name of the serialised estimator at the root of model.tar.gz, per the SageMaker convention."""


class ScoringError(ValueError):
    """Raised for an unusable model artifact or input batch, with a message fit for an operator."""


def load_model(archive: bytes) -> Any:
    """Load the estimator from model.tar.gz bytes without extracting anything to disk.

    Only a regular-file member at the archive root is accepted, so absolute paths, ``..``
    traversal and links are refused. Loading unpickles, so the archive must come from a
    trusted source such as the model registry.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            member = _model_member(tar)
            stream = tar.extractfile(member)
            if stream is None:
                raise ScoringError(f"{MODEL_MEMBER} in the model archive is not readable")
            payload = stream.read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ScoringError(f"model archive is not a readable gzip-compressed tar: {exc}") from exc
    try:
        return joblib.load(io.BytesIO(payload))
    except Exception as exc:
        raise ScoringError(f"{MODEL_MEMBER} could not be loaded: {type(exc).__name__}: {exc}") from exc


def parse_feature_rows(csv_text: str) -> list[list[float]]:
    """Parse a headerless numeric CSV with one row per line, all rows the same width.

    Blank lines are skipped; errors name the 1-based line so the bad record can be found.
    """
    rows: list[list[float]] = []
    width = 0
    for line_number, line in enumerate(csv_text.removeprefix("\ufeff").splitlines(), start=1):
        if not line.strip():
            continue
        fields = next(csv.reader([line]))
        row: list[float] = []
        for column, field in enumerate(fields, start=1):
            try:
                value = float(field)
            except ValueError:
                raise ScoringError(f"line {line_number}, column {column}: {field.strip()!r} is not a number") from None
            if not math.isfinite(value):
                raise ScoringError(f"line {line_number}, column {column}: {field.strip()!r} is not finite")
            row.append(value)
        if not rows:
            width = len(row)
        elif len(row) != width:
            raise ScoringError(f"line {line_number} has {len(row)} values, expected {width} like the first row")
        rows.append(row)
    if not rows:
        raise ScoringError("input batch contains no rows")
    return rows


def score_rows(model: Any, rows: Sequence[Sequence[float]]) -> list[float]:
    """Score rows: positive-class probability for classifiers, the prediction otherwise.

    Probabilities rather than hard labels are returned so threshold-free metrics such as ROC
    AUC can be computed downstream.
    """
    if len(rows) == 0:
        raise ScoringError("no rows to score")
    if hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(rows)
        if len(probabilities[0]) != 2:
            raise ScoringError(f"expected a binary classifier with 2 probability columns, got {len(probabilities[0])}")
        scores = [float(row[1]) for row in probabilities]
    else:
        scores = [float(value) for value in model.predict(rows)]
    if len(scores) != len(rows):
        raise ScoringError(f"model returned {len(scores)} scores for {len(rows)} rows")
    return scores


def format_predictions(values: Sequence[float]) -> str:
    """Render one value per line, repr-exact, as SageMaker's scikit-learn container writes text/csv."""
    return "".join(f"{float(value)!r}\n" for value in values)


def _model_member(tar: tarfile.TarFile) -> tarfile.TarInfo:
    """Find the single safe ``model.joblib`` member at the archive root."""
    found: tarfile.TarInfo | None = None
    for member in tar.getmembers():
        path = PurePosixPath(member.name)
        if path.name != MODEL_MEMBER:
            continue
        if path.is_absolute() or ".." in path.parts:
            raise ScoringError(f"model archive member {member.name!r} has an unsafe path")
        if path.parts != (MODEL_MEMBER,):
            continue
        if not member.isfile():
            raise ScoringError(f"model archive member {member.name!r} is not a regular file")
        if found is not None:
            raise ScoringError(f"model archive contains {MODEL_MEMBER} more than once")
        found = member
    if found is None:
        raise ScoringError(f"model archive has no {MODEL_MEMBER} at its root")
    return found
