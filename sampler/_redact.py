"""Redaction of personal data and secrets from wire records.

Runs on the sampler's background worker thread, once per record, before the record is
serialised; nothing here runs on the host app's thread. A :class:`Redactor` holds only
read-only compiled state, so any number of threads may share one. No text is ever logged.

Built-in kinds, in precedence order. A span of text is redacted once, by the first kind
that claims it; a later match that overlaps an earlier one is dropped whole:

``api_key`` > ``jwt`` > ``bearer`` > ``email`` > ``ipv6`` > ``iban`` > ``card`` >
``ipv4`` > ``phone`` > user kinds (in the order given).

Secrets come first because they are the most specific shapes and contain digit runs that
could otherwise read as cards or phones; a token after ``Bearer`` that is itself a JWT or
API key is counted as that. IPv6 precedes the numeric kinds so ``::ffff:192.0.2.1`` is one
address, and IBAN precedes card and phone because its BBAN is a long digit run.

How it stays fast (the worker must keep up with ~20k records/s, so a clean 2 KB text gets
a few microseconds): a regex that has to try every position costs ~10 ns per character in
CPython, so no built-in pattern ever scans the whole text. Instead the text is mapped once
through ``bytes.translate`` into a *shape* (digits, hex letters, ``.`` and ``:`` become
``0``; letters fold to lower case; ``s`` and ``k`` merge), and a handful of literal
``bytes.find`` needles on the shape, plus single-character ``in`` checks on the text,
locate the few places worth a closer look. The exact patterns, and the Luhn, ISO 13616
mod-97 and :mod:`ipaddress` checks, run only there. Non-Latin-1 characters become ``?`` in
the shape, which keeps shape offsets equal to text offsets.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["BUILTIN_KINDS", "Redactor"]

BUILTIN_KINDS: tuple[str, ...] = (
    "api_key",
    "jwt",
    "bearer",
    "email",
    "ipv6",
    "iban",
    "card",
    "ipv4",
    "phone",
)
_RANK = {kind: i for i, kind in enumerate(BUILTIN_KINDS)}

_KIND_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

# A (start, end, kind) span; kind None marks an existing marker, protected but not counted.
_Span = tuple[int, int, "str | None"]


def _build_shape() -> bytes:
    table = bytearray(range(256))
    for ch in b"0123456789.":
        table[ch] = ord("0")
    for ch in b"kxKSB-":
        table[ch] = 1
    return bytes(table)


# The shape: digits and "." become "0" and the trigger characters k x K S B - become \x01;
# everything else maps to itself, so shape offsets equal text offsets.
_SHAPE = _build_shape()

# Digit needles: 7+ digits/dots (contiguous cards and IBANs, IPv4, dotted phones, compact
# international numbers) and a digit, a space, then 3 digits (grouped cards and IBANs,
# spaced phones). Dash-grouped numbers are found by _TRIGGER.
_NUMERIC_NEEDLES = (b"0000000", b"0 000")
# One pass over the shape with a one-byte literal prefix (cheap to scan for) whose every
# branch starts with a literal, which sre rejects without entering the branch: a miss costs
# a few nanoseconds per trigger character.
_TRIGGER = re.compile(
    rb"""
    \x01
    (?:
        \x01(?<=s\x01\x01)(?P<sk>)               # s k -
      | o\x01[abprs]\x01(?P<slack>)              # x o x ? -
      | IA(?<=A\x01IA)(?P<aws>)                  # A K I A, A S I A
      | (?:earer|EARER)[\ \t](?P<bearer>)        # B earer
      | 000(?<=000\x01000)(?P<dash>)             # 415-555-0132, 4111-1111-...
    )
    """,
    re.VERBOSE,
)
_WINDOW_BEFORE = 48  # longest candidate (an IBAN with spaces is 42) before its needle
_WINDOW_AFTER = 80

_MARKER_PREFIX = "[REDACTED:"
_MARKER = re.compile(r"\[REDACTED:[a-z][a-z0-9_]{0,31}\]")

# Exact patterns, applied with .match() at the offsets the needles found.
_SK = re.compile(r"(?<![A-Za-z0-9_\-])sk-(?P<body>[A-Za-z0-9_\-]{20,})")
_SLACK = re.compile(r"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9\-]{10,}")
_AWS = re.compile(r"(?<![A-Za-z0-9])A[KS]IA[A-Z0-9]{16}(?![A-Za-z0-9])")
# The "_" of these prefixes is rare in prose, so a literal-prefix scan for it is cheap.
_UNDERSCORE = re.compile(
    r"_(?:(?<=gh[pousr]_)(?P<gh>)|(?<=github_pat_)(?P<ghpat>)|(?<=[sr]k_live_|[sr]k_test_)(?P<stripe>))"
)
_UNDERSCORE_START = {"gh": 3, "ghpat": 10, "stripe": 7}
_GITHUB_STRIPE = re.compile(
    r"(?<![A-Za-z0-9_])"
    r"(?:gh[pousr]_[A-Za-z0-9]{30,251}|github_pat_[A-Za-z0-9_]{22,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,})"
    r"(?![A-Za-z0-9_])"
)
# "J" is rare in prose, so when present a literal-prefix scan for "eyJ" is affordable.
_JWT = re.compile(
    r"eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}(?![A-Za-z0-9_\-])"
)
# RFC 6750 b64token after the scheme word; only the token is replaced.
_BEARER = re.compile(r"(?<![A-Za-z0-9_])(?:Bearer|bearer|BEARER)[ \t]+(?P<tok>[A-Za-z0-9\-._~+/]+=*)")
_HAS_DIGIT = re.compile(r"[0-9]")
_HAS_LETTER = re.compile(r"[A-Za-z]")

# Email is anchored on each "@": the local part is matched on the reversed text to its left,
# the domain forward from the "@".
_EMAIL_LOCAL_REV = re.compile(r"[A-Za-z0-9._%+\-]{1,64}")
_EMAIL_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)

_IPV6_GATE = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6_CAND = re.compile(
    r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}(?![\w:\[]|\.[0-9])"
)
_IPV6_GROUPS = re.compile(r"[0-9A-Fa-f]+")
_HEX = frozenset("0123456789abcdefABCDEF")

# The digit-led kinds. The first character is a plain set; each branch then checks what came
# before it with a fixed-width lookbehind that includes it. The IBAN branch lands on the
# first check digit and is widened to the two country letters afterwards.
_NUMERIC = re.compile(
    r"""
    [0-9+(]
    (?:
        (?<=[A-Z]{2}[0-9])(?<![A-Za-z0-9\]][A-Z]{2}[0-9])
        (?P<iban>[0-9](?:\ ?[A-Z0-9]{4}){2,7}(?:\ ?[A-Z0-9]{1,3})?)(?![A-Za-z0-9\[])
    |
        # Not inside a word, a number, an amount, a path or a version.
        (?<=[0-9])(?<![\w.,+\-/\#$€£%\]][0-9])
        (?:
            (?<=[2-6])  # card networks: 2 and 5 Mastercard, 3 Amex/Diners/JCB, 4 Visa, 6 Discover/UnionPay
            (?P<card>
                [0-9]{12,18}
              | [0-9]{3}[\ \-][0-9]{4}[\ \-][0-9]{4}[\ \-][0-9]{1,4}(?:[\ \-][0-9]{1,3})?
              | [0-9]{3}[\ \-][0-9]{6}[\ \-][0-9]{4,5}
            )(?![\w\[\-])
          | (?P<ipv4>[0-9]{0,2}(?:\.[0-9]{1,3}){3})(?![\w\[]|\.[0-9])
          | (?P<nanp>
                [0-9]{2}[\ .\-][0-9]{3}[\ .\-][0-9]{4}
              | (?<=1)[\ .\-](?:[0-9]{3}[\ .\-]|\([0-9]{3}\)\ ?)[0-9]{3}[\ .\-][0-9]{4}
            )(?![\w\[\-/]|[.,:][0-9])
          | (?<=0)(?P<trunk>[1-9][0-9]{0,3}[\ \-][0-9]{3,8}(?:[\ \-][0-9]{3,4})?)
            (?![\w\[\-/]|[.,:][0-9])
        )
    |
        (?<=\+)(?<![\w)\]]\+)
        (?P<intl>[0-9]{1,3}(?:[\ .\-]?(?:\([0-9]{1,4}\)|[0-9]{1,5})){1,6})
        (?![\w\[]|[.\-][0-9])
    |
        (?<=\()(?<![\w\]]\()
        (?P<paren>
            [0-9]{3}\)\ ?[0-9]{3}[\ .\-][0-9]{4}
          | 0[1-9][0-9]{0,3}\)\ ?[0-9]{3,8}(?:[\ \-][0-9]{3,4})?
        )(?![\w\[\-/]|[.,:][0-9])
    )
    """,
    re.VERBOSE,
)
_NUMERIC_KIND = {
    "iban": "iban", "card": "card", "ipv4": "ipv4",
    "nanp": "phone", "trunk": "phone", "intl": "phone", "paren": "phone",
}  # fmt: skip
_CARD_SEPARATORS = re.compile(r"[ \-]")
_NON_DIGITS = re.compile(r"[^0-9]")

# ISO 13616 registry: country code -> IBAN length. A mod-97 pass alone lets through 1 in 97
# random strings; the length check removes most of those.
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27,
    "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(compact: str) -> bool:
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    # int(ch, 36) maps 0-9 to themselves and A-Z to 10-35: exactly the ISO 13616 table.
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _card_end(text: str, start: int, end: int) -> int | None:
    """End of the longest Luhn-valid prefix made of whole digit groups, or None.

    Shorter prefixes let "4111 1111 1111 1111 12/25" lose only the expiry that the greedy
    pattern swallowed, instead of failing the check as a whole.
    """
    groups = _CARD_SEPARATORS.split(text[start:end])
    while groups:
        digits = "".join(groups)
        if len(digits) < 13:
            return None
        if len(digits) <= 19 and _luhn_ok(digits):
            return start + sum(len(g) for g in groups) + len(groups) - 1
        groups.pop()
    return None


def _iban_end(text: str, start: int, end: int) -> int | None:
    """End of the valid IBAN starting at ``start`` (its country letters), or None.

    The candidate is cut at the registry length for its country, so trailing words the
    greedy group repetition swallowed are left alone.
    """
    expected = _IBAN_LENGTHS.get(text[start : start + 2])
    if expected is None:
        return None
    compact: list[str] = []
    pos = start
    while pos < end and len(compact) < expected:
        if text[pos] != " ":
            compact.append(text[pos])
        pos += 1
    if len(compact) != expected or (pos < end and text[pos] != " "):
        return None
    return pos if _iban_ok("".join(compact)) else None


def _ipv6_ok(candidate: str) -> bool:
    # "::", "::1" and "a::b" parse but are not personal data (loopback, code); times and MAC
    # addresses have neither "::" nor eight groups and never reach ipaddress.
    if "::" not in candidate and candidate.count(":") < (6 if "." in candidate else 7):
        return False
    if _HAS_DIGIT.search(candidate) is None or len(_IPV6_GROUPS.findall(candidate)) < 2:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _ipv4_ok(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:  # octet > 255 or a leading zero
        return False
    return True


def _needle_hits(shape: bytes, needle: bytes, step: int) -> Iterable[int]:
    pos = shape.find(needle)
    while pos != -1:
        yield pos
        pos = shape.find(needle, pos + step)


def _find_builtin(text: str) -> list[_Span]:
    """Non-overlapping built-in spans of ``text`` (markers included), unordered."""
    found: dict[str, list[tuple[int, int]]] = {}

    def add(kind: str, start: int, end: int) -> None:
        found.setdefault(kind, []).append((start, end))

    shape = text.encode("latin-1", "replace").translate(_SHAPE)
    windows: list[int] = []
    for hit in _TRIGGER.finditer(shape):
        group = hit.lastgroup
        pos = hit.start()
        if group == "dash":
            windows.append(pos)
        elif group == "sk":
            m = _SK.match(text, pos - 1)
            # "sk-" followed by a long hyphenated phrase is prose; real keys carry digits.
            if m is not None and _HAS_DIGIT.search(m["body"]) and _HAS_LETTER.search(m["body"]):
                add("api_key", m.start(), m.end())
        elif group == "slack":
            m = _SLACK.match(text, pos)
            if m is not None:
                add("api_key", m.start(), m.end())
        elif group == "aws":
            m = _AWS.match(text, pos - 1)
            if m is not None:
                add("api_key", m.start(), m.end())
        else:  # bearer
            m = _BEARER.match(text, pos)
            if m is not None and _plausible_token(m["tok"]):
                add("bearer", m.start("tok"), m.end("tok"))
    if "_" in text:
        for hit in _UNDERSCORE.finditer(text):
            start = hit.start() - _UNDERSCORE_START[hit.lastgroup or ""]
            m = _GITHUB_STRIPE.match(text, start)
            if m is not None:
                add("api_key", start, m.end())
    if "J" in text:
        for m in _JWT.finditer(text):
            add("jwt", m.start(), m.end())
    if "@" in text:
        _find_emails(text, add)
    if ":" in text:
        _find_ipv6(text, 0, len(text), add)

    for needle in _NUMERIC_NEEDLES:
        windows.extend(_needle_hits(shape, needle, _WINDOW_AFTER))
    if "+" in text:
        plus = text.find("+")
        while plus != -1:
            if text[plus + 1 : plus + 2].isdigit():
                windows.append(plus)
            plus = text.find("+", plus + 1)
    if windows:
        _find_numeric(text, sorted(windows), add)

    spans: list[_Span] = []
    if "[" in text and _MARKER_PREFIX in text:
        spans.extend((m.start(), m.end(), None) for m in _MARKER.finditer(text))
    for kind in BUILTIN_KINDS:
        for start, end in found.get(kind, ()):
            _claim(spans, start, end, kind)
    return spans


def _claim(spans: list[_Span], start: int, end: int, kind: str | None) -> None:
    for s, e, _ in spans:
        if start < e and s < end:
            return
    spans.append((start, end, kind))


def _plausible_token(tok: str) -> bool:
    # "the bearer of this card": a token is long and not a plain word.
    if len(tok) < 8:
        return False
    return not (tok.isalpha() and not any(ch.isupper() for ch in tok[1:]))


def _find_emails(text: str, add: Any) -> None:
    at = text.find("@")
    while at != -1:
        nxt = at + 1
        if at > 0:
            local = _EMAIL_LOCAL_REV.match(text[max(0, at - 64) : at][::-1])
            if local is not None:
                start = at - len(local.group().rstrip("."))
                domain = _EMAIL_DOMAIN.match(text, at + 1)
                if start < at and domain is not None:
                    add("email", start, domain.end())
                    nxt = domain.end()
        at = text.find("@", nxt)


def _find_numeric(text: str, hits: list[int], add: Any) -> None:
    """Run the exact numeric patterns in windows around needle hits.

    Every candidate contains a hit at most ``_WINDOW_BEFORE`` characters from its start, so
    windows start early enough; a match the window end may have cut short is redone
    without the bound.
    """
    n = len(text)
    windows: list[list[int]] = []
    for hit in hits:
        lo, hi = max(0, hit - _WINDOW_BEFORE), min(n, hit + _WINDOW_AFTER)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], hi)
        else:
            windows.append([lo, hi])
    for lo, hi in windows:
        for m in _NUMERIC.finditer(text, lo, hi):
            if m.end() >= hi - 2 and hi < n:
                # The window cut it short (or made a lookahead see an end): redo unbounded.
                m2 = _NUMERIC.match(text, m.start())
                if m2 is None:
                    continue
                m = m2
            group = m.lastgroup or ""
            start, end = m.span()
            kind = _NUMERIC_KIND[group]
            if kind == "iban":
                start -= 2
                ok_end = _iban_end(text, start, end)
            elif kind == "card":
                ok_end = _card_end(text, start, end)
            elif kind == "ipv4":
                ok_end = end if _ipv4_ok(m.group()) else None
            elif group == "intl":
                ok_end = end if 8 <= len(_NON_DIGITS.sub("", m.group())) <= 15 else None
            elif group == "trunk" or (group == "paren" and text[start + 1] == "0"):
                ok_end = end if 10 <= len(_NON_DIGITS.sub("", m.group())) <= 11 else None
            else:  # NANP shapes: the shape is the whole check
                ok_end = end
            if ok_end is not None:
                add(kind, start, ok_end)


def _find_ipv6(text: str, lo: int, hi: int, add: Any) -> None:
    pos = lo
    while True:
        gate = _IPV6_GATE.search(text, pos, hi)
        if gate is None:
            return
        colon = start = gate.start()
        while start > 0 and colon - start < 4 and text[start - 1] in _HEX:
            start -= 1
        pos = colon + 1
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_:.]"):
            continue  # inside a word or identifier: "std::vector", "deadbeef01::"
        m = _IPV6_CAND.match(text, start)
        if m is not None and _ipv6_ok(m.group()):
            add("ipv6", start, m.end())
            pos = m.end()


def _render(text: str, spans: list[_Span], counts: dict[str, int]) -> str:
    spans.sort()
    out: list[str] = []
    pos = 0
    for start, end, kind in spans:
        if kind is None:
            continue
        out.append(text[pos:start])
        out.append(f"[REDACTED:{kind}]")
        counts[kind] = counts.get(kind, 0) + 1
        pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


class Redactor:
    """Replaces personal data and secrets with ``[REDACTED:<kind>]`` markers.

    Construct once and share: the compiled state is read-only, so :meth:`redact_text` and
    :meth:`redact_record` may run on any number of threads at once.
    """

    __slots__ = ("_enabled", "_extra")

    def __init__(
        self,
        *,
        enabled: bool = True,
        extra_patterns: Mapping[str, str | re.Pattern[str]] | None = None,
    ) -> None:
        """extra_patterns: kind name -> regex. User kinds are counted under their own name
        and applied after the built-ins, in the mapping's order, to each string separately
        (so ``^`` and ``$`` mean what they say). The whole match is replaced.

        Raises ValueError naming the offender for a kind name that does not match
        ``[a-z][a-z0-9_]{0,31}`` or is a built-in kind, a regex that does not compile, a
        bytes pattern, or a pattern that matches the empty string.
        """
        self._enabled = enabled
        extra: list[tuple[str, re.Pattern[str]]] = []
        for kind, pattern in (extra_patterns or {}).items():
            if not isinstance(kind, str) or _KIND_NAME.fullmatch(kind) is None:
                raise ValueError(
                    f"redaction kind name {kind!r} is invalid: use 1-32 characters of "
                    "a-z, 0-9 and _, starting with a letter"
                )
            if kind in _RANK:
                raise ValueError(f"redaction kind name {kind!r} is a built-in kind: pick another name")
            if isinstance(pattern, re.Pattern):
                compiled = pattern
            elif isinstance(pattern, str):
                try:
                    compiled = re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"redaction pattern for kind {kind!r} is not a valid regex: {exc}") from exc
            else:
                raise ValueError(f"redaction pattern for kind {kind!r} must be a str or a compiled str pattern")
            if not isinstance(compiled.pattern, str):
                raise ValueError(f"redaction pattern for kind {kind!r} must be a str pattern, not bytes")
            if compiled.search("") is not None:
                raise ValueError(f"redaction pattern for kind {kind!r} matches the empty string")
            extra.append((kind, compiled))
        self._extra: tuple[tuple[str, re.Pattern[str]], ...] = tuple(extra)

    @property
    def enabled(self) -> bool:
        return self._enabled

    def redact_text(self, text: str, counts: dict[str, int]) -> str:
        """Return ``text`` with every match replaced; add per-kind counts into ``counts``.

        Pure apart from ``counts``; thread-safe; never logs the text. Existing
        ``[REDACTED:...]`` markers are left alone and not counted, so redacting twice
        changes nothing. When the redactor is disabled the text is returned as is.
        """
        if not self._enabled or not text:
            return text
        spans = _find_builtin(text)
        self._add_extra(text, spans)
        return _render(text, spans, counts)

    def _add_extra(self, text: str, spans: list[_Span]) -> None:
        for kind, pattern in self._extra:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    _claim(spans, m.start(), m.end(), kind)

    def redact_record(self, record: dict[str, Any]) -> dict[str, int]:
        """Redact a wire record in place; return the counts by kind (only counts > 0).

        Walks ``system_instructions`` (a list of parts, or None), the ``parts`` of every
        message in ``input_messages`` and ``output_messages``, ``error["message"]`` (or
        ``error`` itself when it is a string) and the string values of ``attributes``.
        Inside a part every string value at any depth is redacted (``content``,
        ``arguments`` as a str, dict or list, ``response`` as a str or nested parts, ...)
        except the part's own ``type`` and ``id``, which are schema fields linking tool
        calls to their results. Ids, timestamps, model names and all other top-level
        fields are never touched.

        Called on the worker thread; does not block. Returns {} and changes nothing when
        disabled. Exceptions propagate so the caller can fail closed (drop and count the
        record): a value of an unexpected type raises TypeError, whose message names the
        field but never contains record text.
        """
        if not self._enabled:
            return {}
        slots: list[tuple[Any, Any]] = []
        _collect_record(record, slots)
        counts: dict[str, int] = {}
        if not slots:
            return counts
        texts = [container[key] for container, key in slots]
        # One pass over all strings joined by NUL: no built-in pattern can match NUL, so no
        # match crosses a boundary and guards see it like a string edge, while the fixed
        # cost of a pass is paid once per record rather than once per string.
        joined = "\x00".join(texts)
        spans = _find_builtin(joined)
        spans.sort()
        span_i = 0
        offset = 0
        for (container, key), text in zip(slots, texts):
            end = offset + len(text)
            mine: list[_Span] = []
            while span_i < len(spans) and spans[span_i][0] < end:
                s, e, kind = spans[span_i]
                mine.append((s - offset, e - offset, kind))
                span_i += 1
            if self._extra:
                self._add_extra(text, mine)
            if mine:
                new = _render(text, mine, counts)
                if new is not text:
                    container[key] = new
            offset = end + 1
        return counts


# Part fields that are schema, not content: "type" names the part kind, "id" links a tool
# call to its response.
_PART_SCHEMA_KEYS = frozenset({"type", "id"})


def _collect_record(record: Mapping[str, Any], slots: list[tuple[Any, Any]]) -> None:
    system = record.get("system_instructions")
    if system is not None:
        _collect_parts(record, "system_instructions", slots)
    for field in ("input_messages", "output_messages"):
        messages = record.get(field)
        if messages is None:
            continue
        if not isinstance(messages, list):
            raise TypeError(f"record field {field} is a {type(messages).__name__}, not a list")
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                raise TypeError(f"{field}[{i}] is a {type(message).__name__}, not a message object")
            if message.get("parts") is not None:
                _collect_parts(message, "parts", slots)
    error = record.get("error")
    if isinstance(error, dict):
        if isinstance(error.get("message"), str):
            slots.append((error, "message"))
    elif isinstance(error, str):
        slots.append((record, "error"))
    attributes = record.get("attributes")
    if attributes:
        if not isinstance(attributes, dict):
            raise TypeError(f"record field attributes is a {type(attributes).__name__}, not a dict")
        slots.extend((attributes, key) for key, value in attributes.items() if isinstance(value, str))


def _collect_parts(container: Any, key: Any, slots: list[tuple[Any, Any]]) -> None:
    parts = container[key]
    if isinstance(parts, str):
        slots.append((container, key))
        return
    if not isinstance(parts, list):
        raise TypeError(f"parts field {key!r} is a {type(parts).__name__}, not a list")
    for i, part in enumerate(parts):
        if isinstance(part, dict):
            for name, value in part.items():
                if name in _PART_SCHEMA_KEYS:
                    continue
                if name == "response" and isinstance(value, list):
                    _collect_parts(part, name, slots)
                else:
                    _collect_value(part, name, slots)
        else:
            _collect_value(parts, i, slots)


def _collect_value(container: Any, key: Any, slots: list[tuple[Any, Any]]) -> None:
    value = container[key]
    if isinstance(value, str):
        slots.append((container, key))
    elif isinstance(value, dict):
        for name in value:
            _collect_value(value, name, slots)
    elif isinstance(value, list):
        for i in range(len(value)):
            _collect_value(value, i, slots)
    elif isinstance(value, tuple):
        container[key] = items = list(value)  # JSON has no tuples; a list serialises the same
        for i in range(len(items)):
            _collect_value(items, i, slots)
    elif value is not None and not isinstance(value, (int, float)):
        # An object could render to anything once serialised: refuse rather than ship it unread.
        raise TypeError(f"cannot redact a value of type {type(value).__name__} in field {key!r}")
