"""Redaction of personal data and secrets from wire records.

Runs on the sampler's background worker thread, once per record, before the record is
serialised; nothing here runs on the host app's thread. A :class:`Redactor` holds only
read-only compiled state, so any number of threads may share one. No text is ever logged.

Built-in kinds, in precedence order (:data:`BUILTIN_KINDS`). A span of text is redacted
once, by the first kind that claims it; a later match that runs into a claimed span keeps
the part that is still valid on its own (an email's local part, a phone's leading groups,
the rest of a secret value), or is dropped:

``private_key`` > ``api_key`` > ``jwt`` > ``credentials`` > ``secret`` > ``bearer`` >
``email`` > ``ipv6`` > ``iban`` > ``card`` > ``crypto`` > ``nhs`` > ``ssn`` > ``itin`` >
``passport`` > ``driver_license`` > ``bank_account`` > ``nino`` > ``dob`` > ``ipv4`` >
``phone`` > user patterns (in the order given) > extra detectors (in the order given).

Secrets come first because they are the most specific shapes and hold digit runs that
could otherwise read as cards or phones; a ``Bearer`` token that is itself a JWT or API
key is counted as that. IPv6 precedes the numeric kinds so ``::ffff:192.0.2.1`` is one
address, IBAN precedes card and phone because its account number is a long digit run, and
the context kinds precede phone so "NHS 943 476 5919" is an NHS number. The kinds that need
a context word, a keyword or a checksum (SSN and the other identity numbers, dates of
birth, keyword secrets, URL credentials, wallets, vendor tokens) live in
:mod:`sampler._detectors`.

Speed is the design constraint: the worker must keep up with ~20k records/s. A regex that
has to be tried at every position costs ~10 ns per character in CPython, so no built-in
pattern scans a whole text. Instead the text is mapped once through ``bytes.translate``
into a *shape* (see ``_SHAPE``), in which a few literal needles and one regex with a
one-byte literal prefix find the handful of places worth a closer look; single-character
``in`` checks gate the rare kinds. The exact patterns, and the Luhn, ISO 13616 mod-97,
mod-11, Base58Check, bech32 and :mod:`ipaddress` checks, run only there. Non-Latin-1
characters become ``?`` in the shape, which keeps shape offsets equal to text offsets.

Not detected, by design or as known gaps: names and free-form addresses (pass an NER
detector, see :class:`Redactor`), phone numbers without any separator unless they start
with ``+`` or follow a context word (``4155550132`` alone is as likely an order number),
national numbers written in pairs (``01 23 45 67 89``), IPv4 addresses of four one-digit
octets (``1.1.1.1``), a bare lower-case ``bearer <token>`` outside an ``Authorization``
header, and digit-free keys (a 20-character AWS key id without a digit is 1 in 180).
"""

from __future__ import annotations

import ipaddress
import re
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from . import _detectors
from ._detectors import iban_end as _iban_end

__all__ = ["BUILTIN_KINDS", "DETECTOR_FAILED", "Detector", "Redactor", "Span"]

BUILTIN_KINDS: tuple[str, ...] = (
    "private_key",
    "api_key",
    "jwt",
    "credentials",
    "secret",
    "bearer",
    "email",
    "ipv6",
    "iban",
    "card",
    "crypto",
    "nhs",
    "ssn",
    "itin",
    "passport",
    "driver_license",
    "bank_account",
    "nino",
    "dob",
    "ipv4",
    "phone",
)
_RANK = {kind: i for i, kind in enumerate(BUILTIN_KINDS)}
_R_PRIVATE_KEY, _R_API_KEY, _R_JWT = _RANK["private_key"], _RANK["api_key"], _RANK["jwt"]
_R_CREDENTIALS, _R_SECRET, _R_BEARER = _RANK["credentials"], _RANK["secret"], _RANK["bearer"]
_R_EMAIL, _R_IPV6, _R_CRYPTO = _RANK["email"], _RANK["ipv6"], _RANK["crypto"]
# Kinds that always claim their span (nothing of lower rank can cut them).
_R_ALWAYS = _R_API_KEY
# Kinds added with the context detectors: a candidate that runs into a claimed span is kept
# for the parts still unclaimed, so nothing of it leaks.
_GAP_KINDS = frozenset(
    {"private_key", "credentials", "secret", "crypto", "nhs", "ssn", "itin", "passport", "driver_license",
     "bank_account", "nino", "dob"}
)  # fmt: skip
_KIND_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

# (start, end, kind); kind None marks an existing marker: protected, not counted.
_Span = tuple[int, int, "str | None"]
# (precedence rank, start, end, kind) before overlaps are resolved.
_Found = list[tuple[int, int, int, str]]

class Span(NamedTuple):
    """A run of text to redact: ``text[start:end]``, counted under ``kind``."""

    start: int
    end: int
    kind: str


# The protocol for extra detectors (NER and the like): one string in, spans out. See
# Redactor.__init__ for the contract.
Detector = Callable[[str], Iterable[tuple[int, int, str]]]
# The kind, and the whole-string marker, of a string whose extra detector failed.
DETECTOR_FAILED = "redactor_failed"
_FAILED_MARKER = f"[REDACTED:{DETECTOR_FAILED}]"
logger = logging.getLogger(__name__)
_warned_detectors: set[str] = set()

_MARKER_PREFIX = "[REDACTED:"
_MARKER = re.compile(r"\[REDACTED:[a-z][a-z0-9_]{0,31}\]")
_MARKERS = {kind: f"[REDACTED:{kind}]" for kind in BUILTIN_KINDS}


