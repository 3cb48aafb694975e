"""The audit log as a hash chain: each entry of a model group names the hash of the entry before it.

Every entry carries three chain fields besides its own:

- `sequence`: its position in its group's chain, 1, 2, 3, …;
- `previousHash`: the `entryHash` of the entry at `sequence - 1` (64 zeros for the first entry);
- `entryHash`: SHA-256 of the entry's canonical JSON, every field but `entryHash` itself (so `sequence` and
  `previousHash` too): keys sorted, no whitespace (`,` and `:`), non-ASCII characters as themselves, UTF-8.

An entry altered in place no longer matches its own hash; an entry altered and re-hashed, removed or inserted
no longer matches the `previousHash` of the entry after it; a removed entry also leaves a gap in `sequence`.
The chain proves that nobody changed the log *without rewriting every later entry*: someone who may write the
table (a PutItem overwrite cannot be refused by IAM) and recomputes the hashes of everything after the entry
they change is caught only by a copy of the newest hash kept elsewhere (`audit verify` prints it).

The canonical form survives a DynamoDB round trip. The decision log stores an entry's fields as DynamoDB
attributes, which keep a number's value but not its spelling (1.0 comes back as 1, 1e23 as
100000000000000000000000) and drop top-level nulls. So before hashing, a null top-level field is left out and
every number is written as the decision log reads it back: an integral value as an integer, any other as the
float JSON writes (the shortest text that reads back as the same float). A field whose value JSON cannot carry
(NaN, infinity, a set) is refused.

Appending safely (concurrent executions of one group, retries) is the decision log's job
(adapters/dynamodb_decision_log.py); this module is pure: `chain()` links an entry to its predecessor, and
`verify()` walks a group's entries and names the first link that does not hold.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

SEQUENCE, PREVIOUS_HASH, ENTRY_HASH = "sequence", "previousHash", "entryHash"
CHAIN_FIELDS = frozenset({SEQUENCE, PREVIOUS_HASH, ENTRY_HASH})
# The previousHash of a chain's first entry: no entry hashes to it.
GENESIS_HASH = "0" * 64
_HEX64 = frozenset("0123456789abcdef")


def _number(value: int | float | Decimal) -> int | float:
    """A number as the decision log reads it back from DynamoDB (see the module docstring)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    exact = Decimal(repr(value)) if isinstance(value, float) else value
    if not exact.is_finite():
        raise ValueError(f"an audit entry cannot hold the number {value!r}")
    return int(exact) if exact == exact.to_integral_value() else float(exact)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return _number(value)
    raise ValueError(f"an audit entry cannot hold a {type(value).__name__} ({value!r})")


def canonical(entry: Mapping[str, Any]) -> str:
    """The text `entryHash` is computed over: every field but entryHash, top-level nulls left out."""
    body = {k: _plain(v) for k, v in entry.items() if k != ENTRY_HASH and v is not None}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(entry).encode("utf-8")).hexdigest()


def chain(previous: Mapping[str, Any] | None, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry linked after `previous` (None: it starts the chain), with sequence, previousHash and entryHash.

    `previous` needs only its own `sequence` and `entryHash` (the decision log passes its chain position). Chain
    fields the entry already carries are replaced: linking is a function of the entry's own fields and its
    predecessor, so a retry that links the same entry after the same predecessor gets the same hash.
    """
    linked = {k: v for k, v in entry.items() if k not in CHAIN_FIELDS}
    if previous is None:
        linked[SEQUENCE], linked[PREVIOUS_HASH] = 1, GENESIS_HASH
    else:
        sequence, digest = previous.get(SEQUENCE), previous.get(ENTRY_HASH)
        if not _is_sequence(sequence) or not _is_hash(digest):
            raise ValueError(f"the previous entry has no chain position (sequence {sequence!r}, hash {digest!r})")
        linked[SEQUENCE], linked[PREVIOUS_HASH] = int(sequence) + 1, str(digest)
    linked[ENTRY_HASH] = entry_hash(linked)
    return linked


def _is_sequence(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool) and value == int(value) and value >= 1


def _is_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX64


@dataclass(frozen=True)
class BrokenLink:
    """The first place a chain does not hold: which entry (its sequence and entryKey, when known) and why."""

    kind: str  # unchained, start, duplicate, gap, altered, relinked, head
    message: str
    sequence: int | None = None
    entry_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "sequence": self.sequence, "entryKey": self.entry_key}


@dataclass(frozen=True)
class ChainVerdict:
    """What `verify` found: how many entries, the newest one's sequence and hash, and the first broken link."""

    count: int
    last_sequence: int | None
    last_hash: str | None
    broken: BrokenLink | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.count,
            "lastSequence": self.last_sequence,
            "lastHash": self.last_hash,
            "broken": self.broken.to_dict() if self.broken else None,
        }


