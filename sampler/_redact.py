"""Redaction of personal data and secrets from wire records.

Runs on the sampler's background worker thread, once per record, before the record is
serialised; nothing here is called on the host app's thread. Every public method is pure
apart from the documented in-place update of the record, holds no shared mutable state and
is safe to call from several threads at once. No text is ever logged.

Built-in kinds, in precedence order (a span of text is redacted once, by the first kind
that claims it; a later match overlapping an earlier one is dropped whole):

``api_key`` > ``jwt`` > ``bearer`` > ``email`` > ``ipv6`` > ``iban`` > ``card`` >
``ipv4`` > ``phone`` > user kinds (in the order given).

Secrets come first because they are the most specific shapes and may contain digit runs
that would otherwise read as cards or phones; IPv6 precedes the numeric kinds so an
embedded ``::ffff:192.0.2.1`` is one address; IBAN precedes card and phone because its
BBAN is a long digit run.

Speed is the design constraint (the worker must keep up with ~20k records/s): each kind
sits behind a substring or single-character prefilter, the digit-led kinds share one
scan whose first character is a plain character set (so ``re`` skips ahead in C), and
the expensive checks (Luhn, ISO 13616 mod-97, :mod:`ipaddress`) run only on candidates.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
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

_KIND_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

# Already-redacted text is claimed first so redaction is idempotent and user patterns
# cannot eat the markers.
_MARKER_PREFIX = "[REDACTED:"
_MARKER = re.compile(r"\[REDACTED:[a-z][a-z0-9_]{0,31}\]")

# Secrets. Each branch starts with a literal and checks its left boundary *after* the
# literal, because a leading lookbehind would stop ``re`` from using the literal to skip.
_API_KEY = re.compile(
    r"""
    (?:
        sk-(?<![A-Za-z0-9_\-]sk-)(?P<sk>[A-Za-z0-9_\-]{20,})           # Anthropic, OpenAI
      | A[KS]IA(?<![A-Za-z0-9]A[KS]IA)[A-Z0-9]{16}                     # AWS access key id
      | gh[pousr]_(?<![A-Za-z0-9_]gh[pousr]_)[A-Za-z0-9]{30,251}       # GitHub classic
      | github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{22,}       # GitHub fine-grained
      | xox[abprs]-(?<![A-Za-z0-9]xox[abprs]-)[A-Za-z0-9\-]{10,}       # Slack
      | [sr]k_(?:live|test)_(?<![A-Za-z0-9_][sr]k_(?:live|test)_)[A-Za-z0-9]{16,}  # Stripe
    )
    (?![A-Za-z0-9_\-])
    """,
    re.VERBOSE,
)
_API_KEY_HINTS = ("sk-", "AKIA", "ASIA", "gh", "xox", "k_live_", "k_test_")
_HAS_DIGIT = re.compile(r"[0-9]")
_HAS_LETTER = re.compile(r"[A-Za-z]")

_JWT = re.compile(
    r"eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
    r"(?![A-Za-z0-9_\-])"
)

# RFC 6750 b64token after the scheme word; only the token is replaced.
_BEARER = re.compile(r"(?:Bearer|bearer|BEARER)(?<![A-Za-z0-9_]......)[ \t]+(?P<tok>[A-Za-z0-9\-._~+/]+=*)")

# Email is found from each "@": the local part is matched on the reversed text to its left
# (a forward regex would retry at every letter), the domain forward from the "@".
_EMAIL_LOCAL_REV = re.compile(r"[A-Za-z0-9._%+\-]{1,64}")
_EMAIL_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)

# IPv6: gate on a colon pair at most one group apart, then widen to the whole candidate.
_IPV6_GATE = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6_CAND = re.compile(
    r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}(?![\w:\[]|\.[0-9])"
)
_HEX = frozenset("0123456789abcdefABCDEF")

# The digit-led kinds in one scan. The first character is a plain set so ``re`` skips in C
# to the next digit, "+" or "("; each branch then checks what came before that character
# (a fixed-width lookbehind that includes it). The IBAN branch lands on the first check
# digit and is widened to the two country letters afterwards.
_NUMERIC = re.compile(
    r"""
    [0-9+(]
    (?:
        (?<=[A-Z]{2}[0-9])(?<![A-Za-z0-9\]][A-Z]{2}[0-9])
        (?P<iban>[0-9](?:\ ?[A-Z0-9]{4}){2,7}(?:\ ?[A-Z0-9]{1,3})?)(?![A-Za-z0-9\[])
    |
        # Not inside a word, a number, a price, a path or a version.
        (?<=[0-9])(?<![\w.,+\-/\#$€£%:\]][0-9])
        (?:
            (?<=[2-6])
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
          | (?<=0)(?P<pairs>[1-9](?:[\ .\-][0-9]{2}){4})(?![\w\[\-/]|[\ .,:\-][0-9])
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
_DIGITS = "0123456789"
_SEPARATORS = re.compile(r"[ \-]")
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
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iban_ok(compact: str) -> bool:
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    # int(ch, 36) maps 0-9 to themselves and A-Z to 10-35, exactly the ISO 13616 table.
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _card_span(text: str, start: int, end: int) -> int | None:
    """End of the longest Luhn-valid prefix of whole digit groups, or None.

    Trying shorter prefixes lets "4111 1111 1111 1111 12/25" redact the card and keep the
    expiry the greedy match had swallowed.
    """
    candidate = text[start:end]
    groups = _SEPARATORS.split(candidate)
    while groups:
        digits = "".join(groups)
        if len(digits) < 13:
            return None
        if len(digits) <= 19 and _luhn_ok(digits):
            return start + len(" ".join(groups))
        groups.pop()
    return None


def _iban_span(text: str, start: int, end: int) -> int | None:
    """End of the valid IBAN starting at ``start`` (country letters included), or None."""
    expected = _IBAN_LENGTHS.get(text[start : start + 2])
    if expected is None:
        return None
    # Walk the candidate up to the registry length, so trailing words swallowed by the
    # greedy group repetition are left alone.
    compact: list[str] = []
    pos = start
    while pos < end and len(compact) < expected:
        ch = text[pos]
        if ch != " ":
            compact.append(ch)
        pos += 1
    if len(compact) != expected or (pos < end and text[pos] != " "):
        return None
    return pos if _iban_ok("".join(compact)) else None


def _ipv6_ok(candidate: str) -> bool:
    # "::", "::1" and code such as "a::b" are valid addresses but not personal data; times
    # and MAC addresses have neither "::" nor eight groups and never reach ipaddress.
    if "::" not in candidate and candidate.count(":") < (6 if "." in candidate else 7):
        return False
    if _HAS_DIGIT.search(candidate) is None:
        return False
    if sum(1 for g in re.split(r"[:.]", candidate) if g) < 2:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _ipv4_ok(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:
        return False
    return True


class _Spans:
    """Claimed ``(start, end, kind)`` spans; ``kind`` None marks an existing marker."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[int, int, str | None]] = []

    def claim(self, start: int, end: int, kind: str | None) -> bool:
        for s, e, _ in self.items:
            if start < e and s < end:
                return False
        self.items.append((start, end, kind))
        return True


class Redactor:
    """Replaces personal data and secrets with ``[REDACTED:<kind>]`` markers.

    Construct once per sampler and share it: the compiled state is read-only, so
    :meth:`redact_text` and :meth:`redact_record` may run on any number of threads.
    """

    __slots__ = ("_enabled", "_extra")

    def __init__(
        self,
        *,
        enabled: bool = True,
        extra_patterns: Mapping[str, str | re.Pattern[str]] | None = None,
    ) -> None:
        """extra_patterns: kind name -> regex; user kinds are counted under their own name
        and applied after the built-ins, in the mapping's order. The whole match is
        replaced; empty matches are ignored.

        Raises ValueError naming the offender for a kind name that does not match
        ``[a-z][a-z0-9_]{0,31}`` or that is a built-in kind, a regex that does not compile,
        a bytes pattern, or a pattern that matches the empty string.
        """
        self._enabled = enabled
        extra: list[tuple[str, re.Pattern[str]]] = []
        for kind, pattern in (extra_patterns or {}).items():
            if not isinstance(kind, str) or _KIND_NAME.fullmatch(kind) is None:
                raise ValueError(
                    f"redaction kind name {kind!r} is invalid: use 1-32 characters of "
                    "[a-z0-9_] starting with a letter"
                )
            if kind in BUILTIN_KINDS:
                raise ValueError(
                    f"redaction kind name {kind!r} is a built-in kind: choose another name"
                )
            if isinstance(pattern, re.Pattern):
                compiled = pattern
            elif isinstance(pattern, str):
                try:
                    compiled = re.compile(pattern)
                except re.error as exc:
                    raise ValueError(
                        f"redaction pattern for kind {kind!r} is not a valid regex: {exc}"
                    ) from exc
            else:
                raise ValueError(f"redaction pattern for kind {kind!r} must be a str or re.Pattern")
            if not isinstance(compiled.pattern, str):
                raise ValueError(f"redaction pattern for kind {kind!r} must be a str pattern, not bytes")
            if compiled.fullmatch("") is not None:
                raise ValueError(f"redaction pattern for kind {kind!r} matches the empty string")
            extra.append((kind, compiled))
        self._extra: tuple[tuple[str, re.Pattern[str]], ...] = tuple(extra)

    @property
    def enabled(self) -> bool:
        return self._enabled

    # -- text ---------------------------------------------------------------------------

    def redact_text(self, text: str, counts: dict[str, int]) -> str:
        """Return ``text`` with every match replaced; add per-kind counts into ``counts``.

        Pure apart from ``counts``; thread-safe; never logs the text. Text that is already
        redacted is returned unchanged (markers are left alone and not counted). When the
        redactor is disabled the text is returned as is.
        """
        if not self._enabled or not text:
            return text
        spans = _Spans()
        if _MARKER_PREFIX in text:
            for m in _MARKER.finditer(text):
                spans.claim(m.start(), m.end(), None)
        if any(hint in text for hint in _API_KEY_HINTS):
            self._find_api_keys(text, spans)
        if "eyJ" in text:
            for m in _JWT.finditer(text):
                spans.claim(m.start(), m.end(), "jwt")
        if "earer" in text or "EARER" in text:
            self._find_bearer(text, spans)
        if "@" in text:
            self._find_emails(text, spans)
        if ":" in text:
            self._find_ipv6(text, spans)
        if (
            "0" in text or "1" in text or "2" in text or "3" in text or "4" in text
            or "5" in text or "6" in text or "7" in text or "8" in text or "9" in text
        ):  # fmt: skip
            self._find_numeric(text, spans)
        for kind, pattern in self._extra:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    spans.claim(m.start(), m.end(), kind)
        items = spans.items
        if not items or all(kind is None for _, _, kind in items):
            return text
        items.sort()
        out: list[str] = []
        pos = 0
        for start, end, kind in items:
            if kind is None:
                continue
            out.append(text[pos:start])
            out.append(f"[REDACTED:{kind}]")
            counts[kind] = counts.get(kind, 0) + 1
            pos = end
        out.append(text[pos:])
        return "".join(out)

    @staticmethod
    def _find_api_keys(text: str, spans: _Spans) -> None:
        for m in _API_KEY.finditer(text):
            sk = m.group("sk")
            # "sk-" followed by a long hyphenated phrase is prose; real keys carry digits.
            if sk is not None and (_HAS_DIGIT.search(sk) is None or _HAS_LETTER.search(sk) is None):
                continue
            spans.claim(m.start(), m.end(), "api_key")

    @staticmethod
    def _find_bearer(text: str, spans: _Spans) -> None:
        for m in _BEARER.finditer(text):
            tok = m.group("tok")
            # "the bearer of this card": a token is long and not a plain lowercase word.
            if len(tok) < 8:
                continue
            if tok.isalpha() and not any(ch.isupper() for ch in tok[1:]):
                continue
            spans.claim(m.start("tok"), m.end("tok"), "bearer")

    @staticmethod
    def _find_emails(text: str, spans: _Spans) -> None:
        at = text.find("@")
        while at != -1:
            nxt = at + 1
            if at > 0:
                local = _EMAIL_LOCAL_REV.match(text[max(0, at - 64) : at][::-1])
                if local is not None:
                    start = at - len(local.group().rstrip("."))
                    domain = _EMAIL_DOMAIN.match(text, at + 1)
                    if start < at and domain is not None:
                        spans.claim(start, domain.end(), "email")
                        nxt = domain.end()
            at = text.find("@", nxt)

    @staticmethod
    def _find_ipv6(text: str, spans: _Spans) -> None:
        pos = 0
        while True:
            gate = _IPV6_GATE.search(text, pos)
            if gate is None:
                return
            colon = gate.start()
            start = colon
            while start > 0 and colon - start < 4 and text[start - 1] in _HEX:
                start -= 1
            pos = colon + 1
            if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_:.]"):
                continue  # inside a word or identifier ("std::vector", "deadbeef01::")
            m = _IPV6_CAND.match(text, start)
            if m is not None and _ipv6_ok(m.group()):
                spans.claim(start, m.end(), "ipv6")
                pos = m.end()

    @staticmethod
    def _find_numeric(text: str, spans: _Spans) -> None:
        for m in _NUMERIC.finditer(text):
            group = m.lastgroup
            start, end = m.span()
            if group == "iban":
                start -= 2
                ok_end = _iban_span(text, start, end)
                if ok_end is not None:
                    spans.claim(start, ok_end, "iban")
            elif group == "card":
                ok_end = _card_span(text, start, end)
                if ok_end is not None:
                    spans.claim(start, ok_end, "card")
            elif group == "ipv4":
                if _ipv4_ok(m.group()):
                    spans.claim(start, end, "ipv4")
            elif group == "intl":
                if 8 <= len(_NON_DIGITS.sub("", m.group())) <= 15:
                    spans.claim(start, end, "phone")
            elif group == "trunk" or (group == "paren" and text[start + 1] == "0"):
                if 10 <= len(_NON_DIGITS.sub("", m.group())) <= 11:
                    spans.claim(start, end, "phone")
            else:  # nanp, pairs, NANP in parentheses: the shape is the whole check
                spans.claim(start, end, "phone")

    # -- records ------------------------------------------------------------------------

    def redact_record(self, record: dict[str, Any]) -> dict[str, int]:
        """Redact a wire record in place; return the counts by kind (only counts > 0).

        Walks ``system_instructions`` (parts or None), the ``parts`` of every message in
        ``input_messages`` and ``output_messages``, ``error["message"]`` (or ``error``
        itself when it is a string) and the string values of ``attributes``. Inside a part
        every string value at any depth is redacted (``content``, ``arguments`` as a
        str/dict/list, ``response`` as a str or nested parts, ...) except the part's own
        ``type`` and ``id``, which are schema fields that link tool calls to responses.
        Ids, timestamps, model names and other top-level fields are never touched.

        Called on the worker thread. Returns {} and changes nothing when disabled.
        Exceptions propagate: a record of an unexpected shape raises ``TypeError`` (the
        caller fails closed, dropping and counting the record); the message never
        contains record text.
        """
        if not self._enabled:
            return {}
        counts: dict[str, int] = {}
        system = record.get("system_instructions")
        if system is not None:
            record["system_instructions"] = self._walk_parts(system, counts, "system_instructions")
        for field in ("input_messages", "output_messages"):
            messages = record.get(field)
            if messages is None:
                continue
            if not isinstance(messages, list):
                raise TypeError(f"record field {field} is {type(messages).__name__}, not a list")
            for i, message in enumerate(messages):
                if not isinstance(message, dict):
                    raise TypeError(f"{field}[{i}] is {type(message).__name__}, not a message object")
                parts = message.get("parts")
                if parts is not None:
                    message["parts"] = self._walk_parts(parts, counts, f"{field}[{i}].parts")
        error = record.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, str):
                error["message"] = self.redact_text(message, counts)
        elif isinstance(error, str):
            record["error"] = self.redact_text(error, counts)
        attributes = record.get("attributes")
        if attributes:
            if not isinstance(attributes, dict):
                raise TypeError(f"record field attributes is {type(attributes).__name__}, not a dict")
            for key, value in attributes.items():
                if isinstance(value, str):
                    attributes[key] = self.redact_text(value, counts)
        return {kind: n for kind, n in counts.items() if n > 0}

    def _walk_parts(self, parts: Any, counts: dict[str, int], where: str) -> Any:
        if isinstance(parts, str):
            return self.redact_text(parts, counts)
        if not isinstance(parts, list):
            raise TypeError(f"{where} is {type(parts).__name__}, not a list of parts")
        for i, part in enumerate(parts):
            if isinstance(part, dict):
                self._walk_part(part, counts)
            else:
                parts[i] = self._walk_value(part, counts)
        return parts

    def _walk_part(self, part: dict[str, Any], counts: dict[str, int]) -> None:
        for key, value in part.items():
            if key == "type" or key == "id":
                continue
            if key == "response" and isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        self._walk_part(item, counts)
                    else:
                        value[i] = self._walk_value(item, counts)
            else:
                part[key] = self._walk_value(value, counts)

    def _walk_value(self, value: Any, counts: dict[str, int]) -> Any:
        if isinstance(value, str):
            return self.redact_text(value, counts)
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = self._walk_value(item, counts)
            return value
        if isinstance(value, list):
            for i, item in enumerate(value):
                value[i] = self._walk_value(item, counts)
            return value
        if value is None or isinstance(value, (int, float, bool)):
            return value
        # Unknown objects could render to anything: refuse rather than ship them unread.
        raise TypeError(f"cannot redact a value of type {type(value).__name__}")


_Finder = Callable[[str, _Spans], None]
