"""The batch scorer loads real model archives safely and scores the demo batches well."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import joblib
import pytest
from sklearn.dummy import DummyRegressor

from embedded_aws.demo_model import STAGES, DemoAssets, build_demo_assets, build_weaker_model_archive
from embedded_aws.sklearn_container import (
    ScoringError,
    format_predictions,
    load_model,
    parse_feature_rows,
    score_rows,
)
from model_promotion.domain.metrics import classification_metrics, parse_numeric_column


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> DemoAssets:
    return build_demo_assets(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def weak_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_weaker_model_archive(tmp_path_factory.mktemp("weak"))


def _archive(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    """Build a model.tar.gz in memory with arbitrary member names."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if symlink is not None:
            link = tarfile.TarInfo(symlink)
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            tar.addfile(link)
    return buffer.getvalue()


def _joblib_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def _stage_metrics(archive: Path, batch: tuple[Path, Path]) -> dict[str, float | None]:
    """Score a stage batch end to end, through the same text formats the pipeline uses."""
    input_path, labels_path = batch
    model = load_model(archive.read_bytes())
    output = format_predictions(score_rows(model, parse_feature_rows(input_path.read_text())))
    predictions = parse_numeric_column(output, what="predictions")
    labels = parse_numeric_column(labels_path.read_text(), what="labels")
    return classification_metrics(labels, predictions)


def test_demo_assets_hold_one_batch_of_inputs_and_labels_per_stage(assets: DemoAssets) -> None:
    # Given the demo assets
    # When / Then every stage has a 30-feature input batch and matching labels
    assert tuple(assets.batches) == STAGES
    for input_path, labels_path in assets.batches.values():
        rows = parse_feature_rows(input_path.read_text())
        labels = parse_numeric_column(labels_path.read_text(), what="labels")
        assert len(rows) == len(labels) > 50
        assert {len(row) for row in rows} == {30}
        assert set(labels) == {0.0, 1.0}


def test_demo_batches_are_disjoint_held_out_rows(assets: DemoAssets) -> None:
    # Given all stage batches
    batches = [parse_feature_rows(input_path.read_text()) for input_path, _ in assets.batches.values()]
    rows = [tuple(row) for batch in batches for row in batch]

    # Then no row is reused across stages
    assert len(rows) == len(set(rows))


@pytest.mark.parametrize("stage", STAGES)
def test_demo_model_scores_each_stage_batch_accurately(assets: DemoAssets, stage: str) -> None:
    # Given the demo model archive and a stage's batch
    # When the batch is scored and compared with its labels
    metrics = _stage_metrics(assets.model_archive, assets.batches[stage])

    # Then the model is genuinely good
    assert metrics["accuracy"] > 0.85
    assert metrics["roc_auc"] is not None
    assert metrics["roc_auc"] > 0.9


@pytest.mark.parametrize("stage", STAGES)
def test_weak_model_scores_lower_auc_than_the_demo_model(assets: DemoAssets, weak_archive: Path, stage: str) -> None:
    # Given both models and the same stage batch
    # When each scores the batch
    demo_auc = _stage_metrics(assets.model_archive, assets.batches[stage])["roc_auc"]
    weak_auc = _stage_metrics(weak_archive, assets.batches[stage])["roc_auc"]

    # Then the challenger is measurably worse
    assert demo_auc is not None
    assert weak_auc is not None
    assert weak_auc < demo_auc


def test_demo_assets_are_byte_identical_across_builds(assets: DemoAssets, tmp_path: Path) -> None:
    # Given a second build with the same seed
    rebuilt = build_demo_assets(tmp_path)

    # Then the archive and batches are identical, so the demo is reproducible
    assert rebuilt.model_archive.read_bytes() == assets.model_archive.read_bytes()
    for stage in STAGES:
        for original, again in zip(assets.batches[stage], rebuilt.batches[stage], strict=True):
            assert again.read_bytes() == original.read_bytes()


def test_load_model_accepts_a_dot_slash_member_name() -> None:
    # Given an archive written as `tar -C model -czf model.tar.gz .`
    archive = _archive({"./model.joblib": _joblib_bytes(DummyRegressor())})

    # When / Then
    assert isinstance(load_model(archive), DummyRegressor)


def test_load_model_rejects_an_archive_without_model_joblib() -> None:
    # Given an archive holding something else
    archive = _archive({"model.pkl": b"x", "code/model.joblib": b"nested"})

    # When / Then
    with pytest.raises(ScoringError, match=r"no model\.joblib at its root"):
        load_model(archive)


def test_load_model_rejects_a_blob_that_is_not_gzip() -> None:
    # When / Then
    with pytest.raises(ScoringError, match="not a readable gzip-compressed tar"):
        load_model(b"definitely not an archive")


def test_load_model_rejects_gzip_that_is_not_a_tar() -> None:
    # When / Then
    with pytest.raises(ScoringError, match="not a readable gzip-compressed tar"):
        load_model(gzip.compress(b"plain text, no tar header" * 40))


@pytest.mark.parametrize("name", ["../model.joblib", "/model.joblib", "safe/../../model.joblib"])
def test_load_model_rejects_path_traversal_members(name: str) -> None:
    # Given a member whose path escapes the archive root
    archive = _archive({name: _joblib_bytes(DummyRegressor())})

    # When / Then
    with pytest.raises(ScoringError, match="unsafe path"):
        load_model(archive)


def test_load_model_rejects_a_symlinked_model_member() -> None:
    # Given model.joblib as a symlink
    archive = _archive({}, symlink="model.joblib")

    # When / Then
    with pytest.raises(ScoringError, match="not a regular file"):
        load_model(archive)


def test_load_model_reports_an_unloadable_payload() -> None:
    # Given a model.joblib that is not a joblib pickle
    archive = _archive({"model.joblib": b"garbage"})

    # When / Then
    with pytest.raises(ScoringError, match=r"model\.joblib could not be loaded"):
        load_model(archive)


def test_score_rows_uses_predict_when_the_model_has_no_predict_proba() -> None:
    # Given a regressor that always predicts the training mean
    model = DummyRegressor().fit([[0.0], [1.0]], [2.0, 4.0])

    # When / Then
    assert score_rows(model, [[5.0], [6.0]]) == [3.0, 3.0]


def test_score_rows_rejects_an_empty_batch() -> None:
    # When / Then
    with pytest.raises(ScoringError, match="no rows to score"):
        score_rows(DummyRegressor(), [])


def test_parse_feature_rows_skips_blank_lines() -> None:
    # When / Then
    assert parse_feature_rows("1,2\n\n3, 4\r\n") == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("1,2\n3\n", "line 2 has 1 values, expected 2", id="ragged"),
        pytest.param("1,2\n\n3,x\n", r"line 3, column 2: 'x' is not a number", id="non-numeric"),
        pytest.param("1,2\n3,\n", r"line 2, column 2: '' is not a number", id="missing-value"),
        pytest.param("1,inf\n", r"line 1, column 2: 'inf' is not finite", id="infinite"),
        pytest.param("\n\n", "no rows", id="empty"),
    ],
)
def test_parse_feature_rows_names_the_offending_line(text: str, message: str) -> None:
    # When / Then
    with pytest.raises(ScoringError, match=message):
        parse_feature_rows(text)


def test_format_predictions_writes_repr_exact_values_one_per_line() -> None:
    # Given scores, including values that would lose precision with str() formatting in other languages
    values = [0.1, 1 / 3, 1.0, 2]

    # When / Then
    assert format_predictions(values) == "0.1\n0.3333333333333333\n1.0\n2.0\n"
