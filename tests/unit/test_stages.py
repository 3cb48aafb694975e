"""The stage plan, its approvers, and what every stage outcome writes into the model registry."""

from __future__ import annotations

import unicodedata

import pytest

from model_promotion.domain.errors import ConfigurationError, MetadataLimitExceeded, StageNotInPlan
from model_promotion.domain.stages import (
    APPROVAL_DESCRIPTION_MAX,
    DEFAULT_STAGES,
    STAGES_MAX,
    Outcome,
    approval_description,
    approval_status_after,
    metadata_value,
    parse_stage_approvers,
    parse_stages,
    promotion_attempt,
    promotion_ended,
    resume_position,
    stage_metadata_after,
)

STAGES = ("dev", "test", "uat", "prod")
PENDING = "PendingManualApproval"


JAVA_LINE_TERMINATORS = set("\n\r\u0085\u2028\u2029")


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# parse_stages


def test_sixteen_stages_fit_the_registrys_50_metadata_entries_and_are_allowed() -> None:
    # Given: 3 entries per stage (status, signed-by, signed-at): 16 stages write 48
    text = ",".join(f"stage{i}" for i in range(16))

    # When
    stages = parse_stages(text)

    # Then
    assert len(stages) == STAGES_MAX == 16


def test_seventeen_stages_are_a_configuration_error_naming_the_limit_and_why() -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        parse_stages(",".join(f"stage{i}" for i in range(17)))

    # Then
    message = str(raised.value)
    assert "17 stages" in message
    assert "at most 16" in message
    assert "CustomerMetadataProperties" in message
    assert "50" in message


def test_the_default_stage_list_parses_in_promotion_order() -> None:
    # When
    stages = parse_stages(",".join(DEFAULT_STAGES))

    # Then
    assert stages == ("dev", "test", "uat", "prod")


def test_whitespace_and_empty_items_around_stage_names_are_ignored() -> None:
    # When
    stages = parse_stages("  dev , test,\tuat ,, prod_eu-1 ,")

    # Then
    assert stages == ("dev", "test", "uat", "prod_eu-1")


@pytest.mark.parametrize("text", ["", "   ", ",", " , ,"])
def test_an_empty_stage_list_is_a_configuration_error(text: str) -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        parse_stages(text)

    # Then
    assert "empty" in str(raised.value)


@pytest.mark.parametrize(
    "bad",
    ["Dev", "1test", "-dev", "pr od", "uat!", "a" * 33, "prod/eu", "ü"],
)
def test_a_badly_formed_stage_name_is_a_configuration_error_that_names_it(bad: str) -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        parse_stages(f"dev,{bad},prod")

    # Then
    assert repr(bad) in str(raised.value)


def test_a_stage_name_of_32_characters_is_allowed() -> None:
    # When
    stages = parse_stages("a" * 32)

    # Then
    assert stages == ("a" * 32,)


def test_a_stage_listed_twice_is_a_configuration_error_that_names_it() -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        parse_stages("dev,test,dev,prod")

    # Then
    assert "dev" in str(raised.value)
    assert "more than once" in str(raised.value)


# parse_stage_approvers


def test_approvers_are_read_per_stage_with_several_addresses_each() -> None:
    # Given
    text = " dev = a@example.com ; test=b@example.com, c.d+ml@example.co.uk ;uat=e@example.com;prod=f@example.com; "

    # When
    approvers = parse_stage_approvers(text, STAGES)

    # Then
    assert approvers == {
        "dev": ("a@example.com",),
        "test": ("b@example.com", "c.d+ml@example.co.uk"),
        "uat": ("e@example.com",),
        "prod": ("f@example.com",),
    }


def test_a_stage_without_approvers_is_a_configuration_error_that_names_it() -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        parse_stage_approvers("dev=a@example.com;test=b@example.com", STAGES)

    # Then
    assert "uat, prod" in str(raised.value)


def test_approvers_for_a_stage_outside_the_plan_are_a_configuration_error_that_names_it() -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        parse_stage_approvers("dev=a@example.com;staging=b@example.com", ("dev",))

    # Then
    assert "'staging'" in str(raised.value)