def _build_shape() -> bytes:
    table = bytearray(range(256))
    for ch in b"0123456789.":
        table[ch] = ord("0")
    for ch in b"-:kxKSB":
        table[ch] = 1
    return bytes(table)


# The shape: digits and "." become "0"; the trigger characters - : k x K S B become \x01
# (the "s k -", "x o x", "A K I A", "A S I A", "B earer", "- - - - - BEGIN", "gl pat -",
# dash-grouped digits and IPv6 colons all have one); everything else maps to itself.
_SHAPE = _build_shape()
# 8+ digits and dots: contiguous cards and IBANs, IPv4, dotted phones, compact numbers.
# (Seven would also catch "1.1.1.1", at the price of a false hit on every "1,299.00.")
_RUN_NEEDLE = b"00000000"
# A digit, a space, three digits: grouped cards and IBANs, spaced phone numbers.
_SPACED_NEEDLE = b"0 000"
# Decimals such as "1299.00." also make eight "0"s; a run must start like this to count.
_RUN_SHAPES = re.compile(rb"\.*(?:[0-9]{8}|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9]{3}\.[0-9]{3}\.[0-9]{4})")
# Scanned for its one-byte literal prefix, which sre does quickly. Every branch starts with
# a literal or a class, so sre rejects it without entering it: a trigger character in
# ordinary prose costs a few tens of nanoseconds. Branches consume little, because matches
# do not overlap and a consumed "-" could not start the next hit.
_TRIGGER = re.compile(
    rb"""
    \x01
    (?:
        IA(?<=A\x01IA)(?P<aws>)                     # AKIA, ASIA
      | [eE](?:arer|ARER)[\ \t](?P<bearer>)          # Bearer, BEARER
      | 000(?<=000\x01000)(?P<dash>)                # 415-555-0132, 4111-1111-...
      | \x01(?:(?<=s\x01\x01)(?P<sk>)|(?P<v6a>))    # sk-   or   ::
      | o\x01[abprso]\x01(?P<slack>)                # xoxb-
      | [0a-fA-F](?=[0a-fA-F]{0,3}\x01(?:\x01|[0a-fA-F]{1,4}\x01))(?P<v6>)  # :db8:: :db8:1:
      | (?<=at\x01|dt\x01|ft\x01|rt\x01|bt\x01|tt\x01|mt\x01|nt\x01|as\x01|sp\x01|tp\x01|pi\x01|TY\x01)(?P<dashkey>)  # glpat- sq0csp- pypi- PuTTY-
    )
    """,
    re.VERBOSE,
)
# A numeric candidate lies inside one *token* of the shape: a run of digits, separators,
# parentheses, "+" and capitals (an IBAN's letters). A window runs from 18 characters
# before a hit (an IBAN starts 16 before its first digit run) to the end of its token.
_TOKEN = re.compile(rb"[0 ()+\x01A-Z]*")
_TOKEN_BACK = 18
_LONGEST_NUMERIC = 44  # an IBAN with spaces is 42 characters; the guards look 2 further

# Exact patterns, applied with .match() where the shape pointed.
# "sk-" followed by a long hyphenated phrase is prose: a key's body holds a digit and a letter.
_SK = re.compile(r"(?<![A-Za-z0-9_\-])sk-(?=[A-Za-z0-9_\-]*?[0-9])(?=[A-Za-z0-9_\-]*?[A-Za-z])[A-Za-z0-9_\-]{20,}")
_SLACK = re.compile(r"(?<![A-Za-z0-9\]])xox[abprso]-[A-Za-z0-9\-]{10,}")
_AWS = re.compile(r"(?<![A-Za-z0-9\]])A[KS]IA[A-Z0-9]{16}(?![A-Za-z0-9\[])")
_BEARER = re.compile(r"(?<![A-Za-z0-9_])(?:[Bb]earer|BEARER)[ \t]+(?P<tok>[A-Za-z0-9\-._~+/]+=*)")
# "_" is rare in prose, so a literal-prefix scan for it is cheap when it is present.
_UNDERSCORE = re.compile(
    r"_(?:(?<=gh[pousr]_)(?P<gh>)|(?<=github_pat_)(?P<ghpat>)|(?<=[sr]k_live_|[sr]k_test_)(?P<stripe>)"
    r"|(?<=npm_)(?P<npm>))"
)
_UNDERSCORE_BACK = {"gh": 3, "ghpat": 10, "stripe": 7, "npm": 3}
_GITHUB_STRIPE = re.compile(
    r"(?<![A-Za-z0-9_\]])"
    r"(?:gh[pousr]_[A-Za-z0-9]{30,251}|github_pat_[A-Za-z0-9_]{22,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,})"
    r"(?![A-Za-z0-9_\[])"
)
_JWT = re.compile(
    r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}(?![A-Za-z0-9_\-\[])"
)
_HAS_DIGIT = re.compile(r"[0-9]")

# Email is anchored on each "@": the local part is matched on the reversed text to its left
# (a forward pattern would be retried at every letter), the domain forward from the "@".
# Local parts may hold any word character, so "josé.garcía@" is not cut to "a@"; domains
# stay ASCII (IDNs appear as xn-- labels), so "example.jpです" ends at "jp".
_EMAIL_LOCAL_REV = re.compile(r"[\w.%+\-]+")
_EMAIL_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9]|-[A-Za-z0-9\[])"
)

