"""The promotion workflow end to end: real ASL in moto's interpreter, real handlers, real HTTP approvals."""

from __future__ import annotations

import json
import re
from itertools import pairwise

import pytest

from stack_helpers import REGISTRANT, log_text

pytestmark = pytest.mark.workflow

STAGES = ["dev", "test", "uat", "prod"]


def test_an_approved_version_is_promoted_through_every_stage_and_recorded_everywhere(promotion_factory):
    # Given a version registered as PendingManualApproval
    promotion = promotion_factory("happy")

    # When each stage's approver opens the emailed link and approves
    for stage in STAGES:
        answer = promotion.decide(stage, "approve", f"{stage} evidence reviewed")
        assert answer.status_code == 200
        assert "Recorded: approved" in answer.text
    result = promotion.finish()

    # Then the execution succeeded and the registry shows the version approved for every stage
    assert result["status"] == "SUCCEEDED"
    described = promotion.describe()
    assert described["ModelApprovalStatus"] == "Approved"
    assert {s: described["CustomerMetadataProperties"][s] for s in STAGES} == dict.fromkeys(STAGES, "Approved")
    assert described["CustomerMetadataProperties"]["RegistrantEmail"] == REGISTRANT
    assert described["ApprovalDescription"].startswith(
        f"prod approved by Priya Prod <{promotion.approvers('prod')[0]}> at "
    )
    assert described["CustomerMetadataProperties"]["prod-signed-by"] == promotion.approvers("prod")[0]

    # And SSM holds, per stage, the record an inference pipeline reads
    for stage in STAGES:
        record = promotion.ssm_record(stage)
        assert record is not None
        assert record["modelPackageArn"] == promotion.package_arn
        assert record["modelVersion"] == promotion.version
        assert record["stage"] == stage
        assert record["approvedBy"] == promotion.approvers(stage)[0]
        assert record["modelDataUrl"].endswith(f"{promotion.group}/model.tar.gz")
        assert record["approvedAt"].endswith("Z")

    # And the append-only audit log has one approval per stage, with the signer and comment
    entries = promotion.audit_entries()
    assert sorted((e["stage"], e["outcome"]) for e in entries) == sorted((s, "approved") for s in STAGES)
    assert all(e["comment"] == f"{e['stage']} evidence reviewed" for e in entries)

    # And the registrant heard of each approval, the next stage named, and of the finished promotion
    news = {
        m["subject"]: m["text"]
        for m in promotion.emails()
        if REGISTRANT in m["to"] and m["subject"].endswith(" was approved")
    }
    assert set(news) == {f"{promotion.group} version {promotion.version}: {s} was approved" for s in STAGES}
    assert "Next: test." in news[f"{promotion.group} version {promotion.version}: dev was approved"]
    assert "promoted through every stage" in news[f"{promotion.group} version {promotion.version}: prod was approved"]


def test_each_approval_email_after_the_first_carries_the_previous_stage_batch_metrics(promotion_factory):
    # Given a promotion approved through every stage
    promotion = promotion_factory("metrics")
    for stage in STAGES:
        promotion.decide(stage, "approve", "ok")
    promotion.finish()

    # Then the dev email says there are no batch results yet, and every later one shows real metrics
    assert "No batch results yet" in promotion.approval_email("dev")["text"]
    for previous, stage in pairwise(STAGES):
        text = promotion.approval_email(stage)["text"]
        assert f"Batch run on        {previous}" in text
        for label in ("Rows scored", "Accuracy", "Precision", "Recall", "F1", "ROC AUC"):
            assert label in text
        accuracy = float(text.split("Accuracy")[1].split()[0])
        assert 0.85 < accuracy <= 1.0

    # And the metrics JSON sits next to the predictions in S3
    s3 = promotion.stack.client("s3")
    bucket = promotion.stack.resources["BatchDataBucket"]
    prefix = promotion.stack.parameters["BatchOutputPrefix"]
    key = f"{prefix}/{promotion.group}/v{promotion.version}/dev/challenger/metrics.json"
    metrics = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert metrics["rowCount"] == 72 and metrics["problemType"] == "BinaryClassification"


