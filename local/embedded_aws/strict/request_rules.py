"""What AWS refuses in a request because its operation's input shape says so, found before moto sees it.

AWS validates every request server-side against the service's model: lengths, patterns, ranges, list and
map sizes, enums, required members at every level. botocore's client checks only required members, minimum
lengths and types, and moto checks nothing, so without this the embedded AWS would accept requests AWS
refuses (a 64-character ClientToken, an ApprovalDescription with a newline) and the project would learn of
them in production.

`violations(operation_model, params)` walks the parameters as the caller passes them to a boto3 client
method (before serialization) along the operation's input shape, and returns one message per broken
constraint, worded as AWS words the parts of its ValidationException ("Value at 'clientToken' failed to
satisfy constraint: Member must have length less than or equal to 36"). `validation_message(found)` joins
them as AWS does ("2 validation errors detected: ...; ..."). Values are never part of a message: a value
may be a secret, a password or a task token, and AWS's own habit of echoing it is not worth copying.

Paths use the member names with a lower-case first letter, 1-based list indexes and, for maps, the 1-based
entry position followed by `key` or `value` (`containers.1.image`, `customerMetadataProperties.3.value`):
the key itself is data and is not echoed either.

Patterns are Java regular expressions (AWS services are written in Java, and validate with
`Pattern.matcher(value).matches()`); `java_pattern` translates them to the `regex` module with Java's
semantics, see `translate_java_regex`. A pattern that cannot be translated is logged at debug level and its
check skipped: a missing check is better than refusing valid requests. Lengths are counted as Java counts
them: in UTF-16 code units, so a character outside the Basic Multilingual Plane counts 2.

Deliberately not checked: types (botocore's own validator refuses a wrong type; a mismatch is skipped
here, never reported twice nor crashed on), unknown members (botocore refuses them), missing idempotency
tokens (botocore fills them), timestamps and booleans (the models constrain neither), streaming bodies,
limits the model does not state (request_limits.py), nor anything that depends on the service's state.

The translation was checked against OpenJDK 17's java.util.regex on every pattern of every botocore model
(4876 patterns, 66 values each: no difference) and on 44 000 random patterns (52 values each). What still
differs is in corners no AWS model uses: Java refuses look-behinds without an obvious maximum length
(accepted here); its possessive quantifiers inside look-behinds, and its back references to groups of other
alternatives, behave irregularly; (?iu) is matched per character; \\p{IsEmoji} exists from Java 21 only.

Cost, measured on this machine (2 vCPUs, Python 3.11, regex 2026.11.19), per call once the operation's plan
is built (its first call: 0.3 ms for PutItem, 2.5 ms for UpdateModelPackage, patterns compiled included):
- UpdateModelPackage as the promotion workflow sends it (ARN, status, a 1024-character description, six
  metadata entries, ClientToken): 13.6 µs;
- DynamoDB PutItem of 30 attributes (22 S, 5 N, a BOOL, a nested M and an L): 11.9 µs;
measured with `cd /work/main && PYTHONPATH=local .venv/bin/python -m embedded_aws.strict.request_rules`
(the `__main__` block at the end of this file: the best of 5 rounds of 20 000 calls).
"""

from __future__ import annotations

import functools
import logging
import threading
import unicodedata
import weakref
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import regex

if TYPE_CHECKING:
    from botocore.model import OperationModel, Shape

log = logging.getLogger(__name__)

__all__ = ["UntranslatablePattern", "java_pattern", "translate_java_regex", "validation_message", "violations"]


# ---------------------------------------------------------------------------------------------------------
# Messages, worded as AWS words them.

_MAX_LENGTH = "Member must have length less than or equal to {}"
_MIN_LENGTH = "Member must have length greater than or equal to {}"
_MAX_VALUE = "Member must have value less than or equal to {}"
_MIN_VALUE = "Member must have value greater than or equal to {}"
_PATTERN = "Member must satisfy regular expression pattern: {}"
_ENUM = "Member must satisfy enum value set: [{}]"
_NOT_NULL = "Member must not be null"
_ONE_OF = "Member must have exactly one of its members set"

# Patterns on long values get a time limit: Java would backtrack for as long as it takes, the embedded AWS
# must not hang on one request (a timed-out check is skipped). Short values go without: the limit costs ~2 µs
# per match, and the models' patterns are linear at such lengths.
_TIMEOUT_FROM_LENGTH = 256
_MATCH_TIMEOUT_SECONDS = 0.5


def validation_message(found: list[str]) -> str:
    """The ValidationException message AWS gives for these violations: "N validation error(s) detected: a; b"."""
    if not found:
        raise ValueError("no violations to describe")
    count = len(found)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(found)


def violations(operation_model: OperationModel, params: Mapping[str, Any]) -> list[str]:
    """Every constraint of the operation's input shape these API parameters break, one message each.

    Never raises: validation must not become a new way for a call to fail. An internal error is logged
    and what was found until then is returned.
    """
    found: list[str] = []
    try:
        plan = _plan_for(operation_model)
        if plan is not None and isinstance(params, Mapping):
            plan.check(params, None, found)
    except Exception:
        log.warning(
            "request validation of %r stopped on an internal error", _operation_name(operation_model), exc_info=True
        )
    return found


def _operation_name(operation_model: Any) -> str:
    try:
        return f"{operation_model.service_model.service_name}:{operation_model.name}"
    except Exception:
        return "<unknown operation>"


# ---------------------------------------------------------------------------------------------------------
# Paths: a linked pair (parent, segment), rendered only when a violation is reported, so the walk of a
# valid request builds no strings.

_Path = tuple[Any, "str | int"] | None


def _render(path: _Path) -> str:
    parts: list[str] = []
    while path is not None:
        path, segment = path
        parts.append(str(segment))
    return ".".join(reversed(parts))


def _report(out: list[str], path: _Path, constraint: str) -> None:
    out.append(f"Value at '{_render(path)}' failed to satisfy constraint: {constraint}")


def _member_segment(name: str) -> str:
    """AWS names members in these messages with a lower-case first letter: ClientToken -> clientToken."""
    return name[:1].lower() + name[1:]


# ---------------------------------------------------------------------------------------------------------
# Plans: one node per shape that has something to check, built once per operation model.