_IPV6_GATE = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6_CAND = re.compile(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}(?![\w:\[]|\.[0-9\[])")
_IPV6_GROUPS = re.compile(r"[0-9A-Fa-f]+")
_HEX = frozenset("0123456789abcdefABCDEF")

# The digit-led kinds. The first character is a plain set; each branch then checks what came
# before it with a fixed-width lookbehind that includes it. The IBAN branch lands on the
# first check digit and is widened to the two country letters afterwards. Guards treat "]"
# before and "[" after like the digits a marker replaced, so redacting twice changes nothing.
_NUMERIC = re.compile(
    r"""
    [0-9+(]
    (?<![0-9.][0-9])  # a digit inside a number: one cheap rejection for every branch
    (?:
        (?=[0-9\ .\-()]{6})  # short numbers ("14:30", "25 seats") end here, cheaply
        (?:
            # Not inside a word, an amount, a path or a range.
            (?<![\w,+\-/\#$€£%\]][0-9])(?<=[0-9])
            (?:
                (?<=[2-6])  # networks: 2/5 Mastercard, 3 Amex/Diners/JCB, 4 Visa, 6 Discover/UnionPay
                (?P<card>
                    [0-9]{12,18}
                  | [0-9]{3}[\ \-][0-9]{4}[\ \-][0-9]{4}[\ \-][0-9]{1,4}(?:[\ \-][0-9]{1,3})?
                  | [0-9]{3}[\ \-][0-9]{6}[\ \-][0-9]{4,5}
                )(?![\w\[\-])
              | (?P<ipv4>[0-9]{0,2}(?:\.[0-9]{1,3}){3})(?![\w\[]|\.[0-9\[])
              | (?P<nanp>
                    [0-9]{2}[\ .\-][0-9]{3}[\ .\-][0-9]{4}
                  | (?<=1)[\ .\-](?:[0-9]{3}[\ .\-]|\([0-9]{3}\)\ ?)[0-9]{3}[\ .\-][0-9]{4}
                )(?![\w\[\-/]|[.,][0-9\[])
              | (?<=0)(?P<trunk>[1-9][0-9]{0,3}[\ \-][0-9]{3,8}(?:[\ \-][0-9]{3,4})?)
                (?![\w\[\-/]|[.,][0-9\[])
            )
        |
            (?<=\+)(?<![\w)\]]\+)
            (?P<intl>[0-9]{1,3}(?:[\ .\-]?(?:\([0-9]{1,4}\)|[0-9]{1,5})){1,6})
            (?![\w\[]|[.\-][0-9\[])
        |
            (?<=\()(?<![\w\]]\()
            (?P<paren>
                [0-9]{3}\)\ ?[0-9]{3}[\ .\-][0-9]{4}
              | 0[1-9][0-9]{0,3}\)\ ?[0-9]{3,8}(?:[\ \-][0-9]{3,4})?
            )(?![\w\[\-/]|[.,][0-9\[])
        )
    |
        (?<=[A-Z]{2}[0-9])(?<![A-Za-z0-9\]][A-Z]{2}[0-9])
        (?P<iban>[0-9](?:\ ?[A-Z0-9]{4}){2,7}(?:\ ?[A-Z0-9]{1,3})?)(?![A-Za-z0-9\[])
    )
    """,
    re.VERBOSE,
)
_CARD_SEPARATORS = re.compile(r"[ \-]")
_NON_DIGITS = re.compile(r"[^0-9]")

# Luhn doubling as a byte table: "0".."9" -> 0 2 4 6 8 1 3 5 7 9 (2d, less 9 when above 9).
_LUHN_DOUBLE = bytes.maketrans(b"0123456789", bytes([0, 2, 4, 6, 8, 1, 3, 5, 7, 9]))


def _luhn_ok(digits: str) -> bool:
    raw = digits.encode("ascii")
    # From the right, odd places count as they are and even places doubled; sum() over
    # bytes runs in C.
    plain = raw[-1::-2]
    return (sum(plain) - 48 * len(plain) + sum(raw[-2::-2].translate(_LUHN_DOUBLE))) % 10 == 0


def _card_end(text: str, start: int, end: int) -> int | None:
    """End of the longest Luhn-valid prefix made of whole digit groups, or None.

    Shorter prefixes let "4111 1111 1111 1111 12/25" lose only the expiry the greedy
    pattern swallowed instead of failing the check as a whole.
    """
    candidate = text[start:end]
    digits = candidate.replace(" ", "").replace("-", "")
    if len(digits) <= 19 and _luhn_ok(digits):
        return end
    groups = _CARD_SEPARATORS.split(candidate)
    while len(groups) > 1:
        groups.pop()
        digits = "".join(groups)
        if len(digits) < 13:
            return None
        if len(digits) <= 19 and _luhn_ok(digits):
            return start + sum(len(g) for g in groups) + len(groups) - 1
    return None


def _ipv6_ok(candidate: str) -> bool:
    # "::", "::1" and "a::b" parse but are loopback or code, not personal data; times and
    # MAC addresses have neither "::" nor eight groups and never reach ipaddress.
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
    except ValueError:  # an octet above 255, or a leading zero
        return False
    return True


def _plausible_token(tok: str) -> bool:
    # "Bearer bonds" and "Bearer Authentication" are prose: a token is long and not a word.
    if len(tok) < 8:
        return False
    return not (tok.isalpha() and (tok.isupper() or tok.islower() or tok.istitle()))


def _builtin_spans(text: str) -> list[_Span]:
    """Non-overlapping built-in spans of ``text``, existing markers included; unordered."""
    raw = text.encode("latin-1", "replace")
    shape = raw.translate(_SHAPE)
    found: _Found = []
    windows: list[int] = []
    v6_from = -1
    pem_until = 0
    for hit in _TRIGGER.finditer(shape):
        group = hit.lastgroup
        pos = hit.start()
        if group == "dash":
            windows.append(pos)
            continue
        if text[pos] == "-":
            before = text[pos - 1] if pos > 0 else "\n"
            if text.startswith("----", pos):
                if pos >= pem_until:
                    pem_until = _detectors.find_private_key(text, pos, found, _R_PRIVATE_KEY)
            elif before in "tspi":  # whichever branch took the "-"
                _detectors.find_dash_key(text, pos, found, _R_API_KEY)
            elif before == "Y":
                _detectors.find_putty_key(text, pos, found, _R_PRIVATE_KEY)
        if group == "v6" or group == "v6a" or group == "sk":
            if group == "sk":
                m = _SK.match(text, pos - 1)
                if m is not None:
                    found.append((_R_API_KEY, m.start(), m.end(), "api_key"))
                    continue
            # A two-trigger hit ("-:" in "-::1") may hide the colon pair behind its first.
            colon = pos if text[pos] == ":" else pos + 1 if group != "v6" and text[pos + 1] == ":" else -1
            if colon >= 0 and colon >= v6_from:
                # Look back for the address's first group, but not into the previous one.
                v6_from = _find_ipv6(text, max(0, v6_from, colon - 5), colon + 8, found)
        elif group == "slack":
            m = _SLACK.match(text, pos)
            if m is not None:
                found.append((_R_API_KEY, pos, m.end(), "api_key"))
        elif group == "aws":
            m = _AWS.match(text, pos - 1)
            if m is not None:
                found.append((_R_API_KEY, m.start(), m.end(), "api_key"))
        elif group == "bearer":
            m = _BEARER.match(text, pos)
            if m is not None and _plausible_token(m["tok"]):
                found.append((_R_BEARER, m.start("tok"), m.end("tok"), "bearer"))
    if "_" in text:
        for under in _UNDERSCORE.finditer(text):
            group = under.lastgroup or ""
            start = under.start() - _UNDERSCORE_BACK[group]
            m = (_detectors.NPM if group == "npm" else _GITHUB_STRIPE).match(text, start)
            if m is not None:
                found.append((_R_API_KEY, start, m.end(), "api_key"))
    pos = text.find("J")
    while pos != -1:  # a few "J"s ("June", "JSON") are cheaper to visit than a regex scan
        if pos >= 2 and text[pos - 2 : pos] == "ey":
            # Every "eyJ" is a candidate, even inside another: if a key claims the outer
            # one's middle, the one after the key still stands on its own.
            m = _JWT.match(text, pos - 2)
            if m is not None:
                found.append((_R_JWT, pos - 2, m.end(), "jwt"))
        pos = text.find("J", pos + 1)
    if "@" in text:
        _find_emails(text, found)
        _detectors.find_url_credentials(text, found, _R_CREDENTIALS)
    if "=" in text or ":" in text:
        _detectors.find_assignments(text, found, _R_SECRET, _R_BEARER)

    # Digits inside an API key are not numbers of their own. Only keys are skipped: they
    # are always claimed, whereas an email or a JWT may yet lose to a higher kind.
    keys = [f for f in found if f[0] <= _R_ALWAYS]
    if keys:
        windows = [w for w in windows if _span_end(keys, w) < 0]
    for needle in (_RUN_NEEDLE, _SPACED_NEEDLE):
        pos = shape.find(needle)
        while pos != -1:
            skip = _span_end(keys, pos) if keys else -1
            if skip >= 0:
                pos = shape.find(needle, skip)
            elif needle is _RUN_NEEDLE and not raw[pos : pos + 8].isdigit() and _RUN_SHAPES.match(raw, pos) is None:
                pos = shape.find(needle, pos + 1)
            else:
                windows.append(pos)
                pos = shape.find(needle, _token_end(shape, pos))
    if "+" in text:
        pos = text.find("+")
        while pos != -1:
            if text[pos + 1 : pos + 2].isdigit() and (not keys or _span_end(keys, pos) < 0):
                windows.append(pos)
            pos = text.find("+", pos + 1)
    if windows:
        _find_numeric(text, shape, windows, found)
    for token in _detectors.SHAPE_LONG_TOKEN.finditer(shape):
        _detectors.find_long_token(text, token.start(), token.end(), found, _RANK)
    if "slack.com/" in text:
        _detectors.find_slack_hooks(text, found, _R_API_KEY)
    _detectors.find_context_numbers(text, shape, raw, found, _RANK)

    spans: list[_Span] = []
    if "[" in text and _MARKER_PREFIX in text:
        spans.extend((m.start(), m.end(), None) for m in _MARKER.finditer(text))
    if found:
        found.sort()  # precedence first, then position
        for rank, start, end, kind in found:
            for s, e, _ in spans:
                if start < e and s < end:
                    break
            else:
                spans.append((start, end, kind))
                continue
            # Overlaps a span already claimed: keep what is still valid on its own.
            if kind == "email":
                cut = _trimmed_email(text, spans, start, end)
                if cut is not None:
                    _claim(spans, cut[0], cut[1], kind)
            elif kind == "api_key":
                _merge_key(text, spans, start, end)
            elif kind in _GAP_KINDS:
                _claim_gaps(text, spans, start, end, kind)
            else:
                trimmed = _trimmed(text, spans, start, end, kind)
                if trimmed is not None:
                    _claim(spans, *trimmed)
    return spans


def _merge_key(text: str, spans: list[_Span], start: int, end: int) -> None:
    """Claim a key that overlaps other keys ("xoxb-ghp_...") as one span with them."""
    for s, e, kind in spans:
        if start < e and s < end and kind != "api_key":
            # A marker or a higher kind (a private key): the rest of the key still goes.
            _claim_gaps(text, spans, start, end, "api_key")
            return
    keep = [span for span in spans if not (start < span[1] and span[0] < end)]
    for s, e, _ in spans:
        if start < e and s < end:
            start, end = min(start, s), max(end, e)
    spans[:] = keep
    spans.append((start, end, "api_key"))


def _claim_gaps(text: str, spans: list[_Span], start: int, end: int, kind: str) -> None:
    """Claim the parts of [start, end) that no span covers yet (a secret value that a key
    or an email cut into pieces): none of it may leak, and a marker is never split."""
    cuts = sorted((max(s, start), min(e, end)) for s, e, _ in spans if start < e and s < end)
    pos = start
    for s, e in cuts:
        if s > pos and any(ch.isalnum() for ch in text[pos:s]):
            spans.append((pos, s, kind))
        pos = max(pos, e)
    if pos < end and any(ch.isalnum() for ch in text[pos:end]):
        spans.append((pos, end, kind))


def _trimmed_email(text: str, spans: list[_Span], start: int, end: int) -> tuple[int, int] | None:
    """The email cut back from the spans already claimed, or None when they cover its "@".

    The local part is matched greedily leftwards and the domain rightwards, so in
    "AKIA...EXAMPLE_jane@x.com.ghp_..." they swallow the keys on either side. Dropping the
    email would leave "_jane@x.com" for a second pass to find, so it is cut instead.
    """
    at = text.find("@", start, end)
    limit = end
    for s, e, _ in spans:
        if start < e and s < end:
            if e <= at:
                start = max(start, e)
            elif s > at:
                limit = min(limit, s)
            else:
                return None
    while start < at and text[start] == ".":
        start += 1
    if start >= at:
        return None
    if limit < end:
        domain = _EMAIL_DOMAIN.match(text, at + 1, limit)
        if domain is None:
            return None
        end = domain.end()
    return start, end


def _span_end(found: _Found, pos: int) -> int:
    """End of the found span that contains ``pos``, or -1."""
    for _, start, end, _kind in found:
        if start <= pos < end:
            return end
    return -1


def _claim(spans: list[_Span], start: int, end: int, kind: str | None) -> None:
    for s, e, _ in spans:
        if start < e and s < end:
            return
    spans.append((start, end, kind))


def _find_emails(text: str, found: _Found) -> None:
    at = text.find("@")
    while at != -1:
        nxt = at + 1
        if at > 0:
            # Look back 64 characters (the longest local part), further only if the run of
            # local-part characters goes on: an email must not start inside a word.
            back = 64
            while True:
                lo = max(0, at - back)
                local = _EMAIL_LOCAL_REV.match(text[lo:at][::-1])
                if local is None or local.end() < at - lo or lo == 0:
                    break
                back *= 16
            if local is not None:
                start = at - len(local.group().rstrip("."))
                domain = _EMAIL_DOMAIN.match(text, nxt)
                if start < at and domain is not None:
                    found.append((_R_EMAIL, start, domain.end(), "email"))
                    nxt = domain.end()
        at = text.find("@", nxt)


def _find_ipv6(text: str, lo: int, hi: int, found: _Found) -> int:
    """Find an IPv6 address with a colon pair in [lo, hi); return where to look next."""
    pos = lo
    while True:
        gate = _IPV6_GATE.search(text, pos, hi)
        if gate is None:
            return pos
        colon = start = gate.start()
        while start > 0 and colon - start < 4 and text[start - 1] in _HEX:
            start -= 1
        pos = colon + 1
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_:.]"):
            continue  # inside a word or identifier: "std::vector", "deadbeef01::"
        m = _IPV6_CAND.match(text, start)
        if m is not None and _ipv6_ok(m.group()):
            found.append((_R_IPV6, start, m.end(), "ipv6"))
            return m.end()


def _find_numeric(text: str, shape: bytes, hits: list[int], found: _Found) -> None:
    """Run the exact numeric patterns over the token around each needle hit."""
    windows: list[list[int]] = []
    for hit in sorted(hits):
        # Starting up to 18 back is cheaper than finding the token's start: the patterns'
        # own guards reject a start in the middle of a number.
        lo = max(0, hit - _TOKEN_BACK)
        hi = _token_end(shape, hit)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], hi)
        else:
            windows.append([lo, hi])
    for lo, hi in windows:
        # Two characters past the token let the trailing guards see what follows it. A
        # match that fails its check is passed over whole (its digits are not re-read as
        # something else), but one cut back by its check resumes where it was cut: a card
        # that Luhn trims from "4111 ... 1111 020" leaves "020 7946 0958" to read.
        pos = lo
        while True:
            m = _NUMERIC.search(text, pos, hi + 2)
            if m is None:
                break
            checked = _check_numeric(text, m)
            if checked is None:
                pos = m.end()
            else:
                kind, start, end = checked
                found.append((_RANK[kind], start, end, kind))
                pos = end