def _label(entry: Mapping[str, Any], sequence: int | None = None) -> str:
    key = entry.get("entryKey")
    number = sequence if sequence is not None else entry.get(SEQUENCE)
    where = f"entry {number}" if _is_sequence(number) else "an entry"
    return f"{where} ({key})" if key else where


def verify(entries: Iterable[Mapping[str, Any]], head: Mapping[str, Any] | None = None) -> ChainVerdict:
    """Recomputes a group's chain and names the first link that does not hold.

    `entries`: the group's entries, in any order (they are walked by `sequence`). `head`: the chain position
    the log recorded as its newest (its `sequence` and `entryHash`), read *before* the entries, so an entry
    appended in between is not mistaken for a break; None when the log keeps none. With a head, a newest
    entry that was removed, or replaced and re-hashed, is caught too, which the chain alone cannot see.
    """
    chained, unchained = [], []
    for entry in entries:
        (chained if _is_sequence(entry.get(SEQUENCE)) else unchained).append(entry)
    chained.sort(key=lambda e: (int(e[SEQUENCE]), str(e.get("entryKey") or "")))
    count = len(chained) + len(unchained)

    def verdict(last: Mapping[str, Any] | None, broken: BrokenLink | None) -> ChainVerdict:
        if last is None:
            return ChainVerdict(count, None, None, broken)
        return ChainVerdict(count, int(last[SEQUENCE]), str(last.get(ENTRY_HASH)), broken)

    if unchained:
        first = unchained[0]
        return verdict(
            None,
            BrokenLink(
                "unchained",
                f"{_label(first)} is not part of the chain: it carries no sequence (it was written around the "
                "chain, or before the log was chained)",
                None,
                first.get("entryKey"),
            ),
        )

    previous: Mapping[str, Any] | None = None
    for entry in chained:
        sequence, key = int(entry[SEQUENCE]), entry.get("entryKey")
        label = _label(entry, sequence)
        if previous is not None and sequence == int(previous[SEQUENCE]):
            return verdict(
                previous,
                BrokenLink(
                    "duplicate",
                    f"two entries claim sequence {sequence}: {previous.get('entryKey')} and {key}",
                    sequence,
                    key,
                ),
            )
        expected = int(previous[SEQUENCE]) + 1 if previous is not None else 1
        if sequence != expected:
            missing = f"entry {expected}" if sequence == expected + 1 else f"entries {expected} to {sequence - 1}"
            if previous is None:
                message = f"the chain starts at {label}, not at entry 1: {missing} {_are(missing)} missing"
            else:
                message = f"sequence jumps from {expected - 1} to {sequence}: {missing} {_are(missing)} missing"
            return verdict(previous, BrokenLink("gap", message, sequence, key))
        try:
            recomputed = entry_hash(entry)
        except ValueError as exc:
            return verdict(previous, BrokenLink("altered", f"{label} was altered: {exc}", sequence, key))
        if entry.get(ENTRY_HASH) != recomputed:
            return verdict(
                previous,
                BrokenLink("altered", f"{label} was altered: its hash does not match its content", sequence, key),
            )
        expected_previous = str(previous[ENTRY_HASH]) if previous is not None else GENESIS_HASH
        if entry.get(PREVIOUS_HASH) != expected_previous:
            if previous is None:
                message = f"{label} does not start a chain: its previousHash is not the genesis hash (64 zeros)"
            else:
                message = (
                    f"{label} follows a missing or altered entry: previousHash does not match entry "
                    f"{int(previous[SEQUENCE])}"
                )
            return verdict(previous, BrokenLink("relinked", message, sequence, key))
        previous = entry

    if head is not None and _is_sequence(head.get(SEQUENCE)):
        head_sequence, head_hash = int(head[SEQUENCE]), head.get(ENTRY_HASH)
        last_sequence = int(previous[SEQUENCE]) if previous is not None else 0
        if head_sequence > last_sequence:
            missing = (
                f"entry {head_sequence}"
                if head_sequence == last_sequence + 1
                else f"entries {last_sequence + 1} to {head_sequence}"
            )
            ends = f"ends at entry {last_sequence}" if previous is not None else "holds no entry"
            return verdict(
                previous,
                BrokenLink(
                    "head",
                    f"the chain's head is entry {head_sequence}, but the log {ends}: {missing} {_are(missing)} missing",
                    head_sequence,
                    head.get("chainedEntryKey"),
                ),
            )
        at_head = next(e for e in chained if int(e[SEQUENCE]) == head_sequence)
        if at_head.get(ENTRY_HASH) != head_hash:
            return verdict(
                previous,
                BrokenLink(
                    "head",
                    f"{_label(at_head, head_sequence)} was replaced: the chain's head records another hash for it",
                    head_sequence,
                    at_head.get("entryKey"),
                ),
            )
    return verdict(previous, None)


def _are(missing: str) -> str:
    return "are" if missing.startswith("entries") else "is"