def _utf16_length(value: str) -> int:
    """Java's String.length(): UTF-16 code units, 2 for a character outside the Basic Multilingual Plane."""
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


def _bounds(out: list[str], path: _Path, size: int, low: Any, high: Any, too_long: str, too_short: str) -> None:
    if high is not None and size > high:
        _report(out, path, too_long.format(high))
    if low is not None and size < low:
        _report(out, path, too_short.format(low))


class _String:
    __slots__ = ("enum", "enum_text", "high", "low", "pattern", "regex")

    def __init__(self, shape: Shape) -> None:
        meta = shape.metadata
        self.low = _positive(meta.get("min"))
        self.high = meta.get("max")
        self.pattern: str | None = meta.get("pattern") or None
        self.regex: Any = _UNRESOLVED
        enum = meta.get("enum")
        self.enum = frozenset(enum) if enum else None
        self.enum_text = _ENUM.format(", ".join(enum)) if enum else ""

    def check(self, value: Any, path: _Path, out: list[str]) -> None:
        # The hottest code of the module (every string of every request): written out, not factored.
        if not isinstance(value, str):
            return
        low, high = self.low, self.high
        if low is not None or high is not None:
            size = len(value) if value.isascii() else _utf16_length(value)
            if high is not None and size > high:
                _report(out, path, _MAX_LENGTH.format(high))
            if low is not None and size < low:
                _report(out, path, _MIN_LENGTH.format(low))
        if self.enum is not None and value not in self.enum:
            _report(out, path, self.enum_text)
        if self.pattern is not None:
            compiled = self.regex
            if compiled is _UNRESOLVED:
                compiled = self.regex = _SINGLE_LINE.get(self.pattern) or java_pattern(self.pattern)
            if compiled is not None:
                if len(value) < _TIMEOUT_FROM_LENGTH:
                    matched = compiled.fullmatch(value) is not None
                else:
                    matched = _matches_long(compiled, self.pattern, value)
                if not matched:
                    _report(out, path, _PATTERN.format(self.pattern))