def _token_end(shape: bytes, pos: int) -> int:
    m = _TOKEN.match(shape, pos)
    return pos if m is None else m.end()  # never None: the pattern matches the empty string


def _check_numeric(text: str, m: re.Match[str]) -> tuple[str, int, int] | None:
    """(kind, start, end) of a valid numeric match, or None."""
    group = m.lastgroup
    start, end = m.span()
    if group == "iban":
        iban_end = _iban_end(text, start - 2, end)
        return None if iban_end is None else ("iban", start - 2, iban_end)
    if group == "card":
        card_end = _card_end(text, start, end)
        return None if card_end is None else ("card", start, card_end)
    if group == "ipv4":
        return ("ipv4", start, end) if _ipv4_ok(m.group()) else None
    if group == "intl":
        return _intl_phone(m.group(), start)
    if group == "trunk" or (group == "paren" and text[start + 1] == "0"):
        ok = 10 <= len(_NON_DIGITS.sub("", m.group())) <= 11
    else:  # NANP shapes: the shape is the whole check
        ok = True
    return ("phone", start, end) if ok else None


def _intl_phone(candidate: str, start: int) -> tuple[str, int, int] | None:
    """An international number of 8-15 digits (E.164), cut at a group boundary if longer.

    The groups are greedy, so "+44 20 7946 0958 2024" reads 18 digits; the number is its
    longest prefix of whole groups that is short enough.
    """
    digits = len(_NON_DIGITS.sub("", candidate))
    cut = len(candidate)
    while digits > 15:
        cut = max(candidate.rfind(" ", 0, cut), candidate.rfind("-", 0, cut), candidate.rfind(".", 0, cut))
        if cut <= 0:
            return None
        digits = len(_NON_DIGITS.sub("", candidate[:cut]))
    return ("phone", start, start + cut) if digits >= 8 else None


