"""The audit log's hash chain (domain/audit_chain.py): how entries are linked, what their hash covers, and
that `verify` names the first broken link for every kind of break; then `audit verify` as a use case and
as the operators' CLI runs it."""

from __future__ import annotations

import copy
import hashlib
import io
import json
from collections.abc import Mapping
from typing import Any

import pytest

from model_promotion import cli
from model_promotion.domain.audit_chain import GENESIS_HASH, canonical, chain, entry_hash, verify
from model_promotion.ports import DecisionLog
from model_promotion.services.operations import NotFound, verify_audit_log

GROUP = "churn-model"


def entry(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "modelPackageGroupName": GROUP,
        "entryKey": f"2026-11-21T12:00:{n:02d}Z#v{n:08d}#dev#approved",
        "modelVersion": n,
        "stage": "dev",
        "outcome": "approved",
        "at": f"2026-11-21T12:00:{n:02d}Z",
        "actor": "dana.dev@example.com",
        "comment": f"version {n} looks right",
        **fields,
    }


def chained(count: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        entries.append(chain(entries[-1] if entries else None, entry(n)))
    return entries


def rehash(altered: dict[str, Any]) -> dict[str, Any]:
    """What someone who knows the scheme does after altering an entry: recompute its own hash."""
    return {**altered, "entryHash": entry_hash(altered)}


# Linking


def test_the_first_entry_starts_the_chain_and_each_next_names_the_hash_of_the_one_before():
    first, second, third = chained(3)
    assert (first["sequence"], first["previousHash"]) == (1, GENESIS_HASH)
    assert (second["sequence"], second["previousHash"]) == (2, first["entryHash"])
    assert (third["sequence"], third["previousHash"]) == (3, second["entryHash"])
    assert len({first["entryHash"], second["entryHash"], third["entryHash"]}) == 3


def test_the_hash_is_sha256_of_every_other_field_as_sorted_compact_utf8_json():
    linked = chain(None, entry(1, comment="geprüft ✓"))
    body = {k: v for k, v in linked.items() if k != "entryHash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical(linked) == text and "geprüft ✓" in text and "previousHash" in text and '"sequence":1' in text
    assert linked["entryHash"] == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_numbers_hash_as_dynamodb_gives_them_back_and_top_level_nulls_as_absent():
    # DynamoDB keeps a number's value, not its spelling, and the decision log drops null attributes.
    written = entry(1, evidence={"accuracy": 1.0, "auc": 0.9583, "large": 1e23, "inner": None}, reason=None)
    read_back = {k: v for k, v in written.items() if v is not None}
    read_back["evidence"] = {"accuracy": 1, "auc": 0.9583, "large": 10**23, "inner": None}
    assert canonical(written) == canonical(read_back)
    assert '"accuracy":1,' in canonical(written) and '"inner":null' in canonical(written)
    assert '"reason"' not in canonical(written)


def test_a_value_json_cannot_carry_is_refused_rather_than_hashed():
    with pytest.raises(ValueError, match="nan"):
        chain(None, entry(1, evidence={"accuracy": float("nan")}))
    with pytest.raises(ValueError, match="set"):
        chain(None, entry(1, evidence={"tags": {"a"}}))


def test_linking_is_a_function_of_the_entry_and_its_predecessor_so_a_retry_gets_the_same_hash():
    first = chain(None, entry(1))
    again = chain(None, {**entry(1), "sequence": 9, "previousHash": "f" * 64, "entryHash": "e" * 64})
    assert again == first
    with pytest.raises(ValueError, match="no chain position"):
        chain({"entryKey": "legacy"}, entry(2))


# Verifying


def test_an_unaltered_chain_verifies_with_its_count_and_last_hash_in_any_order():
    entries = chained(4)
    verdict = verify(reversed(entries))
    assert verdict.ok and verdict.broken is None
    assert (verdict.count, verdict.last_sequence, verdict.last_hash) == (4, 4, entries[-1]["entryHash"])
    assert verdict.to_dict() == {
        "ok": True,
        "entries": 4,
        "lastSequence": 4,
        "lastHash": entries[-1]["entryHash"],
        "broken": None,
    }
    assert verify([]).ok and verify([]).count == 0


def test_an_entry_altered_in_place_is_named_as_altered():
    entries = chained(5)
    entries[2]["comment"] = "approved, no concerns"
    broken = verify(entries).broken
    assert broken is not None and (broken.kind, broken.sequence) == ("altered", 3)
    assert broken.entry_key == entries[2]["entryKey"]
    assert broken.message == f"entry 3 ({entries[2]['entryKey']}) was altered: its hash does not match its content"


def test_an_entry_altered_and_rehashed_breaks_the_link_of_the_entry_after_it():
    entries = chained(5)
    entries[2] = rehash({**entries[2], "actor": "mallory@example.com"})
    broken = verify(entries).broken
    assert broken is not None and (broken.kind, broken.sequence) == ("relinked", 4)
    assert broken.message == (
        f"entry 4 ({entries[3]['entryKey']}) follows a missing or altered entry: previousHash does not match entry 3"
    )


def test_a_removed_entry_is_a_jump_in_the_sequence():
    entries = chained(5)
    del entries[3]
    broken = verify(entries).broken
    assert broken is not None and (broken.kind, broken.sequence) == ("gap", 5)
    assert broken.message == "sequence jumps from 3 to 5: entry 4 is missing"
    two_gone = chained(6)
    del two_gone[2:4]
    assert verify(two_gone).broken.message == "sequence jumps from 2 to 5: entries 3 to 4 are missing"


def test_a_removed_entry_renumbered_away_still_breaks_a_link():
    entries = chained(5)
    del entries[2]
    for later in entries[2:]:
        later.update(sequence=later["sequence"] - 1)
    entries[2:] = [rehash(e) for e in entries[2:]]
    broken = verify(entries).broken
    assert broken is not None and (broken.kind, broken.sequence) == ("relinked", 3)


def test_a_chain_without_its_first_entry_says_where_it_starts():
    entries = chained(3)[1:]
    broken = verify(entries).broken
    assert broken is not None and broken.kind == "gap"
    assert (
        broken.message == f"the chain starts at entry 2 ({entries[0]['entryKey']}), not at entry 1: entry 1 is missing"
    )


def test_a_first_entry_that_does_not_start_from_the_genesis_hash_is_named():
    forged = rehash({**chain(None, entry(1)), "previousHash": "a" * 64})
    assert verify([forged]).broken.message.endswith("its previousHash is not the genesis hash (64 zeros)")


def test_two_entries_claiming_one_position_are_named():
    entries = chained(3)
    intruder = rehash({**copy.deepcopy(entries[1]), "entryKey": "2026-11-21T12:00:02Z#v00000002#dev#rejected"})
    broken = verify([*entries, intruder]).broken
    assert broken is not None and (broken.kind, broken.sequence) == ("duplicate", 2)
    assert "two entries claim sequence 2" in broken.message


def test_an_entry_written_around_the_chain_is_named():
    entries = chained(2)
    forged = entry(9)  # no sequence, no hashes: a PutItem straight into the table
    broken = verify([*entries, forged]).broken
    assert broken is not None and (broken.kind, broken.entry_key) == ("unchained", forged["entryKey"])
    assert "is not part of the chain" in broken.message


def test_only_the_first_broken_link_is_named():
    entries = chained(6)
    entries[4]["comment"] = "later change"
    entries[1]["comment"] = "earlier change"
    assert verify(entries).broken.sequence == 2


def test_the_head_catches_a_removed_or_replaced_newest_entry_which_the_chain_alone_cannot():
    entries = chained(4)
    head = {"sequence": 4, "entryHash": entries[-1]["entryHash"], "chainedEntryKey": entries[-1]["entryKey"]}
    assert verify(entries, head).ok
    # The newest removed: the rest is a valid chain of three
    assert verify(entries[:3]).ok
    assert verify(entries[:3], head).broken.message == (
        "the chain's head is entry 4, but the log ends at entry 3: entry 4 is missing"
    )
    # The newest altered and re-hashed: nothing after it to notice
    replaced = [*entries[:3], rehash({**entries[3], "comment": "rewritten"})]
    assert verify(replaced).ok
    broken = verify(replaced, head).broken
    assert broken is not None and (broken.kind, broken.sequence) == ("head", 4)
    assert broken.message.endswith("was replaced: the chain's head records another hash for it")
    # Everything removed
    assert verify([], head).broken.message == (
        "the chain's head is entry 4, but the log holds no entry: entries 1 to 4 are missing"
    )


def test_an_entry_appended_after_the_head_was_read_is_not_a_break():
    entries = chained(5)
    head_read_first = {"sequence": 4, "entryHash": entries[3]["entryHash"]}
    assert verify(entries, head_read_first).ok


# The use case and the CLI


class ChainedLog(DecisionLog):
    """An in-memory log that chains as the DynamoDB one does, and lets a test tamper with it."""

    def __init__(self, entries: list[dict[str, Any]] | None = None) -> None:
        self.items = entries or []

    def append(self, entry: Mapping[str, Any]) -> bool:
        if any(e["entryKey"] == entry["entryKey"] for e in self.items):
            return False
        self.items.append(chain(self.items[-1] if self.items else None, entry))
        return True

    def entries(self, group: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(e) for e in self.items if e["modelPackageGroupName"] == group]

    def head(self, group: str) -> Mapping[str, Any] | None:
        return self.items[-1] if self.items else None


def test_verify_audit_log_reports_ok_with_the_count_and_last_hash_or_the_broken_link():
    log = ChainedLog()
    for n in (1, 2, 3):
        assert log.append(entry(n))
    assert log.append(entry(2)) is False
    result = verify_audit_log(log=log, group=GROUP)
    assert result == {
        "group": GROUP,
        "ok": True,
        "entries": 3,
        "lastSequence": 3,
        "lastHash": log.items[-1]["entryHash"],
        "broken": None,
        "headSequence": 3,
    }
    log.items[0]["comment"] = "changed"
    result = verify_audit_log(log=log, group=GROUP)
    assert result["ok"] is False and result["broken"]["sequence"] == 1 and result["broken"]["kind"] == "altered"


def test_verify_audit_log_of_a_group_with_nothing_recorded_is_not_found():
    with pytest.raises(NotFound, match=f"no decisions are recorded for {GROUP}"):
        verify_audit_log(log=ChainedLog(), group=GROUP)


def _run_cli(monkeypatch: pytest.MonkeyPatch, log: DecisionLog, *argv: str) -> tuple[int, str, str]:
    target = cli.Target("the test", "arn:aws:states:us-east-1:1:stateMachine:x", "a", "d", "s@example.com", "")
    monkeypatch.setattr(cli, "resolve_target", lambda invocation: target)
    monkeypatch.setattr(cli, "verify_audit_log", lambda **kwargs: verify_audit_log(log=log, group=kwargs["group"]))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_audit_verify_prints_ok_with_the_count_and_the_last_hash(monkeypatch: pytest.MonkeyPatch):
    log = ChainedLog(chained(3))
    code, out, err = _run_cli(monkeypatch, log, "--local", "audit", "verify", GROUP)
    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"OK: the audit log of {GROUP} holds 3 entries in one unbroken chain.",
        "  last entry  3",
        f"  last hash   {log.items[-1]['entryHash']}",
    ]
    code, out, _ = _run_cli(monkeypatch, log, "--local", "audit", "verify", GROUP, "--json")
    assert code == 0 and json.loads(out)["ok"] is True and json.loads(out)["lastHash"] == log.items[-1]["entryHash"]


def test_audit_verify_names_the_first_broken_link_and_exits_1(monkeypatch: pytest.MonkeyPatch):
    entries = chained(3)
    entries[1]["comment"] = "changed"
    code, out, err = _run_cli(monkeypatch, ChainedLog(entries), "--local", "--json", "audit", "verify", GROUP)
    assert code == 1
    answer = json.loads(out)
    assert answer["ok"] is False and answer["broken"]["sequence"] == 2 and answer["lastSequence"] == 1
    message = f"entry 2 ({entries[1]['entryKey']}) was altered: its hash does not match its content"
    assert err == f"error: the audit log of {GROUP} is broken: {message}\n"
    code, out, _ = _run_cli(monkeypatch, ChainedLog(entries), "--local", "audit", "verify", GROUP)
    assert code == 1 and out.startswith(f"BROKEN: the audit log of {GROUP} (3 entries read) does not hold.")
    assert f"first broken link  {message}" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--local", "audit"], "Missing command"),
        (["--local", "audit", "verify"], "Missing argument 'GROUP'"),
        (["--local", "audit", "verify", "not a group"], "not a model package group name"),
        (["--local", "audit", "rewrite", GROUP], "No such command 'rewrite'"),
    ],
)
def test_audit_verify_arguments_are_checked_like_every_command(argv: list[str], message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(argv, stdout=out, stderr=err) == 2
    assert message in err.getvalue() and err.getvalue().count("\n") == 1 and out.getvalue() == ""