def _matches_long(compiled: Any, pattern: str, value: str) -> bool:
    try:
        return compiled.fullmatch(value, timeout=_MATCH_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        log.debug("pattern %r took too long on a %d-character value: not checked", pattern, len(value))
        return True


class _SingleLine:
    """Java's `.*` and `.+`, the commonest patterns of the models: one line of text. Checked without regex,
    so that a 100 000-character ModelCardContent costs microseconds rather than hundreds of them."""

    __slots__ = ("least",)

    def __init__(self, least: int) -> None:
        self.least = least

    def fullmatch(self, value: str, timeout: float | None = None) -> bool | None:
        if len(value) < self.least:
            return None
        if "\n" in value or "\r" in value or "\x85" in value or "\u2028" in value or "\u2029" in value:
            return None
        return True


_SINGLE_LINE = {".*": _SingleLine(0), ".+": _SingleLine(1)}


class _Blob:
    __slots__ = ("high", "low")

    def __init__(self, shape: Shape) -> None:
        self.low = _positive(shape.metadata.get("min"))
        self.high = shape.metadata.get("max")

    def check(self, value: Any, path: _Path, out: list[str]) -> None:
        if isinstance(value, bytes | bytearray):
            size = len(value)
        elif isinstance(value, memoryview):
            size = value.nbytes
        elif isinstance(value, str):
            size = len(value.encode("utf-8", "surrogatepass"))
        else:
            return  # a file-like body: its size is the transport's business
        _bounds(out, path, size, self.low, self.high, _MAX_LENGTH, _MIN_LENGTH)


class _Number:
    __slots__ = ("high", "low")

    def __init__(self, shape: Shape) -> None:
        self.low = shape.metadata.get("min")
        self.high = shape.metadata.get("max")

    def check(self, value: Any, path: _Path, out: list[str]) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return
        if isinstance(value, Decimal) and value.is_nan():
            return
        _bounds(out, path, value, self.low, self.high, _MAX_VALUE, _MIN_VALUE)


class _List:
    __slots__ = ("high", "low", "member")

    def __init__(self, shape: Shape) -> None:
        self.low = _positive(shape.metadata.get("min"))
        self.high = shape.metadata.get("max")
        self.member: Any = None

    def check(self, value: Any, path: _Path, out: list[str]) -> None:
        if not isinstance(value, list | tuple):
            return
        _bounds(out, path, len(value), self.low, self.high, _MAX_LENGTH, _MIN_LENGTH)
        member = self.member
        if member is not None:
            for index, item in enumerate(value, 1):
                if item is not None:
                    member.check(item, (path, index), out)


class _Map:
    __slots__ = ("high", "key", "low", "value")

    def __init__(self, shape: Shape) -> None:
        self.low = _positive(shape.metadata.get("min"))
        self.high = shape.metadata.get("max")
        self.key: Any = None
        self.value: Any = None

    def check(self, value: Any, path: _Path, out: list[str]) -> None:
        if not isinstance(value, dict) and not isinstance(value, Mapping):
            return
        _bounds(out, path, len(value), self.low, self.high, _MAX_LENGTH, _MIN_LENGTH)
        key_node, value_node = self.key, self.value
        if key_node is None and value_node is None:
            return
        for index, (key, item) in enumerate(value.items(), 1):
            entry = (path, index)
            if key_node is not None and key is not None:
                key_node.check(key, (entry, "key"), out)
            if value_node is not None and item is not None:
                value_node.check(item, (entry, "value"), out)


class _Structure:
    __slots__ = ("members", "names", "required", "union")

    def __init__(self, shape: Shape) -> None:
        self.members: dict[str, tuple[str, Any]] = {}
        # botocore fills a missing idempotency token itself, so its absence is never the caller's error.
        self.required = tuple(
            (name, _member_segment(name))
            for name in shape.metadata.get("required", ())
            if name in shape.members and not shape.members[name].metadata.get("idempotencyToken")
        )
        self.union = bool(shape.metadata.get("union"))
        self.names = frozenset(shape.members)

    def check(self, value: Any, path: _Path, out: list[str]) -> None:
        if not isinstance(value, dict) and not isinstance(value, Mapping):
            return
        members = self.members
        for key, item in value.items():
            entry = members.get(key)
            if entry is not None and item is not None:
                entry[1].check(item, (path, entry[0]), out)
        for key, segment in self.required:
            if value.get(key) is None:
                _report(out, (path, segment), _NOT_NULL)
        if self.union and sum(1 for k, v in value.items() if v is not None and k in self.names) != 1:
            _report(out, path, _ONE_OF)


_UNRESOLVED = object()
_NUMBER_TYPES = frozenset({"integer", "long", "float", "double", "bigInteger", "bigDecimal", "short", "byte"})


def _positive(bound: Any) -> Any:
    """A minimum length of 0 checks nothing; leaving it out keeps the walk of every value a little cheaper."""
    return bound if bound else None


def _children(shape: Shape) -> list[Shape]:
    kind = shape.type_name
    if kind == "structure" and not shape.metadata.get("document"):
        return list(shape.members.values())
    if kind == "list":
        return [shape.member]
    if kind == "map":
        return [shape.key, shape.value]
    return []


def _checks_itself(shape: Shape) -> bool:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "string":
        return bool(meta.get("min") or meta.get("max") is not None or meta.get("pattern") or meta.get("enum"))
    if kind in ("blob", "list", "map"):
        return bool(meta.get("min") or meta.get("max") is not None)
    if kind in _NUMBER_TYPES:
        return meta.get("min") is not None or meta.get("max") is not None
    if kind == "structure" and not meta.get("document"):
        return bool(_Structure(shape).required) or bool(meta.get("union"))
    return False


class _Compiler:
    """Builds the plan of one input shape: a node for every shape with something to check below it.

    Shapes are known by name within one service model (constraints live on shapes, never on member
    references), which also ties recursive shapes (DynamoDB's AttributeValue) into a finite plan.
    """

    def __init__(self, root: Shape) -> None:
        self.shapes: dict[str, Shape] = {}
        edges: dict[str, list[str]] = {}
        pending = [root]
        while pending:
            shape = pending.pop()
            if shape.name in self.shapes:
                continue
            self.shapes[shape.name] = shape
            children = _children(shape)
            edges[shape.name] = [child.name for child in children]
            pending.extend(children)
        self.active = {name for name, shape in self.shapes.items() if _checks_itself(shape)}
        changed = True
        while changed:
            changed = False
            for name, children_names in edges.items():
                if name not in self.active and any(child in self.active for child in children_names):
                    self.active.add(name)
                    changed = True
        self.nodes: dict[str, Any] = {}

    def node(self, shape: Shape) -> Any:
        name = shape.name
        if name not in self.active:
            return None
        if name in self.nodes:
            return self.nodes[name]
        shape = self.shapes[name]
        kind = shape.type_name
        node: Any
        if kind == "string":
            node = _String(shape)
        elif kind == "blob":
            node = _Blob(shape)
        elif kind in _NUMBER_TYPES:
            node = _Number(shape)
        elif kind == "list":
            node = _List(shape)
            self.nodes[name] = node
            node.member = self.node(shape.member)
        elif kind == "map":
            node = _Map(shape)
            self.nodes[name] = node
            node.key = self.node(shape.key)
            node.value = self.node(shape.value)
        elif kind == "structure":
            node = _Structure(shape)
            self.nodes[name] = node
            for member_name, member in shape.members.items():
                child = self.node(member)
                if child is not None:
                    node.members[member_name] = (_member_segment(member_name), child)
        else:
            return None
        self.nodes[name] = node
        return node


_plans: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_plans_lock = threading.Lock()
_NO_PLAN = object()


def _plan_for(operation_model: OperationModel) -> Any:
    """The operation's plan, built on its first call: the walk of each request then only visits nodes."""
    try:
        plan = _plans.get(operation_model, _NO_PLAN)
    except TypeError:  # not weakly referenceable: build it every time rather than fail
        return _build_plan(operation_model)
    if plan is _NO_PLAN:
        plan = _build_plan(operation_model)
        with _plans_lock:
            _plans[operation_model] = plan
    return plan


def _build_plan(operation_model: OperationModel) -> Any:
    shape = operation_model.input_shape
    if shape is None:
        return None
    return _Compiler(shape).node(shape)


# ---------------------------------------------------------------------------------------------------------
# Java regular expressions, translated to the `regex` module (V1 syntax: nested sets and `&&`, as in Java).


class UntranslatablePattern(ValueError):
    """A Java pattern this module cannot express with `regex` (or that Java itself would not compile)."""


@functools.lru_cache(maxsize=4096)
def java_pattern(pattern: str) -> Any:
    """The compiled equivalent of a Java pattern, for fullmatch; None (logged at debug) if it cannot be had."""
    try:
        return regex.compile(translate_java_regex(pattern), regex.V1)
    except (UntranslatablePattern, regex.error, ValueError, OverflowError, RecursionError) as exc:
        log.debug("Java pattern %r not translated, its check is skipped: %s", pattern, exc)
        return None


def translate_java_regex(pattern: str) -> str:
    """A `regex` (V1) pattern matching what java.util.regex.Pattern matches, for use with fullmatch.

    Java semantics kept: `.` excludes the line terminators \\n \\r \\u0085 \\u2028 \\u2029 (unless DOTALL);
    `^` `$` `\\A` `\\Z` `\\z` as Java anchors them, `$` and `\\Z` before a final line terminator too; \\d \\w \\s
    and the POSIX classes (\\p{Alnum}, \\p{Punct}, \\p{Lower}...) are US-ASCII; \\p{L}, \\p{IsAlphabetic},
    \\p{IsLatin}, \\p{InGreek}, \\p{javaLowerCase}... as Java defines them; character classes with nested
    classes, `&&` intersection and `]` first as a literal; \\Q...\\E; the embedded flags i d m s u x (with
    CASE_INSENSITIVE ASCII-only unless u); back references (Java's rule for \\12); \\uD83D\\uDE00 pairs as one
    code point; possessive quantifiers and atomic groups. \\b uses Java 8-18's word characters (letters,
    digits, _). Raises UntranslatablePattern for what it does not support (the U flag, CANON_EQ, \\b{g}) and
    for what Java itself refuses (dangling quantifiers, unclosed groups, unknown escapes).
    """
    return _Translator(pattern).translate()


_CASE_INSENSITIVE = 1
_UNIX_LINES = 2
_MULTILINE = 4
_DOTALL = 8
_UNICODE_CASE = 16
_COMMENTS = 32
_UNICODE_CHARACTER_CLASS = 64
_CANON_EQ = 128
_FLAG_BITS = {
    "i": _CASE_INSENSITIVE,
    "d": _UNIX_LINES,
    "m": _MULTILINE,
    "s": _DOTALL,
    "u": _UNICODE_CASE,
    "x": _COMMENTS,
    "U": _UNICODE_CHARACTER_CLASS | _UNICODE_CASE,
    "c": _CANON_EQ,
}

_TERMINATORS = r"\n\r\x85\u2028\u2029"
_JAVA_WHITESPACE = " \t\n\x0b\f\r"
# Java 8-18's Bound: a word character is '_' or Character.isLetterOrDigit, or a non-spacing mark that
# follows (through other marks) a letter or digit.
_WORD = r"[\p{L}\p{Nd}_]|(?<=[\p{L}\p{Nd}]\p{Mn}*)\p{Mn}"
_WORD_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NOT_WORD_BOUNDARY = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"
_LINEBREAK = r"(?:\r\n|[\n\x0b\f\r\x85\u2028\u2029])"
# Inside a quantifier Java's \R never gives back the \n of a \r\n it took.
_LINEBREAK_QUANTIFIED = r"(?>\r\n|[\n\x0b\f\r\x85\u2028\u2029])"
_SIMPLE_ESCAPES = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "a": 0x07, "e": 0x1B}