def _trimmed(text: str, spans: list[_Span], start: int, end: int, kind: str) -> tuple[int, int, str] | None:
    """(start, end, kind) of what is left of a candidate outside the claimed spans, or None.

    A candidate that runs into a claimed span keeps the part that is still valid by its own
    rules: in "+44 20 7946 0958@jane.doe@x.com" email takes "0958@jane.doe" and the phone
    "+44 20 7946" remains; in "2001:db8::1-(415) 555-0132" the address takes the "1" that
    "1-(415) 555-0132" began with and "(415) 555-0132" remains. Dropping such a candidate
    would leak the number, and a second pass would then find what the first did not.
    """
    lo, limit = start, end
    for s, e, _ in spans:
        if start < e and s < end:
            if s <= start:
                lo = max(lo, e)
            else:
                limit = min(limit, s)
    if lo >= limit:
        return None
    # A cut tail ends the text for the pattern; otherwise what follows stays in sight, and a
    # candidate that starts again after a claimed front may run on past the old end.
    stop = limit if limit < end else len(text)
    if kind == "jwt":
        if lo == start:
            m = _JWT.match(text, start, stop)
        else:
            again = text.find("eyJ", lo, end)
            m = None if again < 0 else _JWT.match(text, again, stop)
        return None if m is None else (m.start(), m.end(), kind)
    if kind == "bearer":
        return (start, limit, kind) if lo == start and _plausible_token(text[start:limit]) else None
    if kind not in ("iban", "card", "ipv4", "phone"):
        return None  # ipv6 and user kinds are not cut
    if lo == start:
        m = _NUMERIC.match(text, start + 2 if kind == "iban" else start, stop)
    else:
        m = _NUMERIC.search(text, lo, min(stop, end + _LONGEST_NUMERIC))
        if m is not None and m.start() >= end:
            m = None
    checked = None if m is None else _check_numeric(text, m)
    if checked is None or checked[1] < lo:
        return None
    return checked[1], checked[2], checked[0]