def test_every_approver_of_a_stage_gets_a_link_of_their_own(promotion_factory):
    # Given a promotion that reached prod, which has two approvers in the local configuration
    promotion = promotion_factory("two-approvers")
    promotion.approve_until("prod")
    first, second = promotion.approvers("prod")

    # When the second approver approves with their own link
    links = {approver: promotion.link("prod", approver) for approver in (first, second)}
    assert links[first] != links[second]
    answer = promotion.stack.decide(links[second], "approve", "second approver signs", as_user=second)

    # Then their identity is what the records carry, and the first approver's link is spent
    assert answer.status_code == 200
    assert promotion.finish()["status"] == "SUCCEEDED"
    assert promotion.ssm_record("prod")["approvedBy"] == second
    late = promotion.stack.signed_in(first).get(links[first])
    assert late.status_code == 409
    assert second in late.text


@pytest.mark.parametrize("rejected_stage", STAGES)
def test_a_rejection_at_any_stage_ends_the_promotion_as_rejected(promotion_factory, rejected_stage):
    # Given a promotion approved up to the stage under test
    promotion = promotion_factory(f"reject-{rejected_stage}")
    promotion.approve_until(rejected_stage)

    # When that stage's approver rejects it with a reason
    answer = promotion.decide(rejected_stage, "reject", "Recall on the holdout is too low")
    result = promotion.finish()

    # Then the execution ends as a rejection, with the reason, not as a generic failure
    assert answer.status_code == 200 and "Recorded: rejected" in answer.text
    assert result["status"] == "FAILED"
    assert result["error"] == "ApprovalRejected"
    assert "Recall on the holdout is too low" in result["cause"]

    # And the registry shows the stage and the version rejected
    described = promotion.describe()
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["CustomerMetadataProperties"][rejected_stage] == "Rejected"

    # And SSM holds records for the earlier stages only
    earlier = STAGES[: STAGES.index(rejected_stage)]
    assert [s for s in STAGES if promotion.ssm_record(s)] == earlier

    # And the registrant is told, with the reason
    notice = next(m for m in promotion.emails() if m["subject"].endswith(f"{rejected_stage} was rejected"))
    assert notice["to"] == [REGISTRANT]
    assert "Recall on the holdout is too low" in notice["text"]
    assert "rejected" in [e["outcome"] for e in promotion.audit_entries()]


def test_a_second_decision_on_the_same_approval_is_refused_and_changes_nothing(promotion_factory):
    # Given a dev approval that the approver approved from the review page
    promotion = promotion_factory("double")
    link = promotion.link("dev")
    approver = promotion.stack.signed_in(promotion.approvers("dev")[0])
    target, csrf = promotion.stack.form_of(approver.get(link))
    assert approver.post(target, data={"decision": "approve", "comment": "first", "csrf": csrf}).status_code == 200
    promotion.approval_email("test")  # the workflow has moved on

    # When the same form is submitted again, to reject this time
    again = approver.post(target, data={"decision": "reject", "comment": "changed my mind", "csrf": csrf})

    # Then the answer is a clear 409 naming who decided, and nothing changed
    assert again.status_code == 409
    assert f"Dana Dev &lt;{promotion.approvers('dev')[0]}&gt;" in again.text
    assert "Traceback" not in again.text
    assert promotion.describe()["CustomerMetadataProperties"]["dev"] == "Approved"
    assert promotion.ssm_versions("dev") == 1
    [decision] = promotion.decisions()
    assert '"decision": "approve"' in decision["taskSucceededEventDetails"]["output"]


def test_mail_scanner_gets_and_heads_see_a_sign_in_page_and_change_nothing(promotion_factory):
    # Given a pending dev approval
    promotion = promotion_factory("scanner")
    email = promotion.approval_email("dev")

    # When a mail scanner fetches every link in the email, several times, with GET and HEAD
    links = promotion.stack.links(email)
    pages = [promotion.stack.http.get(link) for link in links for _ in range(3)]
    heads = [promotion.stack.http.head(link) for link in links for _ in range(3)]

    # Then it gets the sign-in page, uncached and without a Referer leak, which tells nothing of the model
    for page in pages:
        assert page.status_code == 401
        assert "Sign in to review this request" in page.text
        assert promotion.group not in page.text
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
    assert all(h.status_code == 401 and h.content == b"" for h in heads)

    # And nothing was decided
    assert not promotion.decisions()
    sfn = promotion.stack.client("stepfunctions")
    assert sfn.describe_execution(executionArn=promotion.execution_arn)["status"] == "RUNNING"
    assert promotion.describe()["ModelApprovalStatus"] == "PendingManualApproval"

    # And the real approver can still decide afterwards
    assert promotion.decide("dev", "approve", "after the scanner").status_code == 200