# Set bodies (what goes between [ and ] in regex V1) for Java's predefined classes; upper case negates.
_PREDEFINED = {
    "d": "0-9",
    "w": "a-zA-Z_0-9",
    "s": r"\x09-\x0d\x20",
    "h": r"\x20\x09\xa0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000",
    "v": r"\x0a-\x0d\x85\u2028\u2029",
}

# Java's general categories: a major class (L) and its subcategories (Lu, Ll, ...).
_CATEGORIES = frozenset(
    major + minor
    for major, minors in {
        "L": "ultmo",
        "M": "nce",
        "N": "dlo",
        "Z": "slp",
        "C": "cfosn",
        "P": "dsecoif",
        "S": "mcko",
    }.items()
    for minor in ("", *minors)
)
# Java's named classes (CharPredicates.forProperty), without CASE_INSENSITIVE; the POSIX ones are US-ASCII.
_NAMED = {
    "LC": r"\p{Lu}\p{Ll}\p{Lt}",
    "LD": r"\p{L}\p{Nd}",
    "L1": r"\x00-\xff",
    "all": r"\x00-\U0010ffff",
    "ASCII": r"\x00-\x7f",
    "Alnum": "0-9a-zA-Z",
    "Alpha": "a-zA-Z",
    "Blank": r"\x20\x09",
    "Cntrl": r"\x00-\x1f\x7f",
    "Digit": "0-9",
    "Graph": r"\x21-\x7e",
    "Lower": "a-z",
    "Print": r"\x20-\x7e",
    "Punct": r"\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e",
    "Space": r"\x09-\x0d\x20",
    "Upper": "A-Z",
    "XDigit": "0-9a-fA-F",
    "javaLowerCase": r"\p{Lowercase}",
    "javaUpperCase": r"\p{Uppercase}",
    "javaTitleCase": r"\p{Lt}",
    "javaAlphabetic": r"\p{Alphabetic}",
    "javaIdeographic": r"\p{Ideographic}",
    "javaDigit": r"\p{Nd}",
    "javaDefined": r"[\x00-\U0010ffff--\p{Cn}]",
    "javaLetter": r"\p{L}",
    "javaLetterOrDigit": r"\p{L}\p{Nd}",
    "javaSpaceChar": r"\p{Z}",
    "javaWhitespace": r"[\p{Z}--[\xa0\u2007\u202f]]\x09-\x0d\x1c-\x1f",
    "javaISOControl": r"\x00-\x1f\x7f-\x9f",
    "javaMirrored": r"\p{Bidi_Mirrored}",
    "javaIdentifierIgnorable": r"\x00-\x08\x0e-\x1b\x7f-\x9f\p{Cf}",
    "javaJavaIdentifierStart": r"\p{L}\p{Nl}\p{Sc}\p{Pc}",
    "javaJavaIdentifierPart": r"\p{L}\p{Nl}\p{Sc}\p{Pc}\p{Nd}\p{Mn}\p{Mc}\x00-\x08\x0e-\x1b\x7f-\x9f\p{Cf}",
    "javaUnicodeIdentifierStart": r"\p{ID_Start}",
    "javaUnicodeIdentifierPart": r"\p{ID_Continue}\x00-\x08\x0e-\x1b\x7f-\x9f\p{Cf}",
}
_CASED = r"\p{Lowercase}\p{Uppercase}\p{Lt}"
# With CASE_INSENSITIVE, Java's case classes match either case.
_NAMED_CASE_INSENSITIVE = {
    "Lu": r"\p{Lu}\p{Ll}\p{Lt}",
    "Ll": r"\p{Lu}\p{Ll}\p{Lt}",
    "Lt": r"\p{Lu}\p{Ll}\p{Lt}",
    "Lower": "a-zA-Z",
    "Upper": "a-zA-Z",
    "javaLowerCase": _CASED,
    "javaUpperCase": _CASED,
    "javaTitleCase": _CASED,
}
# Java's binary properties, \p{IsXxx} (CharPredicates.forUnicodeProperty, names case-insensitive).
_BINARY = {
    "ALPHABETIC": r"\p{Alphabetic}",
    "ASSIGNED": r"[\x00-\U0010ffff--\p{Cn}]",
    "CONTROL": r"\p{Cc}",
    "EMOJI": r"\p{Emoji}",
    "EMOJI_PRESENTATION": r"\p{Emoji_Presentation}",
    "EMOJI_MODIFIER": r"\p{Emoji_Modifier}",
    "EMOJI_MODIFIER_BASE": r"\p{Emoji_Modifier_Base}",
    "EMOJI_COMPONENT": r"\p{Emoji_Component}",
    "EXTENDED_PICTOGRAPHIC": r"\p{Extended_Pictographic}",
    "HEXDIGIT": r"\p{Nd}\p{Hex_Digit}",
    "HEX_DIGIT": r"\p{Nd}\p{Hex_Digit}",
    "IDEOGRAPHIC": r"\p{Ideographic}",
    "JOINCONTROL": r"\p{Join_Control}",
    "JOIN_CONTROL": r"\p{Join_Control}",
    "LETTER": r"\p{L}",
    "LOWERCASE": r"\p{Lowercase}",
    "NONCHARACTERCODEPOINT": r"\p{Noncharacter_Code_Point}",
    "NONCHARACTER_CODE_POINT": r"\p{Noncharacter_Code_Point}",
    "TITLECASE": r"\p{Lt}",
    "PUNCTUATION": r"\p{P}",
    "UPPERCASE": r"\p{Uppercase}",
    "WHITESPACE": r"\p{White_Space}",
    "WHITE_SPACE": r"\p{White_Space}",
    "WORD": r"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}",
}
_BINARY_CASE_INSENSITIVE = {"LOWERCASE": _CASED, "UPPERCASE": _CASED, "TITLECASE": _CASED}
_PROPERTY_VALUE = regex.compile(r"[A-Za-z0-9_ .\-]+")