def _render(text: str, spans: list[_Span], counts: dict[str, int]) -> str:
    if len(spans) == 1:  # the common case
        start, end, kind = spans[0]
        if kind is None:
            return text
        counts[kind] = counts.get(kind, 0) + 1
        return text[:start] + (_MARKERS.get(kind) or f"[REDACTED:{kind}]") + text[end:]
    out: list[str] = []
    pos = 0
    for start, end, kind in sorted(spans):
        if kind is not None:
            out += (text[pos:start], _MARKERS.get(kind) or f"[REDACTED:{kind}]")
            counts[kind] = counts.get(kind, 0) + 1
            pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


class Redactor:
    """Replaces personal data and secrets with ``[REDACTED:<kind>]`` markers.

    Construct once and share: the compiled state is read-only, so :meth:`redact_text` and
    :meth:`redact_record` may run on any number of threads at once (extra detectors must
    then be thread-safe too).
    """

    __slots__ = ("_detectors", "_enabled", "_extra")

    def __init__(
        self,
        *,
        enabled: bool = True,
        extra_patterns: Mapping[str, str | re.Pattern[str]] | None = None,
        detectors: Sequence[Detector] = (),
    ) -> None:
        """extra_patterns: kind name -> regex. User kinds are counted under their own name
        (a built-in name adds to that kind's count) and applied after the built-ins, in the
        mapping's order, to each string separately, so ``^`` and ``$`` mean what they say;
        the whole match is replaced.

        detectors: extra detectors (a named-entity recogniser, an in-house id format), run
        after the built-ins and the patterns on each string separately. The protocol: a
        callable taking one ``str`` and returning an iterable of ``(start, end, kind)``
        (a :class:`Span` or any 3-tuple): half-open character offsets into that string,
        ``0 <= start < end <= len(text)``, and a kind name matching ``[a-z][a-z0-9_]{0,31}``.
        It is called on the sampler's worker thread, once per string, and its cost is paid
        per record there, so it should not block on I/O. Spans may overlap anything; what
        is already claimed stays with the built-ins (then earlier detectors) and the rest
        of the span is still redacted. It fails closed: if it raises, returns something
        that is not such an iterable, or a span out of range or with a bad kind, the whole
        string becomes ``[REDACTED:redactor_failed]``, counted as ``redactor_failed``, and
        one warning naming the detector and the exception type (never the text) is logged.

        Raises ValueError naming the offender for a kind name that does not match
        ``[a-z][a-z0-9_]{0,31}``, a regex that does not compile, a bytes pattern, a
        pattern that matches the empty string, or a detector that is not callable.
        """
        self._enabled = enabled
        extra: list[tuple[str, re.Pattern[str]]] = []
        for kind, pattern in (extra_patterns or {}).items():
            if not isinstance(kind, str) or _KIND_NAME.fullmatch(kind) is None:
                raise ValueError(
                    f"redaction kind name {kind!r} is invalid: use 1-32 characters of a-z, "
                    "0-9 and _, starting with a letter"
                )
            if isinstance(pattern, re.Pattern):
                compiled = pattern
            elif isinstance(pattern, str):
                try:
                    compiled = re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"redaction pattern for kind {kind!r} is not a valid regex: {exc}") from exc
            else:
                raise ValueError(f"redaction pattern for kind {kind!r} must be a str or a compiled pattern")
            if not isinstance(compiled.pattern, str):
                raise ValueError(f"redaction pattern for kind {kind!r} must be a str pattern, not bytes")
            if compiled.search("") is not None:
                raise ValueError(f"redaction pattern for kind {kind!r} matches the empty string")
            extra.append((kind, compiled))
        self._extra: tuple[tuple[str, re.Pattern[str]], ...] = tuple(extra)
        if isinstance(detectors, (str, bytes)) or not isinstance(detectors, Sequence):
            raise ValueError("redaction detectors must be a list of callables (text -> spans)")
        for detector in detectors:
            if not callable(detector):
                raise ValueError(f"redaction detector {detector!r} is not callable: it must map a str to spans")
        self._detectors: tuple[Detector, ...] = tuple(detectors)

    def redact_text(self, text: str, counts: dict[str, int]) -> str:
        """Return ``text`` with every match replaced; add per-kind counts into ``counts``.

        Pure apart from ``counts``; thread-safe; never logs the text. Existing
        ``[REDACTED:...]`` markers are left alone and not counted, so redacting twice
        changes nothing. When the redactor is disabled the text is returned as is.
        """
        if not self._enabled or not text:
            return text
        spans = _builtin_spans(text)
        if self._extra:
            self._add_extra(text, spans)
        if self._detectors and not self._add_detected(text, spans):
            counts[DETECTOR_FAILED] = counts.get(DETECTOR_FAILED, 0) + 1
            return _FAILED_MARKER
        return _render(text, spans, counts)

    def spans(self, text: str) -> list[Span]:
        """The spans :meth:`redact_text` would replace, sorted by position (markers already
        in the text are not listed). Raises what a failing extra detector raises."""
        if not self._enabled or not text:
            return []
        spans = _builtin_spans(text)
        if self._extra:
            self._add_extra(text, spans)
        for detector in self._detectors:
            for start, end, kind in _checked(text, detector(text)):
                _claim_gaps(text, spans, start, end, kind)
        return [Span(start, end, kind) for start, end, kind in sorted(spans) if kind is not None]

    def _add_extra(self, text: str, spans: list[_Span]) -> None:
        for kind, pattern in self._extra:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    _claim(spans, m.start(), m.end(), kind)

    def _add_detected(self, text: str, spans: list[_Span]) -> bool:
        """Claim the extra detectors' spans; False (fail closed) if one of them fails."""
        for detector in self._detectors:
            try:
                found = _checked(text, detector(text))
            except Exception as exc:  # noqa: BLE001 - any failure of a plug-in fails closed
                name = getattr(detector, "__qualname__", None) or type(detector).__qualname__
                if name not in _warned_detectors:
                    _warned_detectors.add(name)
                    logger.warning(
                        "tastevin: redaction detector %s failed (%s); its strings are replaced by %s",
                        name,
                        type(exc).__name__,
                        _FAILED_MARKER,
                    )
                return False
            for start, end, kind in found:
                _claim_gaps(text, spans, start, end, kind)
        return True

    def redact_record(self, record: dict[str, Any]) -> dict[str, int]:
        """Redact a wire record in place; return the counts by kind (only counts > 0).

        Walks ``system_instructions`` (a list of parts, or None), the ``parts`` of every
        message in ``input_messages`` and ``output_messages``, ``error["message"]`` (or
        ``error`` itself when it is a string) and the string values of ``attributes``.
        Inside a part every string value at any depth is redacted (``content``,
        ``arguments`` as a str, dict or list, ``response`` as a str or nested parts, ...)
        except the part's own ``type`` and ``id``, which are schema fields linking tool
        calls to their results. Dict keys, ids, timestamps, model names and all other
        top-level fields are never touched. A string whose extra detector fails becomes
        ``[REDACTED:redactor_failed]`` (counted); the rest of the record is redacted as usual.

        Called on the worker thread; does not block. Returns {} and changes nothing when
        disabled. Exceptions propagate so the caller can fail closed (drop and count the
        record): a value of an unexpected type raises TypeError, whose message names the
        field and never contains record text.
        """
        if not self._enabled:
            return {}
        slots: list[tuple[Any, Any]] = []
        texts: list[str] = []
        _collect_record(record, slots, texts)
        counts: dict[str, int] = {}
        if not texts:
            return counts
        # One pass over all strings joined by NUL: no built-in pattern matches NUL, so no
        # match crosses a boundary and the guards see it as a string edge, while the fixed
        # cost of a pass is paid once per record instead of once per string.
        spans = _builtin_spans("\x00".join(texts))
        per_string = bool(self._extra or self._detectors)
        if not spans and not per_string:
            return counts
        spans.sort()
        n_spans = len(spans)
        i = 0
        offset = 0
        for (container, key), text in zip(slots, texts):
            end = offset + len(text)
            mine: list[_Span] = []
            while i < n_spans and spans[i][0] < end:
                start, stop, kind = spans[i]
                mine.append((start - offset, stop - offset, kind))
                i += 1
            if per_string:
                if self._extra:
                    self._add_extra(text, mine)
                if self._detectors and text and not self._add_detected(text, mine):
                    counts[DETECTOR_FAILED] = counts.get(DETECTOR_FAILED, 0) + 1
                    container[key] = _FAILED_MARKER
                    offset = end + 1
                    continue
            if mine:
                container[key] = _render(text, mine, counts)
            elif i >= n_spans and not per_string:
                break
            offset = end + 1
        return counts