@pytest.mark.parametrize("address", ["not-an-email", "a@b", "a b@example.com", "a@example.com=x", "@example.com"])
def test_an_approver_address_that_is_not_an_email_is_a_configuration_error_that_names_it(address: str) -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        parse_stage_approvers(f"dev=ok@example.com,{address}", ("dev",))

    # Then
    assert repr(address) in str(raised.value)
    assert "'dev'" in str(raised.value)


def test_a_stage_given_twice_is_a_configuration_error_that_names_it() -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        parse_stage_approvers("dev=a@example.com;dev=b@example.com", ("dev",))

    # Then
    assert "'dev'" in str(raised.value)
    assert "twice" in str(raised.value)


@pytest.mark.parametrize("addresses", ["", " ", ",", " , "])
def test_a_stage_with_an_empty_approver_list_is_a_configuration_error(addresses: str) -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        parse_stage_approvers(f"dev={addresses}", ("dev",))

    # Then
    assert "stage 'dev' has an empty approver list" in str(raised.value)


def test_an_approver_entry_without_an_equals_sign_is_a_configuration_error() -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        parse_stage_approvers("dev a@example.com", ("dev",))

    # Then
    assert "has no '='" in str(raised.value)


# stage_metadata_after

REGISTRANT_KEYS = {"RegistrantEmail": "ds@example.com", "team": "retention"}

# The registry as it stands when each stage is reached: earlier stages approved, this and later ones pending.
BEFORE = {
    "dev": {**REGISTRANT_KEYS},
    "test": {**REGISTRANT_KEYS, "dev": "Approved", "test": PENDING, "uat": PENDING, "prod": PENDING},
    "prod": {**REGISTRANT_KEYS, "dev": "Approved", "test": "Approved", "uat": "Approved", "prod": PENDING},
}


@pytest.mark.parametrize(
    ("outcome", "stage", "expected_stages"),
    [
        # first stage
        (Outcome.APPROVED, "dev", {"dev": "Approved", "test": PENDING, "uat": PENDING, "prod": PENDING}),
        (Outcome.REJECTED, "dev", {"dev": "Rejected"}),
        (Outcome.EXPIRED, "dev", {"dev": "Expired"}),
        (Outcome.FAILED, "dev", {"dev": "Failed"}),
        # a middle stage
        (Outcome.APPROVED, "test", {"dev": "Approved", "test": "Approved", "uat": PENDING, "prod": PENDING}),
        (Outcome.REJECTED, "test", {"dev": "Approved", "test": "Rejected", "uat": PENDING, "prod": PENDING}),
        (Outcome.EXPIRED, "test", {"dev": "Approved", "test": "Expired", "uat": PENDING, "prod": PENDING}),
        (Outcome.FAILED, "test", {"dev": "Approved", "test": "Failed", "uat": PENDING, "prod": PENDING}),
        # the last stage
        (Outcome.APPROVED, "prod", {"dev": "Approved", "test": "Approved", "uat": "Approved", "prod": "Approved"}),
        (Outcome.REJECTED, "prod", {"dev": "Approved", "test": "Approved", "uat": "Approved", "prod": "Rejected"}),
        (Outcome.EXPIRED, "prod", {"dev": "Approved", "test": "Approved", "uat": "Approved", "prod": "Expired"}),
        (Outcome.FAILED, "prod", {"dev": "Approved", "test": "Approved", "uat": "Approved", "prod": "Failed"}),
    ],
    ids=lambda v: v.value if isinstance(v, Outcome) else (v if isinstance(v, str) else None),
)
def test_a_stage_outcome_sets_its_stage_and_only_an_approval_opens_later_stages(
    outcome: Outcome, stage: str, expected_stages: dict[str, str]
) -> None:
    # Given
    current = BEFORE[stage]
    unchanged_copy = dict(current)

    # When
    metadata = stage_metadata_after(outcome, stage, STAGES, current)

    # Then
    ended = {} if outcome is Outcome.APPROVED else {"promotion-ended": f"{outcome.value} at {stage}"}
    assert metadata == {**REGISTRANT_KEYS, **expected_stages, **ended}
    assert current == unchanged_copy, "the caller's map must not be modified"