def _least_repetitions(quantifier: str) -> int:
    if quantifier[0] == "{":
        return int(quantifier[1:].split(",", 1)[0].rstrip("}?+"))
    return 1 if quantifier[0] == "+" else 0


def _negate(body: str) -> str:
    """The complement of a set body, as a V1 set. Written as a difference from every code point, not as
    [^...]: regex 2026.11 negates a union of a property and its complement wrongly ([^\\P{L}\\p{L}] matches
    everything), and the difference is as fast."""
    return f"[\\x00-\\U0010ffff--[{body}]]"


def _hex_escape(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _literal(code: int) -> str:
    """One character as a regex atom outside a set."""
    if code < 0x80:
        char = chr(code)
        if char.isalnum() or char == "_":
            return char
        if 0x20 < code < 0x7F:
            return "\\" + char
    return _hex_escape(code)


def _set_member(code: int) -> str:
    """One character inside a V1 set: anything but letters and digits escaped, so that no V1 set operator
    (&&, ||, --, ~~) or bracket can appear by accident."""
    if code < 0x80 and chr(code).isalnum():
        return chr(code)
    return _hex_escape(code)


def _ascii_case_partner(code: int) -> int | None:
    if 0x41 <= code <= 0x5A or 0x61 <= code <= 0x7A:
        return code ^ 0x20
    return None


def _simple_upper(code: int) -> int:
    upper = chr(code).upper()
    return ord(upper) if len(upper) == 1 else code


def _simple_lower(code: int) -> int:
    lower = chr(code).lower()
    return ord(lower) if len(lower) == 1 else code


@functools.cache
def _unicode_case_table() -> tuple[dict[int, list[int]], list[tuple[int, int, int]]]:
    """Java's UNICODE_CASE folding, Character.toLowerCase(Character.toUpperCase(c)) (simple mappings), as
    the characters folding to each key, and every character whose upper or folded form differs from it.
    Built on first use only: no pattern in the AWS models uses (?iu)."""
    by_key: dict[int, list[int]] = {}
    changing: list[tuple[int, int, int]] = []
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        upper = _simple_upper(code)
        key = _simple_lower(upper)
        if upper != code or key != code:
            changing.append((code, upper, key))
            by_key.setdefault(key, []).append(code)
    return by_key, changing


def _unicode_case_equivalents(code: int) -> list[int]:
    """The other characters Java's SingleU matches for this one under (?iu)."""
    upper = _simple_upper(code)
    key = _simple_lower(upper)
    if upper == key:  # Java matches such a character (ß) exactly
        return []
    by_key, _ = _unicode_case_table()
    return sorted({key, *by_key.get(key, ())} - {code})


def _unicode_case_range_extras(low: int, high: int) -> list[int]:
    _, changing = _unicode_case_table()
    return [
        code
        for code, upper, key in changing
        if not low <= code <= high and (low <= upper <= high or low <= key <= high)
    ]


def _named_class(name: str, case_insensitive: bool) -> str | None:
    if case_insensitive and name in _NAMED_CASE_INSENSITIVE:
        return _NAMED_CASE_INSENSITIVE[name]
    if name in _CATEGORIES:
        return f"\\p{{{name}}}"
    return _NAMED.get(name)


def _property_value(value: str) -> str:
    if not _PROPERTY_VALUE.fullmatch(value):
        raise UntranslatablePattern(f"unsupported character property value {value!r}")
    return value


@functools.lru_cache(maxsize=512)
def _java_property(name: str, case_insensitive: bool) -> str:
    """The V1 set body of Java's \\p{name} (Pattern.family's lookup order)."""
    body: str | None
    if "=" in name:
        key, _, value = name.partition("=")
        key = key.lower()
        if key in ("sc", "script"):
            body = f"\\p{{Script={_property_value(value)}}}"
        elif key in ("blk", "block"):
            body = f"\\p{{Block={_property_value(value)}}}"
        elif key in ("gc", "general_category"):
            body = _named_class(value, case_insensitive)
        else:
            body = None
    elif name.startswith("In"):
        body = f"\\p{{Block={_property_value(name[2:])}}}"
    elif name.startswith("Is"):
        short = name[2:]
        upper = short.upper()
        body = (
            (_BINARY_CASE_INSENSITIVE.get(upper) if case_insensitive else None)
            or _BINARY.get(upper)
            or _named_class(short, case_insensitive)
            or f"\\p{{Script={_property_value(short)}}}"
        )
    else:
        body = _named_class(name, case_insensitive)
    if body is None:
        raise UntranslatablePattern(f"unknown character property name {{{name}}}")
    return body


def _remove_quoting(pattern: str) -> str:
    """\\Q...\\E replaced by escaped characters, as Java's Pattern.RemoveQEQuoting does before parsing."""
    if "\\Q" not in pattern:
        return pattern
    out: list[str] = []
    i, size = 0, len(pattern)
    while i < size:
        char = pattern[i]
        if char != "\\" or i + 1 >= size:
            out.append(char)
            i += 1
            continue
        if pattern[i + 1] != "Q":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        end = pattern.find("\\E", i + 2)
        quoted = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
        i = size if end < 0 else end + 2
        for q in quoted:
            if not q.isascii() or q.isalpha():
                out.append(q)
            elif q.isdigit():
                out.append(f"\\x3{q}")
            else:
                out.append("\\" + q)
    return "".join(out)


class _Translator:
    """A recursive-descent parser of Java's pattern syntax that writes the regex V1 equivalent as it goes.

    Flags are tracked here, not passed to regex: Java's embedded flags last until the end of the enclosing
    group, across alternatives, and DOTALL, MULTILINE, UNIX_LINES and COMMENTS change how `.`, `^`, `$`
    and whitespace are translated rather than how regex runs.
    """

    def __init__(self, pattern: str) -> None:
        self.src = _remove_quoting(pattern)
        self.pos = 0
        self.flags = 0
        self.groups = 0
        self.names: set[str] = set()

    def error(self, what: str) -> UntranslatablePattern:
        return UntranslatablePattern(f"{what} near index {self.pos}")

    # Reading

    def raw(self, ahead: int = 0) -> str | None:
        at = self.pos + ahead
        return self.src[at] if at < len(self.src) else None

    def next_raw(self) -> str | None:
        char = self.raw()
        if char is not None:
            self.pos += 1
        return char

    def peek(self) -> str | None:
        """The next character, past whitespace and #-comments when COMMENTS is on (as Java's peek)."""
        if self.flags & _COMMENTS:
            src, size = self.src, len(self.src)
            while self.pos < size:
                char = src[self.pos]
                if char in _JAVA_WHITESPACE:
                    self.pos += 1
                elif char == "#":
                    while self.pos < size and src[self.pos] not in "\n\r\x85\u2028\u2029":
                        self.pos += 1
                else:
                    break
        return self.raw()

    def next(self) -> str | None:
        char = self.peek()
        if char is not None:
            self.pos += 1
        return char

    # Structure

    def translate(self) -> str:
        out = self.alternation()
        if self.peek() is not None:
            raise self.error("unmatched closing ')'")
        return out

    def alternation(self) -> str:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        return "|".join(branches)

    def sequence(self) -> str:
        parts: list[str] = []
        while True:
            char = self.peek()
            if char is None or char == "|" or char == ")":
                return "".join(parts)
            groups_before = self.groups
            atom = self.atom()
            if atom is None:
                continue  # an embedded flag group, or a quantifier of nothing: nothing to write
            text, zero_width = atom
            quantifier = self.quantifier()
            if quantifier and zero_width:
                if self.groups == groups_before:
                    # A repeated assertion is the assertion, once or not at all: `${1,128}` (SageMaker's
                    # metadata patterns) is `$`, and matches twice as fast written so.
                    text, quantifier = (text if _least_repetitions(quantifier) else ""), ""
                else:
                    text = f"(?:{text})"
            elif quantifier and text == _LINEBREAK:
                text = _LINEBREAK_QUANTIFIED
            parts.append(text + quantifier)

    def atom(self) -> tuple[str, bool] | None:
        if self.peek() == "{" and (after := self.raw(1)) is not None and "0" <= after <= "9":
            # Java applies a counted quantifier with nothing before it (or after another quantifier) to an
            # empty node: `{2}b` matches "b", `x{2}{0,3}` matches "xx" only (rbin's "[0-9a-zA-Z]{11}{0,1011}").
            self.quantifier()
            return None
        char = self.next()
        if char == "(":
            return self.group()
        if char == "[":
            return self.character_class(), False
        if char == "\\":
            kind, value = self.escape(in_class=False)
            if kind == "char":
                return self.literal(value), False
            if kind == "set":
                return f"[{value}]", False
            return value
        if char == ".":
            if self.flags & _DOTALL:
                return "(?s:.)", False
            return (r"[^\n]" if self.flags & _UNIX_LINES else f"[^{_TERMINATORS}]"), False
        if char == "^":
            return self.caret(), True
        if char == "$":
            return self.dollar(multiline=bool(self.flags & _MULTILINE)), True
        if char in "*+?{":
            raise self.error(f"dangling meta character {char!r}")
        assert char is not None
        return self.literal(ord(char)), False

    def literal(self, code: int) -> str:
        if self.flags & _CASE_INSENSITIVE:
            if self.flags & _UNICODE_CASE:
                same = _unicode_case_equivalents(code)
                if same:
                    return "[" + "".join(_set_member(c) for c in (code, *same)) + "]"
            elif (partner := _ascii_case_partner(code)) is not None:
                return f"[{chr(code)}{chr(partner)}]"
        return _literal(code)

    def caret(self) -> str:
        if not self.flags & _MULTILINE:
            return r"\A"
        # Java's Caret: never at the very end of the input (even an empty one), never between \r and \n.
        if self.flags & _UNIX_LINES:
            return r"(?:(?!\Z)(?:\A|(?<=\n)))"
        return f"(?:(?!\\Z)(?:\\A|(?<=[{_TERMINATORS}]))(?!(?<=\\r)\\n))"

    def dollar(self, multiline: bool) -> str:
        if self.flags & _UNIX_LINES:
            return r"(?=\n|\Z)" if multiline else r"(?=\n?\Z)"
        if multiline:
            return f"(?:(?=[{_TERMINATORS}]|\\Z)(?!(?<=\\r)\\n))"
        # Java's Dollar: at the end, or before a final line terminator (\r\n counting as one).
        return f"(?:(?=(?:\\r\\n|[{_TERMINATORS}])?\\Z)(?!(?<=\\r)\\n))"

    def quantifier(self) -> str:
        char = self.peek()
        if char in ("*", "+", "?"):
            self.pos += 1
            text = char
        elif char == "{":
            self.pos += 1
            low = self.digits()
            if low is None:
                raise self.error("illegal repetition")
            high: str | None = low
            if self.raw() == ",":
                self.pos += 1
                high = self.digits()
            if self.next_raw() != "}":
                raise self.error("unclosed counted closure")
            if high is not None and int(high) < int(low):
                raise self.error("illegal repetition range")
            text = f"{{{low}}}" if high == low else f"{{{low},{high or ''}}}"
        else:
            return ""
        modifier = self.peek()
        if modifier in ("?", "+"):
            self.pos += 1
            text += modifier
        return text

    def digits(self) -> str | None:
        start = self.pos
        while (char := self.raw()) is not None and "0" <= char <= "9":
            self.pos += 1
        return self.src[start : self.pos] or None

    def group(self) -> tuple[str, bool] | None:
        saved = self.flags
        zero_width = False
        if self.raw() == "?":
            self.pos += 1
            char = self.next_raw()
            if char == ":":
                head = "(?:"
            elif char in ("=", "!"):
                head, zero_width = f"(?{char}", True
            elif char == ">":
                head = "(?>"
            elif char == "<":
                after = self.raw()
                if after in ("=", "!"):
                    self.pos += 1
                    head, zero_width = f"(?<{after}", True
                else:
                    name = self.group_name()
                    self.groups += 1
                    head = f"(?P<{name}>"
            else:
                if char is not None:
                    self.pos -= 1
                self.inline_flags()
                char = self.next_raw()
                if char == ")":
                    return None  # lasts until the end of the enclosing group, as in Java
                if char != ":":
                    raise self.error("unknown inline modifier")
                head = "(?:"
        else:
            self.groups += 1
            head = "("
        body = self.alternation()
        if self.next() != ")":
            raise self.error("unclosed group")
        self.flags = saved
        return f"{head}{body})", zero_width

    def group_name(self) -> str:
        start = self.pos
        while (char := self.raw()) is not None and char.isascii() and char.isalnum():
            self.pos += 1
        name = self.src[start : self.pos]
        if not name or not name[0].isalpha() or self.next_raw() != ">":
            raise self.error("bad named-group name")
        if name in self.names:
            raise self.error(f"named capturing group <{name}> is already defined")
        self.names.add(name)
        return name

    def inline_flags(self) -> None:
        adding = True
        while (char := self.raw()) is not None:
            if char == "-" and adding:
                adding = False
            elif char in _FLAG_BITS:
                bit = _FLAG_BITS[char]
                self.flags = self.flags | bit if adding else self.flags & ~bit
            else:
                break
            self.pos += 1
        if self.flags & _UNICODE_CHARACTER_CLASS:
            raise self.error("UNICODE_CHARACTER_CLASS (?U) is not supported")
        if self.flags & _CANON_EQ:
            raise self.error("CANON_EQ (?c) is not supported")

    # Escapes: ("char", code point) | ("set", V1 set body) | ("node", (regex text, zero width))

    def escape(self, in_class: bool, range_end: bool = False) -> tuple[str, Any]:
        char = self.next_raw()
        if char is None:
            raise self.error("trailing backslash")
        if char == "0":
            return "char", self.octal()
        if "1" <= char <= "9":
            if in_class:
                raise self.error("back reference in a character class")
            return "node", (self.back_reference(int(char)), False)
        if not (char.isascii() and char.isalpha()):
            return "char", ord(char)
        if char in _SIMPLE_ESCAPES:
            return "char", _SIMPLE_ESCAPES[char]
        if char == "x":
            return "char", self.hex_code()
        if char == "u":
            return "char", self.unicode_code()
        if char == "c":
            control = self.next_raw()
            if control is None:
                raise self.error("illegal control escape sequence")
            return "char", ord(control) ^ 64
        if char == "N":
            return "char", self.named_character()
        if char == "v" and range_end:
            return "char", 0x0B
        if char.lower() in _PREDEFINED:
            body = _PREDEFINED[char.lower()]
            return "set", body if char.islower() else _negate(body)
        if char in "pP":
            return "set", self.property(negated=char == "P")
        if in_class:
            raise self.error(f"illegal escape \\{char} in a character class")
        if char == "b":
            if self.src.startswith("{g}", self.pos):
                raise self.error("\\b{g} is not supported")
            return "node", (_WORD_BOUNDARY, True)
        if char == "B":
            return "node", (_NOT_WORD_BOUNDARY, True)
        if char == "A":
            return "node", (r"\A", True)
        if char == "z":
            return "node", (r"\Z", True)
        if char == "Z":
            return "node", (self.dollar(multiline=False), True)
        if char == "G":
            return "node", (r"\G", True)
        if char == "R":
            return "node", (_LINEBREAK, False)
        if char == "X":
            return "node", (r"\X", False)
        if char == "k":
            return "node", (self.named_back_reference(), False)
        raise self.error(f"illegal/unsupported escape sequence \\{char}")

    def octal(self) -> int:
        digits = ""
        while len(digits) < 3 and (char := self.raw()) is not None and "0" <= char <= "7":
            if len(digits) == 2 and digits[0] > "3":
                break
            digits += char
            self.pos += 1
        if not digits:
            raise self.error("illegal octal escape sequence")
        return int(digits, 8)

    def hex_code(self) -> int:
        if self.raw() == "{":
            end = self.src.find("}", self.pos)
            text = self.src[self.pos + 1 : end] if end > 0 else ""
            if not text or any(c not in "0123456789abcdefABCDEF" for c in text) or int(text, 16) > 0x10FFFF:
                raise self.error("illegal hexadecimal escape sequence")
            self.pos = end + 1
            return int(text, 16)
        return self.hex_digits(2)

    def hex_digits(self, count: int) -> int:
        text = self.src[self.pos : self.pos + count]
        if len(text) != count or any(c not in "0123456789abcdefABCDEF" for c in text):
            raise self.error("illegal hexadecimal escape sequence")
        self.pos += count
        return int(text, 16)

    def unicode_code(self) -> int:
        code = self.hex_digits(4)
        if 0xD800 <= code <= 0xDBFF and self.src.startswith("\\u", self.pos):
            saved = self.pos
            self.pos += 2
            try:
                low = self.hex_digits(4)
            except UntranslatablePattern:
                low = -1
            if 0xDC00 <= low <= 0xDFFF:
                return 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            self.pos = saved
        return code

    def named_character(self) -> int:
        end = self.src.find("}", self.pos)
        if self.raw() != "{" or end < 0:
            raise self.error("\\N needs {name}")
        name = self.src[self.pos + 1 : end]
        self.pos = end + 1
        try:
            return ord(unicodedata.lookup(name))
        except KeyError:
            raise self.error(f"unknown character name {name!r}") from None

    def back_reference(self, number: int) -> str:
        # Java: more digits belong to the reference only while such a group has been opened already.
        while (char := self.raw()) is not None and "0" <= char <= "9":
            longer = number * 10 + int(char)
            if longer > self.groups:
                break
            number = longer
            self.pos += 1
        text = f"\\g<{number}>"
        return f"(?i:{text})" if self.flags & _CASE_INSENSITIVE else text

    def named_back_reference(self) -> str:
        if self.next_raw() != "<":
            raise self.error("\\k is not followed by '<' for named capturing group")
        end = self.src.find(">", self.pos)
        name = self.src[self.pos : end] if end > 0 else ""
        if name not in self.names:
            raise self.error(f"named capturing group <{name}> does not exist")
        self.pos = end + 1
        text = f"(?P={name})"
        return f"(?i:{text})" if self.flags & _CASE_INSENSITIVE else text

    def property(self, negated: bool) -> str:
        char = self.next_raw()
        if char is None:
            raise self.error("illegal character family escape")
        if char == "{":
            end = self.src.find("}", self.pos)
            if end < 0:
                raise self.error("unclosed character family")
            name = self.src[self.pos : end]
            self.pos = end + 1
        else:
            name = char
        if self.flags & _UNICODE_CHARACTER_CLASS:
            raise self.error("UNICODE_CHARACTER_CLASS is not supported")
        body = _java_property(name, bool(self.flags & _CASE_INSENSITIVE))
        return _negate(body) if negated else body

    # Character classes (Java's Pattern.clazz and range)

    def character_class(self) -> str:
        negate = False
        if self.raw() == "^":
            self.pos += 1
            negate = True
        operands: list[list[str]] = []
        items: list[str] = []
        while True:
            char = self.peek()
            if char is None:
                raise self.error("unclosed character class")
            if char == "[":
                self.pos += 1
                items.append(self.character_class())
                continue
            if char == "&" and self.raw(1) == "&":
                self.pos += 2
                if self.peek() == "&":
                    # Java then intersects with its last item and unions what follows into a shared bit set.
                    raise self.error("'&&&' in a character class is not supported")
                operands.append(items)
                items = []
                continue
            if char == "]" and (items or operands):
                self.pos += 1
                break
            items.append(self.class_item())
        operands.append(items)
        operands = [operand for operand in operands if operand]
        if not operands:
            raise self.error("bad class syntax")
        if len(operands) == 1:
            body = "".join(operands[0])
        else:
            body = "&&".join(f"[{''.join(operand)}]" for operand in operands)
        return _negate(body) if negate else f"[{body}]"

    def class_item(self) -> str:
        char = self.next()
        if char == "\\":
            # Java: \v is VT (0x0B), not the vertical-whitespace class, where a range could start.
            kind, value = self.escape(in_class=True, range_end=self.raw(1) == "-")
            if kind == "set":
                return value
            low = value
        else:
            assert char is not None
            low = ord(char)
        if self.peek() == "-":
            after = self.raw(1)
            if after is not None and after not in "[]":
                self.pos += 1
                char = self.next()
                if char == "\\":
                    kind, high = self.escape(in_class=True, range_end=True)
                    if kind != "char":
                        raise self.error("illegal character range")
                else:
                    assert char is not None
                    high = ord(char)
                if high < low:
                    raise self.error("illegal character range")
                return self.class_range(low, high)
        return self.class_range(low, low)

    def class_range(self, low: int, high: int) -> str:
        text = _set_member(low) if low == high else f"{_set_member(low)}-{_set_member(high)}"
        if self.flags & _CASE_INSENSITIVE and self.flags & _UNICODE_CASE:
            # Java's SingleU for one character; CIRangeU for a range: also what upper-cases, or lower-cases
            # after upper-casing, into it.
            extra = _unicode_case_equivalents(low) if low == high else _unicode_case_range_extras(low, high)
            text += "".join(_set_member(code) for code in extra)
        elif self.flags & _CASE_INSENSITIVE:
            # Java's CIRange: also the ASCII letters whose other case falls in the range.
            partners = {
                partner
                for code in range(max(low, 0x41), min(high, 0x7A) + 1)
                if (partner := _ascii_case_partner(code)) is not None and not low <= partner <= high
            }
            text += "".join(_set_member(partner) for partner in sorted(partners))
        return text


# ---------------------------------------------------------------------------------------------------------
# The measurement quoted in the module docstring.

if __name__ == "__main__":  # pragma: no cover
    import timeit

    import botocore.session

    session = botocore.session.get_session()
    update = session.get_service_model("sagemaker").operation_model("UpdateModelPackage")
    update_params = {
        "ModelPackageArn": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn-model/7",
        "ModelApprovalStatus": "Approved",
        "ApprovalDescription": "Approved for uat by alice@example.com: " + "x" * 985,
        "CustomerMetadataProperties": {
            "promotion:stage": "uat",
            "promotion:approvedBy": "alice@example.com",
            "promotion:approvedAt": "2026-01-02T03:04:05Z",
            "promotion:executionName": "churn-model-7-uat",
            "promotion:gate": "passed",
            "promotion:note": "Zürich team sign-off",
        },
        "ClientToken": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    }
    put_item = session.get_service_model("dynamodb").operation_model("PutItem")
    item: dict[str, Any] = {f"attribute{i}": {"S": f"value {i}"} for i in range(22)}
    item.update({f"number{i}": {"N": str(i * 1.5)} for i in range(5)})
    item["flag"] = {"BOOL": True}
    item["nested"] = {"M": {"a": {"S": "x"}, "b": {"N": "1"}}}
    item["list"] = {"L": [{"S": "x"}, {"N": "2"}]}
    put_params = {"TableName": "decision-log", "Item": item, "ConditionExpression": "attribute_not_exists(entryKey)"}
    for label, model, params in (("UpdateModelPackage", update, update_params), ("PutItem", put_item, put_params)):
        assert violations(model, params) == [], violations(model, params)
        runs = 20000
        seconds = min(timeit.repeat(lambda m=model, p=params: violations(m, p), number=runs, repeat=5))
        print(f"{label}: {seconds / runs * 1e6:.1f} µs per call")
