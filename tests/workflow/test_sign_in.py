"""Approvers sign in; only a member of the stage's group who did not register the version may decide.

The registrant is whoever SageMaker's CreatedBy names: here the registrant registers through an IAM Identity
Center session named with her Cognito user name, the only kind of identifier the pages match on."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from embedded_aws.demo_model import build_retrained_model_archive
from embedded_aws.demo_users import OUTSIDER
from stack_helpers import REGISTRANT, SESSION_COOKIE, cognito_username, log_text, register

pytestmark = pytest.mark.workflow


def _nothing_decided(promotion) -> bool:
    return not promotion.decisions()


@pytest.mark.parametrize(
    ("who", "why"),
    [
        (REGISTRANT, "You registered"),
        ("theo.test@example.com", "not in the approvers-dev group"),
        (OUTSIDER, "not in the approvers-dev group"),
    ],
    ids=["registrant", "other-stage-approver", "no-group"],
)
def test_only_a_stage_approver_who_did_not_register_the_version_may_decide(stack, promotion_factory, who, why):
    # Given a pending dev approval of a version that dana.scientist registered (she is also a dev approver)
    promotion = promotion_factory("refused", registered_as=cognito_username(stack, REGISTRANT))
    link = promotion.link("dev")

    # When someone not allowed to decide opens the link and tries to approve
    session = promotion.stack.signed_in(who)
    page = session.get(link)
    answer = promotion.stack.decide(link, "approve", "let me through", as_user=who)

    # Then both get a clear 403 saying why, and nothing changes
    assert page.status_code == 403 and answer.status_code == 403
    assert why in page.text
    assert _nothing_decided(promotion)
    assert promotion.describe()["ModelApprovalStatus"] == "PendingManualApproval"


@pytest.mark.parametrize(
    ("change", "headers"),
    [
        ("no-token", {}),
        ("other-approvals-token", {}),
        ("cross-site", {"Sec-Fetch-Site": "cross-site"}),
        ("foreign-origin", {"Origin": "https://evil.example"}),
    ],
)
def test_a_forged_decision_post_is_refused_and_changes_nothing(promotion_factory, change, headers):
    # Given a signed-in dev approver, and the review pages of two pending approvals
    promotion = promotion_factory(f"csrf-{change}")
    other = promotion_factory(f"csrf-other-{change}")
    session = promotion.stack.signed_in(promotion.approvers("dev")[0])
    target, csrf = promotion.stack.form_of(session.get(promotion.link("dev")))
    _, other_csrf = promotion.stack.form_of(session.get(other.link("dev")))

    # When a post arrives without the page's token, with another page's token, or from another site
    form = {"decision": "approve", "comment": "forged"}
    if change == "other-approvals-token":
        form["csrf"] = other_csrf
    elif change != "no-token":
        form["csrf"] = csrf
    answer = session.post(target, data=form, headers=headers)

    # Then it is refused with 403 and nothing changes
    assert answer.status_code == 403
    assert _nothing_decided(promotion)


def test_a_tampered_approval_id_is_not_found(promotion_factory):
    promotion = promotion_factory("tampered")
    link = promotion.link("dev")
    tampered = link[:-1] + ("A" if link[-1] != "A" else "B")

    answer = promotion.stack.signed_in(promotion.approvers("dev")[0]).get(tampered)

    assert answer.status_code == 404
    assert _nothing_decided(promotion)


def test_an_invalid_session_cookie_signs_the_person_out(stack, promotion_factory):
    promotion = promotion_factory("bad-cookie")
    link = promotion.link("dev")
    stack.http.cookies.set(SESSION_COOKIE, "eyJhbGciOiJSUzI1NiJ9.e30.forged")

    answer = stack.http.get(link)
    stack.http.cookies.clear()

    assert answer.status_code == 401 and "Sign in" in answer.text
    assert f"{SESSION_COOKIE}=;" in answer.headers.get("Set-Cookie", "")


def test_ten_simultaneous_decisions_record_exactly_one(promotion_factory):
    # Given a pending prod approval, and both prod approvers on the review page, five tabs each
    promotion = promotion_factory("race")
    promotion.approve_until("prod")
    first, second = promotion.approvers("prod")
    posts = []
    for approver in [first, second] * 5:
        session = promotion.stack.signed_in(approver)
        target, csrf = promotion.stack.form_of(session.get(promotion.link("prod", approver)))
        posts.append((session, target, csrf, approver))

    # When all ten submit at the same moment
    def submit(post):
        session, target, csrf, approver = post
        return session.post(target, data={"decision": "approve", "comment": f"{approver} races", "csrf": csrf})

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(submit, posts))

    # Then exactly one decision is recorded; every other click is told it was already decided
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 9
    assert promotion.finish()["status"] == "SUCCEEDED"
    prod_entries = [e for e in promotion.audit_entries() if e["stage"] == "prod"]
    assert len(prod_entries) == 1
    assert promotion.ssm_versions("prod") == 1


def test_the_signed_decision_shows_in_the_audit_log_the_registry_and_the_execution_history(promotion_factory):
    # Given a dev approver who signs in and approves with a comment
    promotion = promotion_factory("signature")
    answer = promotion.decide("dev", "approve", "Holdout AUC is fine")
    promotion.approval_email("test")

    # Then the audit record carries the printed name, email, time, meaning, comment and version
    assert answer.status_code == 200 and "Dana Dev &lt;dana.dev@example.com&gt;" in answer.text
    [entry] = promotion.audit_entries()
    assert entry["actorName"] == "Dana Dev"
    assert entry["actor"] == "dana.dev@example.com"
    assert entry["meaning"] == "approved for dev"
    assert entry["comment"] == "Holdout AUC is fine"
    assert entry["modelVersion"] == promotion.version
    assert entry["at"].endswith("Z") and entry["identitySource"] == "cognito"

    # And the registry summarises it
    described = promotion.describe()
    assert described["ApprovalDescription"].startswith("dev approved by Dana Dev <dana.dev@example.com> at ")
    assert described["CustomerMetadataProperties"]["dev-signed-by"] == "dana.dev@example.com"
    assert described["CustomerMetadataProperties"]["dev-signed-at"] == entry["at"]

    # And the execution history shows it as the approval task's output
    outputs = [
        json.loads(e["taskSucceededEventDetails"]["output"])
        for e in promotion.history()
        if e["type"] == "TaskSucceeded" and "decision" in e["taskSucceededEventDetails"]["output"]
    ]
    assert outputs[0]["approverName"] == "Dana Dev" and outputs[0]["meaning"] == "approved for dev"

    # And the approval pages' log lines name the model, version, stage and execution they served
    served = [
        json.loads(line)
        for line in log_text(promotion.stack).splitlines()
        if '"approval page served"' in line and f'"model_package_group":"{promotion.group}"' in line
    ]
    assert served and all(
        (e["model_version"], e["stage"], e["execution_arn"]) == (promotion.version, "dev", promotion.execution_arn)
        for e in served
    )


def test_the_approval_email_has_text_and_html_and_names_what_is_being_approved(promotion_factory):
    promotion = promotion_factory("email")
    email = promotion.approval_email("dev")

    assert email["subject"] == f"Approval needed: {promotion.group} version {promotion.version} for dev"
    for part in (email["text"], email["html"]):
        assert promotion.package_arn in part
        assert "model.tar.gz" in part
        assert REGISTRANT in part or "fake-user-profile-name" in part
        assert "expires at" in part
    assert len(promotion.stack.links(email)) == 1


def test_the_next_version_is_shown_beside_the_version_approved_now(promotion_factory, stack, demo_assets, tmp_path):
    # Given version 1 of a group approved through test (so its test record carries dev's batch metrics)
    first = promotion_factory("champion")
    first.decide("dev", "approve", "v1 dev")
    first.decide("test", "approve", "v1 test")
    first.approval_email("uat")

    # When version 2 of the same group, retrained, reaches its test approval
    second = register(
        stack, demo_assets, "champion", group=first.group, archive=build_retrained_model_archive(tmp_path)
    )
    second.decide("dev", "approve", "v2 dev")
    email = second.approval_email("test")

    # Then its email shows version 1 as approved for test now, both scored on the same dev batch, side by side
    assert "Version 1 is approved for test now (by Theo Test at " in email["text"]
    assert "Both versions were scored on the same dev batch." in email["text"]
    assert "this version" in email["text"] and "version 1" in email["text"]
    assert "<th>Version 1</th>" in email["html"]
    page = stack.signed_in(second.approvers("test")[0]).get(second.link("test"))
    assert "Version 1 is approved for test now" in page.text and "<th>Version 1</th>" in page.text