def test_an_approval_does_not_downgrade_a_later_stage_that_is_already_approved() -> None:
    # Given: a re-run of dev after uat had been approved
    current = {**REGISTRANT_KEYS, "dev": PENDING, "test": "Rejected", "uat": "Approved", "prod": "Expired"}

    # When
    metadata = stage_metadata_after(Outcome.APPROVED, "dev", STAGES, current)

    # Then
    assert metadata == {**REGISTRANT_KEYS, "dev": "Approved", "test": PENDING, "uat": "Approved", "prod": PENDING}


def test_a_stage_outside_the_plan_has_no_metadata_outcome() -> None:
    # When
    with pytest.raises(StageNotInPlan) as raised:
        stage_metadata_after(Outcome.APPROVED, "staging", STAGES, {})

    # Then
    assert "'staging'" in str(raised.value)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_a_signature_is_summarised_as_stage_signed_by_and_signed_at(outcome: Outcome) -> None:
    # When
    metadata = stage_metadata_after(
        outcome, "test", STAGES, BEFORE["test"], signed_by="Quinn Lead <qa.lead@example.com>", at="2026-11-21T14:05:09Z"
    )

    # Then
    assert metadata["test-signed-by"] == "Quinn Lead qa.lead@example.com"
    assert metadata["test-signed-at"] == "2026-11-21T14:05:09Z"
    assert "dev-signed-by" not in metadata


def test_without_a_signature_no_signed_keys_are_written_and_earlier_ones_are_kept() -> None:
    # Given: dev was signed earlier
    current = {**BEFORE["test"], "dev-signed-by": "Ann dev.lead@example.com", "dev-signed-at": "2026-11-20T09:00:00Z"}

    # When
    metadata = stage_metadata_after(Outcome.EXPIRED, "test", STAGES, current)

    # Then
    assert metadata["dev-signed-by"] == "Ann dev.lead@example.com"
    assert metadata["dev-signed-at"] == "2026-11-20T09:00:00Z"
    assert not {"test-signed-by", "test-signed-at"} & set(metadata)


def test_a_new_signature_of_a_stage_replaces_its_previous_one() -> None:
    # Given
    current = {**BEFORE["test"], "test-signed-by": "Old Signer", "test-signed-at": "2026-01-01T00:00:00Z"}

    # When
    metadata = stage_metadata_after(
        Outcome.APPROVED, "test", STAGES, current, signed_by="New", at="2026-11-21T14:05:09Z"
    )

    # Then
    assert (metadata["test-signed-by"], metadata["test-signed-at"]) == ("New", "2026-11-21T14:05:09Z")


def test_registrant_entries_that_would_push_the_metadata_past_50_are_refused_naming_the_limit() -> None:
    # Given: the registrant's own 45 entries; an approval at dev writes 6 (dev, its signature, 3 later stages)
    current = {f"team-key-{i}": "x" for i in range(45)}

    # When
    with pytest.raises(MetadataLimitExceeded) as raised:
        stage_metadata_after(Outcome.APPROVED, "dev", STAGES, current, signed_by="a@example.com", at="2026")

    # Then
    assert "51 entries" in str(raised.value)
    assert "allows 50" in str(raised.value)
    assert "45 set at registration" in str(raised.value)


def test_metadata_of_exactly_50_entries_is_written() -> None:
    # Given
    current = {f"team-key-{i}": "x" for i in range(44)}

    # When
    metadata = stage_metadata_after(Outcome.APPROVED, "dev", STAGES, current, signed_by="a@example.com", at="2026")

    # Then
    assert len(metadata) == 50