def _checked(text: str, found: Any) -> list[tuple[int, int, str]]:
    """An extra detector's result as checked spans; raises ValueError or TypeError if any
    span breaks the protocol (the caller then fails closed)."""
    out: list[tuple[int, int, str]] = []
    n = len(text)
    for item in found:
        start, end, kind = item
        if type(start) is not int or type(end) is not int or not 0 <= start < end <= n:
            raise ValueError(f"span ({start!r}, {end!r}) is outside a string of {n} characters")
        if not isinstance(kind, str) or _KIND_NAME.fullmatch(kind) is None:
            raise ValueError(f"span kind {kind!r} does not match [a-z][a-z0-9_]{{0,31}}")
        out.append((start, end, kind))
    return out


_Add = Callable[[Any], None]


def _collect_record(record: Mapping[str, Any], slots: list[tuple[Any, Any]], texts: list[str]) -> None:
    """Append (container, key) and the text of every string the record walk redacts."""
    # This runs for every record, so it is written for CPython's sake: bound appends,
    # exact-type checks before isinstance (subclasses still take the slow path), and the
    # part loop inlined.
    add_slot, add_text = slots.append, texts.append
    system = record.get("system_instructions")
    if system is not None:
        _collect_parts(record, "system_instructions", system, add_slot, add_text)
    for field in ("input_messages", "output_messages"):
        messages = record.get(field)
        if messages is None:
            continue
        if type(messages) is not list and not isinstance(messages, list):
            raise TypeError(f"record field {field} is a {type(messages).__name__}, not a list")
        for i, message in enumerate(messages):
            if type(message) is not dict and not isinstance(message, dict):
                raise TypeError(f"{field}[{i}] is a {type(message).__name__}, not a message object")
            parts = message.get("parts")
            if parts is None:
                continue
            if type(parts) is not list:
                _collect_parts(message, "parts", parts, add_slot, add_text)
                continue
            for j, part in enumerate(parts):
                if type(part) is not dict and not isinstance(part, dict):
                    _collect_value(parts, j, part, add_slot, add_text)
                    continue
                for name, value in part.items():
                    if type(value) is str:
                        if name != "type" and name != "id":  # schema fields, see _collect_parts
                            add_slot((part, name))
                            add_text(value)
                    elif value is not None and name != "type" and name != "id":
                        if name == "response" and type(value) is list:
                            _collect_parts(part, name, value, add_slot, add_text)
                        else:
                            _collect_value(part, name, value, add_slot, add_text)
    error = record.get("error")
    if isinstance(error, dict):
        message_text = error.get("message")
        if isinstance(message_text, str):
            add_slot((error, "message"))
            add_text(message_text)
    elif isinstance(error, str):
        add_slot((record, "error"))
        add_text(error)
    attributes = record.get("attributes")
    if attributes:
        if not isinstance(attributes, dict):
            raise TypeError(f"record field attributes is a {type(attributes).__name__}, not a dict")
        for key, value in attributes.items():
            if isinstance(value, str):
                add_slot((attributes, key))
                add_text(value)