@pytest.mark.parametrize(
    "suffix",
    ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not-a-valid-id", "%3Cscript%3E", "x" * 300],
    ids=["unknown", "garbled", "markup", "long"],
)
def test_unknown_or_garbled_approval_ids_get_a_clear_404_once_signed_in(stack, suffix):
    # Given a signed-in approver, and an anonymous visitor
    approver = stack.signed_in("dana.dev@example.com")
    url = f"{stack.api_url}/approvals/{suffix}"

    # When each opens an approval id that does not exist
    anonymous = stack.http.get(url)
    signed_in = approver.get(url)

    # Then the visitor learns nothing (the same sign-in page as for real ids), the approver gets a 404
    assert anonymous.status_code == 401 and "Sign in" in anonymous.text
    assert signed_in.status_code == 404 and "Approval link not found" in signed_in.text
    assert "Traceback" not in anonymous.text + signed_in.text


def test_a_rejection_without_a_reason_is_refused_and_the_form_is_shown_again(promotion_factory):
    # Given a pending dev approval
    promotion = promotion_factory("no-reason")

    # When the approver rejects without writing a reason
    answer = promotion.decide("dev", "reject", "")

    # Then the review page comes back with the error, and the execution still waits
    assert answer.status_code == 400
    assert "A rejection needs a reason" in answer.text and "<form" in answer.text
    assert (
        promotion.stack.client("stepfunctions").describe_execution(executionArn=promotion.execution_arn)["status"]
        == "RUNNING"
    )


def test_a_missing_model_artifact_fails_the_promotion_with_the_reason(promotion_factory):
    # Given a version whose ModelDataUrl points at nothing
    promotion = promotion_factory("no-artifact", model_key="nowhere/model.tar.gz")

    # When dev is approved and batch inference tries to load the model
    promotion.decide("dev", "approve", "ok")
    result = promotion.finish()

    # Then the promotion fails with the reason, the registrant is told, and nothing is half-promoted
    assert result["status"] == "FAILED"
    assert result["error"] == "PromotionFailed"
    assert "model artifact" in result["cause"]
    notice = next(m for m in promotion.emails() if m["subject"].endswith("test failed"))
    assert "model artifact" in notice["text"]
    assert promotion.ssm_record("test") is None


def test_no_task_token_cookie_or_jwt_appears_in_any_email_page_or_log_line(promotion_factory, stack):
    # Given a promotion that went through every stage
    promotion = promotion_factory("secrets")
    pages = []
    for stage in STAGES:
        link = promotion.link(stage)
        approver = promotion.approvers(stage)[0]
        pages.append(promotion.stack.signed_in(approver).get(link).text)
        pages.append(promotion.stack.decide(link, "approve", "ok", as_user=approver).text)
    promotion.finish()

    # Then none of its task tokens, session cookies or JWTs is in an email, a page or the Lambda logs
    tokens = promotion.task_tokens()  # the approvals' and the batch transform jobs' tokens
    assert len(tokens) == len(STAGES) + len(STAGES) - 1
    sessions = [promotion.stack.signed_in(promotion.approvers(s)[0]).cookies["__Host-approval_session"] for s in STAGES]
    logs = log_text(stack)
    visible = json.dumps(promotion.emails()) + "".join(pages) + logs
    assert not [t for t in tokens if t in visible]
    assert not [c for c in sessions if c in logs]
    assert not re.search(r"eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}", logs)


def test_the_promotion_costs_at_most_twelve_state_transitions_per_stage(promotion_factory):
    # Given a promotion through every stage
    promotion = promotion_factory("transitions")
    for stage in STAGES:
        promotion.decide(stage, "approve", "ok")
    promotion.finish()

    # Then the history counts at most 12 state transitions per stage (the Step Functions bill)
    entered = [e for e in promotion.history() if e["type"].endswith("StateEntered")]
    assert len(entered) <= 12 * len(STAGES)