# metadata_value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("qa.lead@example.com", "qa.lead@example.com", id="email-kept"),
        pytest.param("2026-11-21T14:05:09Z", "2026-11-21T14:05:09Z", id="timestamp-kept"),
        pytest.param("a_b.c:d/e=f+g-h@i", "a_b.c:d/e=f+g-h@i", id="every-allowed-symbol-kept"),
        pytest.param("Quinn Lead <qa.lead@example.com>", "Quinn Lead qa.lead@example.com", id="angle-brackets"),
        pytest.param('O\'Brien, Seán (QA); "lead"', "O Brien Seán QA lead", id="punctuation-and-accents"),
        pytest.param("  many   spaces\tand\nlines  ", "many spaces and lines", id="whitespace-collapsed"),
        pytest.param("", "-", id="empty"),
        pytest.param("<>;", "-", id="nothing-left"),
        pytest.param("x" * 300, "x" * 256, id="cut-to-256"),
        pytest.param("a+b@example.com", "a+b@example.com", id="plus-address-kept"),
        pytest.param("O'Brien, Seán", "O Brien Seán", id="apostrophe-and-comma-dropped"),
        pytest.param("Zoë\u00a0Åberg", "Zoë Åberg", id="no-break-space-is-a-space"),
        pytest.param("\U0001d400" * 200, "\U0001d400" * 128, id="letters-beyond-the-bmp-count-twice"),
        pytest.param("x" * 255 + "\U0001d400", "x" * 255, id="no-surrogate-pair-split-at-the-limit"),
    ],
)
def test_a_metadata_value_keeps_only_what_sagemaker_allows(text: str, value: str) -> None:
    # Then
    assert metadata_value(text) == value


@pytest.mark.parametrize("text", ["Quinn <q@example.com>", "a\x00b\u200bc", "\u2028x;y|z{}[]`~!#$%^&*?'\"", "é" * 300])
def test_every_metadata_value_matches_sagemakers_pattern_and_length(text: str) -> None:
    # When
    value = metadata_value(text)

    # Then
    assert 1 <= len(value) <= 256
    assert all(c.isalnum() or c == " " or c in "_.:/=+-@" for c in value), value


def test_every_character_a_metadata_value_keeps_is_in_javas_letter_separator_or_number_classes() -> None:
    # Given: every code point of the Basic Multilingual Plane and the first supplementary one
    text = "".join(chr(c) for c in range(0x20000) if not 0xD800 <= c <= 0xDFFF)

    # When
    kept = {c for chunk in range(0, len(text), 200) for c in metadata_value(text[chunk : chunk + 200])}

    # Then: \p{L}, \p{Z} and \p{N} are Unicode general categories L*, Z* and N*
    assert {c for c in kept if unicodedata.category(c)[0] not in "LZN" and c not in "_.:/=+-@"} == set()


# approval_status_after


@pytest.mark.parametrize("current", [None, PENDING, "Approved", "Rejected"])
def test_an_approval_makes_the_version_approved_and_a_rejection_rejected(current: str | None) -> None:
    # When
    after_approval = approval_status_after(Outcome.APPROVED, current)
    after_rejection = approval_status_after(Outcome.REJECTED, current)

    # Then
    assert after_approval == "Approved"
    assert after_rejection == "Rejected"


@pytest.mark.parametrize("outcome", [Outcome.EXPIRED, Outcome.FAILED])
@pytest.mark.parametrize(
    ("current", "expected"),
    [(None, PENDING), (PENDING, PENDING), ("Approved", "Approved"), ("Rejected", "Rejected")],
)
def test_an_expiry_or_failure_keeps_the_approval_status(outcome: Outcome, current: str | None, expected: str) -> None:
    # When
    status = approval_status_after(outcome, current)

    # Then
    assert status == expected


# approval_description


def test_an_approval_description_says_who_did_what_at_which_stage_and_when() -> None:
    # When
    text = approval_description(Outcome.APPROVED, "test", "qa@example.com", "2026-11-21T14:05:09Z", "Fine by me")

    # Then
    assert text == "test approved by qa@example.com at 2026-11-21T14:05:09Z: Fine by me"


def test_an_approval_description_without_actor_or_comment_is_just_stage_outcome_and_time() -> None:
    # When
    text = approval_description(Outcome.EXPIRED, "uat", None, "2026-11-22T12:00:00Z", None)

    # Then
    assert text == "uat expired at 2026-11-22T12:00:00Z"


def test_a_long_approval_description_is_cut_to_1024_characters_with_an_ellipsis() -> None:
    # Given
    comment = "x" * 5000

    # When
    text = approval_description(Outcome.REJECTED, "prod", "cto@example.com", "2026-11-21T14:05:09Z", comment)

    # Then
    assert len(text) == APPROVAL_DESCRIPTION_MAX == 1024
    assert text.startswith("prod rejected by cto@example.com at 2026-11-21T14:05:09Z: xxx")
    assert text.endswith("x…")


