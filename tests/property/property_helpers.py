"""Strategies and checks shared by the property tests: JSON-like values, odd strings, mutated fixture events.

The odd values are a fuzzer's dictionary: the characters and shapes that break parsers (Unicode digits and
line separators, huge numbers, ARNs with odd characters), mixed with whatever hypothesis makes up, so the
search reaches them within a CI-sized number of examples.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from builders import TASK_TOKEN
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
_EXPLORING = os.environ.get("HYPOTHESIS_PROFILE") == "explore"


def examples(count: int) -> int:
    """The example count for CI; the explore profile searches five times as long."""
    return count * 5 if _EXPLORING else count


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def lambda_context(function_name: str) -> SimpleNamespace:
    """What Powertools' inject_lambda_context reads from the Lambda context object."""
    return SimpleNamespace(
        function_name=function_name,
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
        aws_request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    )


# Values that look like credentials. Planted where credentials live (metadata, container environments, NoEcho
# parameters), none of them may come back in a reason, a message or a page.
SECRETS = (
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    TASK_TOKEN,
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9wZXJ0eS10ZXN0In0.c2lnbmF0dXJlLW9mLWEtc2Vzc2lvbg",
    "-----BEGIN RSA PRIVATE KEY-----MIIEowIBAAKCAQEA7property",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
)

# Characters and strings that have broken parsers before: Unicode digits (str.isdigit() says yes, int() may say
# no), line terminators a regex `$` lets through, separators, markup, traversal, and numbers past float range.
NASTY = (
    "",
    " ",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\u2028",
    "\u0085",
    "\ufeff",
    "\u00a0",
    "é",
    "²",
    "³",
    "١٢٣",
    "߁",
    "Ⅻ",
    "𝟙𝟚",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "🙂",
    "../..",
    "%2e%2e%2f",
    "%00",
    ";",
    ",",
    "=",
    "/",
    ".",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "null",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1_000",
    "-1",
    "0",
    "1e309",
    "9" * 400,
    "[" * 3000,
)

nasty_strings = st.sampled_from(NASTY)
secrets = st.sampled_from(SECRETS)


def huge_strings() -> st.SearchStrategy[str]:
    """Strings of up to 100,000 characters, cheap to make: a short unit repeated."""
    return st.builds(lambda unit, count: unit * count, st.text(min_size=1, max_size=4), st.integers(100, 25_000))


def spliced(valid: str) -> st.SearchStrategy[str]:
    """A valid value with an odd piece put in, cut out, or stuck on at either end."""
    odd = st.one_of(nasty_strings, st.text(max_size=3))

    @st.composite
    def build(draw: st.DrawFn) -> str:
        at = draw(st.integers(min_value=0, max_value=len(valid)))
        cut = draw(st.integers(min_value=0, max_value=len(valid) - at))
        how = draw(st.sampled_from(("insert", "replace", "prefix", "suffix", "cut")))
        piece = draw(odd)
        if how == "insert":
            return valid[:at] + piece + valid[at:]
        if how == "replace":
            return valid[:at] + piece + valid[at + cut :]
        if how == "prefix":
            return piece + valid
        if how == "suffix":
            return valid + piece
        return valid[:at] + valid[at + cut :]

    return build()


def odd_strings(valid: str | None = None) -> st.SearchStrategy[str]:
    parts = [st.text(), nasty_strings, huge_strings(), secrets]
    if valid is not None:
        parts.append(spliced(valid))
    return st.one_of(parts)


odd_integers = st.one_of(
    st.integers(min_value=-3, max_value=5),
    st.integers(),
    st.integers(min_value=2**31, max_value=2**64),
    st.sampled_from((10**30, -(10**30), 2**63 - 1, 2**63)),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    odd_integers,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    nasty_strings,
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.one_of(st.text(max_size=12), nasty_strings)
    return st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4))


json_values = st.recursive(json_scalars, _containers, max_leaves=12)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        document = document[step]
    document[path[-1]] = value


def _delete(document: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        document = document[step]
    del document[path[-1]]


def mutated(
    base: dict[str, Any],
    *,
    key_paths: tuple[tuple[str, ...], ...],
    odd_values: Callable[[tuple[Any, ...]], st.SearchStrategy[Any]],
    max_mutations: int = 3,
) -> st.SearchStrategy[dict[str, Any]]:
    """`base` with up to `max_mutations` changes: a field dropped, or replaced by an odd value of any type.

    Half the changes hit `key_paths` (the fields the code under test reads), the rest any field at all.
    `odd_values(path)` gives the replacements that suit the field at `path`.
    """

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        event = copy.deepcopy(base)
        for _ in range(draw(st.integers(min_value=1, max_value=max_mutations))):
            every = _paths(event)
            wanted = [p for p in key_paths if p in every]
            if not every:
                break
            targeted = bool(wanted) and draw(st.booleans())
            path = draw(st.sampled_from(wanted if targeted else every))
            if draw(st.sampled_from(("replace", "replace", "drop"))) == "drop":
                _delete(event, path)
            else:
                _set(event, path, draw(st.one_of(odd_values(path), json_values)))
        return event

    return build()


_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")


def looks_like_a_traceback(text: str) -> bool:
    return bool(_TRACEBACK.search(text))


def is_one_readable_line(text: str, *, limit: int = 300) -> bool:
    """Non-empty text of words, on one line, short enough to read in a log viewer or a console."""
    return (
        isinstance(text, str)
        and 0 < len(text) <= limit
        and not any(c in text for c in "\n\r\u2028\u2029\x00")
        and len(re.findall(r"[A-Za-z]{2,}", text)) >= 2
    )