def _collect_parts(container: Any, key: Any, parts: Any, add_slot: _Add, add_text: _Add) -> None:
    """Collect a list of parts. A part's own "type" and "id" are schema fields, not content:
    "type" names the part kind and "id" links a tool call to its response."""
    if isinstance(parts, str):
        add_slot((container, key))
        add_text(parts)
        return
    if not isinstance(parts, list):
        raise TypeError(f"parts field {key!r} is a {type(parts).__name__}, not a list")
    for i, part in enumerate(parts):
        if not isinstance(part, dict):
            _collect_value(parts, i, part, add_slot, add_text)
            continue
        for name, value in part.items():
            if name == "type" or name == "id":
                continue
            if name == "response" and isinstance(value, list):
                _collect_parts(part, name, value, add_slot, add_text)
            else:
                _collect_value(part, name, value, add_slot, add_text)


def _collect_value(container: Any, key: Any, value: Any, add_slot: _Add, add_text: _Add) -> None:
    kind = type(value)
    if kind is str or (kind is not dict and kind is not list and isinstance(value, str)):
        add_slot((container, key))
        add_text(value)
    elif kind is dict or isinstance(value, dict):
        for name, item in value.items():
            _collect_value(value, name, item, add_slot, add_text)
    elif kind is list or isinstance(value, list):
        for i, item in enumerate(value):
            _collect_value(value, i, item, add_slot, add_text)
    elif isinstance(value, tuple):
        container[key] = items = list(value)  # JSON has no tuples; a list serialises the same
        for i, item in enumerate(items):
            _collect_value(items, i, item, add_slot, add_text)
    elif value is not None and not isinstance(value, (int, float)):
        # An object could render to anything once serialised: refuse rather than ship it unread.
        raise TypeError(f"cannot redact a value of type {type(value).__name__} in field {key!r}")