@pytest.mark.parametrize("terminator", ["\n", "\r\n", "\r", "\u0085", "\u2028", "\u2029", "\n\n\t  "])
def test_an_approval_description_is_one_line_whatever_line_terminator_the_comment_holds(terminator: str) -> None:
    # Given
    comment = f"Recall is fine.{terminator}AUC  is   fine{terminator}"

    # When
    text = approval_description(Outcome.APPROVED, "test", "qa@example.com", "2026-11-21T14:05:09Z", comment)

    # Then: Java's '.*' matches it
    assert text == "test approved by qa@example.com at 2026-11-21T14:05:09Z: Recall is fine. AUC is fine"
    assert not JAVA_LINE_TERMINATORS & set(text)


def test_a_long_approval_description_is_cut_to_1024_utf16_code_units_without_splitting_a_surrogate_pair() -> None:
    # Given: letters beyond the BMP, two UTF-16 code units each, as Java counts them
    comment = "\U0001d400" * 1000

    # When
    text = approval_description(Outcome.REJECTED, "prod", "cto@example.com", "2026-11-21T14:05:09Z", comment)

    # Then
    assert _utf16(text) <= APPROVAL_DESCRIPTION_MAX
    assert _utf16(text) >= APPROVAL_DESCRIPTION_MAX - 1  # nothing cut beyond the pair that would not fit
    assert text.endswith("\U0001d400…")
    text.encode("utf-8")  # whole code points only: a split pair could not be encoded


def test_a_lone_surrogate_in_a_comment_cannot_reach_the_registry() -> None:
    # Given: JSON may carry one ("\ud800"); UTF-8 cannot
    text = approval_description(Outcome.APPROVED, "dev", None, "2026-11-21T14:05:09Z", "ok \ud800 fine")

    # Then
    assert text.encode("utf-8").decode("utf-8") == "dev approved at 2026-11-21T14:05:09Z: ok \ufffd fine"


def test_an_approval_description_of_exactly_1024_characters_is_kept_whole() -> None:
    # Given
    prefix = "prod rejected by cto@example.com at 2026-11-21T14:05:09Z: "
    comment = "y" * (APPROVAL_DESCRIPTION_MAX - len(prefix))

    # When
    text = approval_description(Outcome.REJECTED, "prod", "cto@example.com", "2026-11-21T14:05:09Z", comment)

    # Then
    assert text == prefix + comment
    assert len(text) == APPROVAL_DESCRIPTION_MAX


def test_an_ended_promotion_leaves_a_terminal_marker_that_the_next_approval_clears() -> None:
    # Given a promotion that expired at test
    expired = stage_metadata_after(Outcome.EXPIRED, "test", STAGES, BEFORE["test"])
    assert promotion_ended(expired) == "expired at test"

    # When a retried attempt gets test approved
    approved = stage_metadata_after(Outcome.APPROVED, "test", STAGES, {**expired, "promotion-attempt": "2"})

    # Then the marker is gone, the attempt count stays, and the retry resumes where it stopped
    assert promotion_ended(approved) is None
    assert promotion_attempt(approved) == 2
    assert resume_position(expired, STAGES) == 1
    assert resume_position(approved, STAGES) == 2


def test_a_cancellation_and_a_failure_mark_the_promotion_ended_with_the_stage() -> None:
    for outcome in (Outcome.CANCELLED, Outcome.FAILED, Outcome.GATE_FAILED, Outcome.REJECTED):
        metadata = stage_metadata_after(outcome, "test", STAGES, BEFORE["test"], at="2026-12-02T01:00:00Z")
        assert promotion_ended(metadata) == f"{outcome.value} at test 2026-12-02T01:00:00Z"


def test_a_garbled_attempt_count_reads_as_the_first_attempt() -> None:
    for value in ("", "0", "-3", "two", "1.5"):
        assert promotion_attempt({"promotion-attempt": value}) == 1
    assert promotion_attempt({"promotion-attempt": "7"}) == 7
