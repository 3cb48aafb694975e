"""Batch transform between stages, with real predictions, and the quality gates that need no person."""

from __future__ import annotations

import json

import pytest

from embedded_aws.demo_model import build_weaker_model_archive
from stack_helpers import REGISTRANT, log_text, register

pytestmark = pytest.mark.workflow


def test_a_version_whose_registered_metrics_fail_the_gate_is_rejected_before_anyone_is_asked(
    stack, demo_assets, tmp_path
):
    # Given a weak model registered with its own (honest) evaluation metrics
    promotion = register(stack, demo_assets, "gate-registered", archive=build_weaker_model_archive(tmp_path))

    # When the promotion starts
    result = promotion.finish()

    # Then the quality gate rejects it with its reasons, and no approver was asked
    assert result["status"] == "FAILED" and result["error"] == "QualityGateFailed"
    assert "accuracy" in result["cause"] and "is below the minimum 0.9" in result["cause"]
    assert not [m for m in promotion.emails() if m["subject"].startswith("Approval needed")]
    described = promotion.describe()
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["CustomerMetadataProperties"]["dev"] == "Rejected"
    assert "rejected by the quality gate" in described["ApprovalDescription"]
    [entry] = promotion.audit_entries()
    assert entry["outcome"] == "gate-failed" and "below the minimum" in entry["reason"]
    notice = next(m for m in promotion.emails() if m["subject"].endswith("was rejected by the quality gate"))
    assert notice["to"] == [REGISTRANT] and "below the minimum" in notice["text"]


def test_a_version_registered_without_metrics_fails_the_gate_saying_no_metrics_were_registered(stack, demo_assets):
    promotion = register(stack, demo_assets, "gate-missing", with_metrics=False)

    result = promotion.finish()

    assert result["error"] == "QualityGateFailed"
    assert "no metrics were registered with this version; the gate needs accuracy, roc_auc" in result["cause"]
    assert "was not computed" not in result["cause"]
    notice = next(m for m in promotion.emails() if m["subject"].endswith("was rejected by the quality gate"))
    assert "no metrics were registered with this version" in notice["text"]


def test_a_batch_below_threshold_rejects_the_version_for_the_next_stage(stack, demo_assets, tmp_path):
    # Given a weak model registered with a strong model's metrics: it passes the registered gate
    promotion = register(
        stack,
        demo_assets,
        "gate-batch",
        archive=build_weaker_model_archive(tmp_path),
        metrics_of=demo_assets.model_archive,
    )

    # When dev approves and its batch is scored for real
    assert promotion.decide("dev", "approve", "looked fine on paper").status_code == 200
    result = promotion.finish()

    # Then the real predictions fail the batch gate, and the version is rejected for test with the reasons
    assert result["error"] == "QualityGateFailed"
    assert "test rejected by the quality gate" in result["cause"]
    assert "below the minimum" in result["cause"]
    described = promotion.describe()
    assert described["CustomerMetadataProperties"]["dev"] == "Approved"
    assert described["CustomerMetadataProperties"]["test"] == "Rejected"
    assert described["ModelApprovalStatus"] == "Rejected"
    assert promotion.ssm_record("dev") is not None and promotion.ssm_record("test") is None
    assert not [m for m in promotion.emails() if m["subject"].endswith("for test")]


def test_each_stage_is_scored_by_a_transform_job_that_really_ran_the_model(promotion_factory):
    # Given a version approved for dev
    promotion = promotion_factory("transform")
    promotion.decide("dev", "approve", "ok")
    promotion.approval_email("test")

    # Then a transform job named for the execution ran the registered model on dev's batch
    sagemaker = promotion.stack.client("sagemaker")
    names = [j["TransformJobName"] for j in sagemaker.list_transform_jobs(MaxResults=100)["TransformJobSummaries"]]
    [name] = [n for n in names if n.startswith(f"mp-{promotion.group}-v{promotion.version}-dev-chall")]
    job = sagemaker.describe_transform_job(TransformJobName=name)
    assert job["TransformJobStatus"] == "Completed"
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"].endswith("/dev/input.csv")
    assert job["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1}
    model = sagemaker.describe_model(ModelName=job["ModelName"])
    assert model["Containers"][0]["ModelPackageName"] == promotion.package_arn

    # And its output holds one prediction per input row, which the metrics were computed from
    s3 = promotion.stack.client("s3")
    output = job["TransformOutput"]["S3OutputPath"] + "/input.csv.out"
    bucket, key = output.removeprefix("s3://").split("/", 1)
    predictions = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().split()
    assert len(predictions) == 72 and all(0.0 <= float(p) <= 1.0 for p in predictions)

    # And the metrics went to CloudWatch as EMF, dimensioned by model group and stage
    emf = [json.loads(line) for line in log_text(promotion.stack).splitlines() if line.startswith('{"_aws"')]
    batch = [e for e in emf if e.get("modelPackageGroup") == promotion.group and "Batch_roc_auc" in e]
    assert batch and batch[0]["stage"] == "dev"
    assert ["modelPackageGroup", "stage", "service"] in batch[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def test_a_failed_transform_job_fails_the_stage_with_sagemakers_reason(promotion_factory):
    # Given a version whose artifact is missing, registered with good metrics
    promotion = promotion_factory("transform-failed", model_key="missing/model.tar.gz")

    # When dev approves and the transform job runs
    promotion.decide("dev", "approve", "ok")
    result = promotion.finish()

    # Then the next stage (the one the scoring was for) fails with the job's FailureReason, in the execution
    # and the registrant's notice, while dev stays approved, as SSM says
    assert result["error"] == "PromotionFailed"
    assert "TransformJobFailed" in result["cause"] and "does not exist" in result["cause"]
    notice = next(m for m in promotion.emails() if m["subject"].endswith("test failed"))
    assert "does not exist" in notice["text"]
    metadata = promotion.describe()["CustomerMetadataProperties"]
    assert (metadata["dev"], metadata["test"]) == ("Approved", "Failed")
    assert promotion.ssm_record("dev")["modelVersion"] == promotion.version


def test_a_stopped_transform_job_fails_the_stage(slow_transform_stack, demo_assets):
    # Given a version approved for dev on a stack whose transform jobs take a few seconds
    promotion = register(slow_transform_stack, demo_assets, "transform-stopped")
    promotion.decide("dev", "approve", "ok")
    sagemaker = slow_transform_stack.client("sagemaker")

    def running_job():
        summaries = sagemaker.list_transform_jobs(MaxResults=100)["TransformJobSummaries"]
        return next(
            (
                s["TransformJobName"]
                for s in summaries
                if s["TransformJobName"].startswith(f"mp-{promotion.group}") and s["TransformJobStatus"] == "InProgress"
            ),
            None,
        )

    # When an operator stops the running job
    name = slow_transform_stack.wait_for("a running transform job", running_job, timeout=30)
    sagemaker.stop_transform_job(TransformJobName=name)
    result = promotion.finish()

    # Then the stage fails as stopped, and nothing is promoted further
    assert result["error"] == "PromotionFailed"
    assert "TransformJobStopped" in result["cause"]
    assert sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "Stopped"
    assert promotion.ssm_record("test") is None
