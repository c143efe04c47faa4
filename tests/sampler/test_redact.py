"""Redaction: every built-in kind, the look-alikes it must leave alone, user patterns, the
record walk, and properties (idempotence, generated PII never survives)."""

from __future__ import annotations

import copy
import logging
import random
import re
import string
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampler.redact import BUILTIN_KINDS, Redactor

# -- fixed fakes -----------------------------------------------------------------------------

_rng = random.Random(20240501)


def _alnum(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


ANTHROPIC_KEY = "sk-ant-api03-" + _alnum(40) + "-" + _alnum(40) + "_" + _alnum(12) + "AA"
OPENAI_PROJECT_KEY = "sk-proj-" + _alnum(48) + "-" + _alnum(40)
OPENAI_LEGACY_KEY = "sk-" + _alnum(44) + "7Qa9"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_TEMP_KEY_ID = "ASIAY34FZKBOKMUTVV7A"
GITHUB_CLASSIC = "ghp_" + _alnum(32) + "9aZ0"
GITHUB_OAUTH = "gho_" + _alnum(32) + "1bY2"
GITHUB_FINE = "github_pat_11ABCDEFG0" + _alnum(2) + "_" + _alnum(55) + "3c"
SLACK_TOKEN = "xoxb-123456789012-1234567890123-" + _alnum(24)
STRIPE_KEY = "sk_live_51H8" + _alnum(20) + "4dE"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

E = "[REDACTED:email]"
P = "[REDACTED:phone]"
C = "[REDACTED:card]"
IB = "[REDACTED:iban]"
V4 = "[REDACTED:ipv4]"
V6 = "[REDACTED:ipv6]"
K = "[REDACTED:api_key]"
J = "[REDACTED:jwt]"
B = "[REDACTED:bearer]"


def case(text: str, expected: str, counts: dict[str, int], id: str) -> Any:  # noqa: A002 - pytest's name
    return pytest.param(text, expected, counts, id=id)


def same(text: str, id: str) -> Any:  # noqa: A002
    return pytest.param(text, text, {}, id=id)


CORPUS = [
    # email
    case("Contact me at jane.doe@example.com please", f"Contact me at {E} please", {"email": 1}, "email-plain"),
    case("first+tag@sub.mail.example.co.uk.", f"{E}.", {"email": 1}, "email-plus-subdomains-trailing-dot"),
    case("<john_smith99@example.org>", f"<{E}>", {"email": 1}, "email-angle-brackets"),
    case("mailto:ops@acme.io?subject=hi", f"mailto:{E}?subject=hi", {"email": 1}, "email-mailto"),
    case("cc a@b.co, c.d@e-f.org", f"cc {E}, {E}", {"email": 2}, "email-two"),
    case("Écrivez à josé.garcía@correo.es", f"Écrivez à {E}", {"email": 1}, "email-unicode-local"),
    case("メール：tanaka@example.jpです", f"メール：{E}です", {"email": 1}, "email-cjk-around"),
    same("ping @alice and @bob about @property", "not-email-mentions"),
    same("write to user@ or @example.com", "not-email-halves"),
    same("root@localhost and x@1.2", "not-email-no-tld"),
    same("support @ acme.com", "not-email-spaced"),
    # phone
    case("Call me at (415) 555-0132.", f"Call me at {P}.", {"phone": 1}, "phone-nanp-parens"),
    case("Mobile: 415-555-0132", f"Mobile: {P}", {"phone": 1}, "phone-nanp-dashes"),
    case("Office 415.555.0132 ext 2", f"Office {P} ext 2", {"phone": 1}, "phone-nanp-dots"),
    case("Call 415 555 0132 today", f"Call {P} today", {"phone": 1}, "phone-nanp-spaces"),
    case("Toll free 1-800-555-0199!", f"Toll free {P}!", {"phone": 1}, "phone-nanp-leading-1"),
    case("Ring +1 (415) 555-0132 now", f"Ring {P} now", {"phone": 1}, "phone-intl-us-parens"),
    case("US desk +1-202-555-0143.", f"US desk {P}.", {"phone": 1}, "phone-intl-us-dashes"),
    case("London +44 20 7946 0958", f"London {P}", {"phone": 1}, "phone-intl-uk"),
    case("UK national 020 7946 0958, ask for Sam", f"UK national {P}, ask for Sam", {"phone": 1}, "phone-uk-national"),
    case("UK mobile 07700 900123", f"UK mobile {P}", {"phone": 1}, "phone-uk-mobile"),
    case("Berlin +49 30 12345678", f"Berlin {P}", {"phone": 1}, "phone-intl-de"),
    case("Paris +33 1 23 45 67 89", f"Paris {P}", {"phone": 1}, "phone-intl-fr-pairs"),
    case("tel:+14155550132", f"tel:{P}", {"phone": 1}, "phone-e164"),
    case("Tokyo 電話 +81 3-1234-5678 です", f"Tokyo 電話 {P} です", {"phone": 1}, "phone-cjk-around"),
    case("📞 415-555-0132 ✅", f"📞 {P} ✅", {"phone": 1}, "phone-emoji-around"),
    same("Order 12345 shipped in 2024, call 911", "not-phone-order-year"),
    same("Total $1,299.00 incl. tax, or €49.00", "not-phone-prices"),
    same("Delivered 2024-05-01 at 12:30, back in 3-5 business days", "not-phone-date-time-range"),
    same("Upgrade to v1.2.3 or 10.0.19041", "not-phone-versions"),
    same("It costs 1 000 000 won and 16:9 screens", "not-phone-grouped-thousands"),
    same("Unix time 1714521600 and 1714521600123 ms", "not-phone-epoch"),
    same("Invoice INV-2024-000123 and ISBN 978-3-16-148410-0", "not-phone-ids"),
    same("Pi is 3.14159265358979", "not-phone-decimal"),
    # card
    case("Visa 4111 1111 1111 1111 exp 12/25", f"Visa {C} exp 12/25", {"card": 1}, "card-visa-spaces"),
    case("card 4111-1111-1111-1111.", f"card {C}.", {"card": 1}, "card-visa-dashes"),
    case("pan=4111111111111111&cvv=123", f"pan={C}&cvv=123", {"card": 1}, "card-contiguous"),
    case("MC 5500 0000 0000 0004", f"MC {C}", {"card": 1}, "card-mastercard"),
    case("MC2 2223 0031 2200 3222", f"MC2 {C}", {"card": 1}, "card-mastercard-2-series"),
    case("Amex 3782 822463 10005", f"Amex {C}", {"card": 1}, "card-amex-4-6-5"),
    case("Discover 6011111111111117", f"Discover {C}", {"card": 1}, "card-discover"),
    case("4111 1111 1111 1111 12/25", f"{C} 12/25", {"card": 1}, "card-then-expiry"),
    case("Карта 4012 8888 8888 1881, ок!", f"Карта {C}, ок!", {"card": 1}, "card-cyrillic"),
    same("test 4111 1111 1111 1112 fails Luhn", "not-card-luhn-spaces"),
    same("id 4111111111111112 fails Luhn", "not-card-luhn-contiguous"),
    same("ref 1234 5678 9012 3456", "not-card-sequence"),
    same("tracking 9400111899223344556677", "not-card-tracking"),
    # iban
    case("IBAN DE89 3704 0044 0532 0130 00 thanks", f"IBAN {IB} thanks", {"iban": 1}, "iban-de-grouped"),
    case("pay DE89370400440532013000.", f"pay {IB}.", {"iban": 1}, "iban-de-compact"),
    case("GB82 WEST 1234 5698 7654 32", IB, {"iban": 1}, "iban-gb-letters-grouped"),
    case("to GB82WEST12345698765432 today", f"to {IB} today", {"iban": 1}, "iban-gb-compact"),
    case("FR14 2004 1010 0505 0001 3M02 606", IB, {"iban": 1}, "iban-fr-letter-in-bban"),
    case("NL91ABNA0417164300, CH9300762011623852957", f"{IB}, {IB}", {"iban": 2}, "iban-two"),
    same("DE89 3704 0044 0532 0130 01 has a bad check", "not-iban-checksum"),
    same("DE89 3704 0044 0532 0130 is too short", "not-iban-length"),
    # ipv4
    case("Client IP 203.0.113.42 blocked", f"Client IP {V4} blocked", {"ipv4": 1}, "ipv4-plain"),
    case("connect to 10.0.0.1:5432", f"connect to {V4}:5432", {"ipv4": 1}, "ipv4-port"),
    case("from 192.168.1.20, 192.168.1.21", f"from {V4}, {V4}", {"ipv4": 2}, "ipv4-two"),
    same("999.168.1.20 and 01.02.03.04 are not addresses", "not-ipv4-invalid"),
    same("semver 1.2.3 and 3.14.15.92.65", "not-ipv4-versions"),
    # ipv6
    case("seen 2001:db8::8a2e:370:7334 today", f"seen {V6} today", {"ipv6": 1}, "ipv6-compressed"),
    case("full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", f"full {V6}", {"ipv6": 1}, "ipv6-full"),
    case("at [2001:db8::1]:443", f"at [{V6}]:443", {"ipv6": 1}, "ipv6-bracketed-port"),
    case("link-local fe80::1 is up", f"link-local {V6} is up", {"ipv6": 1}, "ipv6-short"),
    case("fe80::1, fe80::2 and 2001:db8::3", f"{V6}, {V6} and {V6}", {"ipv6": 3}, "ipv6-three-in-a-row"),
    case("mapped ::ffff:192.0.2.128 only", f"mapped {V6} only", {"ipv6": 1}, "ipv6-ipv4-mapped-wins"),
    case("range 10-::ffff:192.0.2.128", f"range 10-{V6}", {"ipv6": 1}, "ipv6-after-dash"),
    same("meet at 12:30 or 12:30:45", "not-ipv6-times"),
    same("use std::vector and a::b in C++, not ::", "not-ipv6-code"),
    same("loopback ::1 and MAC 00:1A:2B:3C:4D:5E", "not-ipv6-loopback-mac"),
    same("hex words cafe:babe and dead beef", "not-ipv6-hex-words"),
    # api_key
    case(f"ANTHROPIC_API_KEY={ANTHROPIC_KEY}", f"ANTHROPIC_API_KEY={K}", {"api_key": 1}, "key-anthropic"),
    case(f"key: {OPENAI_PROJECT_KEY}\n", f"key: {K}\n", {"api_key": 1}, "key-openai-project"),
    case(f"'{OPENAI_LEGACY_KEY}'", f"'{K}'", {"api_key": 1}, "key-openai-legacy"),
    case(f"aws_access_key_id = {AWS_KEY_ID}", f"aws_access_key_id = {K}", {"api_key": 1}, "key-aws"),
    case(f"sts {AWS_TEMP_KEY_ID}.", f"sts {K}.", {"api_key": 1}, "key-aws-temporary"),
    case(f"token {GITHUB_CLASSIC} and {GITHUB_OAUTH}", f"token {K} and {K}", {"api_key": 2}, "key-github"),
    case(f"GH_TOKEN={GITHUB_FINE}", f"GH_TOKEN={K}", {"api_key": 1}, "key-github-fine-grained"),
    case(f"slack {SLACK_TOKEN}", f"slack {K}", {"api_key": 1}, "key-slack"),
    case(f"stripe {STRIPE_KEY}", f"stripe {K}", {"api_key": 1}, "key-stripe"),
    same("risk-free task-runner, desk-top", "not-key-sk-words"),
    same("sk-this-is-not-a-real-key-at-all", "not-key-sk-phrase"),
    same("AKIA1234 and ghp_short and xoxo-gossip", "not-key-short"),
    same("task-1234567890abcdefghijklmnop", "not-key-sk-inside-word"),
    # jwt
    case(f"id_token={JWT}&state=1", f"id_token={J}&state=1", {"jwt": 1}, "jwt"),
    same("eyJhbGciOiJIUzI1NiJ9 alone, and eyJ.a.b", "not-jwt-partial"),
    # bearer
    case("Authorization: Bearer abc123DEF456ghi789", f"Authorization: Bearer {B}", {"bearer": 1}, "bearer-header"),
    case(
        "curl -H 'Authorization: Bearer 0a1b2c3d4e5f6a7b8c9d' https://api.example.com",
        f"curl -H 'Authorization: Bearer {B}' https://api.example.com",
        {"bearer": 1},
        "bearer-curl",
    ),
    case("BEARER ABCDEF123456", f"BEARER {B}", {"bearer": 1}, "bearer-upper"),
    case("Bearer mF_9.B5f-4.1JqM", f"Bearer {B}", {"bearer": 1}, "bearer-rfc6750-example"),
    same("Bearer bonds, a Bearer Authentication scheme, Bearer <token>, Bearer $TOKEN", "not-bearer-prose"),
    # precedence and overlaps
    case(f"Authorization: Bearer {JWT}", f"Authorization: Bearer {J}", {"jwt": 1}, "precedence-jwt-over-bearer"),
    case(f"Bearer {ANTHROPIC_KEY}", f"Bearer {K}", {"api_key": 1}, "precedence-key-over-bearer"),
    case("4111111111111111@example.com", E, {"email": 1}, "precedence-email-over-card"),
    # a match that runs into a claimed span keeps what is still valid on its own
    case("+44 20 7946 0958@jane.doe@x.com", f"{P} {E}@x.com", {"phone": 1, "email": 1}, "overlap-phone-cut"),
    case("jane.doe@example.com_jane.doe@example.com", f"{E}{E}", {"email": 2}, "overlap-email-local-cut"),
    case(f"{AWS_KEY_ID}_jane@example.com", f"{K}{E}", {"api_key": 1, "email": 1}, "overlap-email-after-key"),
    case(f"jane@example.com.{GITHUB_CLASSIC}", f"{E}.{K}", {"email": 1, "api_key": 1}, "overlap-email-domain-cut"),
    case(f"Bearer 4111111111111112xoxb-{AWS_KEY_ID}", f"Bearer {B}{K}", {"bearer": 1, "api_key": 1}, "overlap-bearer"),
    case("(415) 555-0132:020 7946 0958", f"{P}:{P}", {"phone": 2}, "adjacent-phones"),
    case("2001:db8::1-(415) 555-0132", f"{V6}-{P}", {"ipv6": 1, "phone": 1}, "overlap-phone-after-ipv6"),
    case("4111 1111 1111 1111 020 7946 0958", f"{C} {P}", {"card": 1, "phone": 1}, "card-then-phone"),
    # mixed
    case(
        "Hi, I'm Zoë (zoë@example.com, +44 20 7946 0958). Card 4111 1111 1111 1111 was charged "
        "€49.00 on 2024-05-01 for order #48213.",
        f"Hi, I'm Zoë ({E}, {P}). Card {C} was charged €49.00 on 2024-05-01 for order #48213.",
        {"email": 1, "phone": 1, "card": 1},
        "mixed-support-message",
    ),
    case(
        f"ip=203.0.113.9 user=bob@example.net key={AWS_KEY_ID} iban=DE89370400440532013000 ok",
        f"ip={V4} user={E} key={K} iban={IB} ok",
        {"ipv4": 1, "email": 1, "api_key": 1, "iban": 1},
        "mixed-log-line",
    ),
    # already redacted
    same(f"{E} and {P} stay as they are", "markers-untouched"),
]


@pytest.mark.parametrize(("text", "expected", "counts"), CORPUS)
def test_corpus(text: str, expected: str, counts: dict[str, int]) -> None:
    got: dict[str, int] = {}
    assert Redactor().redact_text(text, got) == expected
    assert got == counts


def test_counts_accumulate_into_the_given_dict() -> None:
    counts = {"email": 2}
    Redactor().redact_text("a@example.com and 415-555-0132", counts)
    assert counts == {"email": 3, "phone": 1}


def test_builtin_kinds_are_the_documented_precedence() -> None:
    assert BUILTIN_KINDS == (
        "private_key", "api_key", "jwt", "credentials", "secret", "bearer", "email", "ipv6", "iban", "card",
        "crypto", "nhs", "ssn", "itin", "passport", "driver_license", "bank_account", "nino", "dob", "ipv4", "phone",
    )  # fmt: skip


def test_disabled_redactor_changes_nothing() -> None:
    redactor = Redactor(enabled=False)
    counts: dict[str, int] = {}
    assert redactor.redact_text("mail jane@example.com", counts) == "mail jane@example.com"
    assert counts == {}
    record = _record()
    before = copy.deepcopy(record)
    assert redactor.redact_record(record) == {}
    assert record == before


def test_never_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    Redactor().redact_text("jane@example.com 4111 1111 1111 1111", {})
    Redactor().redact_record(_record())
    assert caplog.records == []


def test_thread_safe() -> None:
    redactor = Redactor(extra_patterns={"ticket": r"TCK-\d+"})
    texts = [str(p.values[0]) for p in CORPUS] + ["TCK-42 jane@example.com"]
    expected = [redactor.redact_text(t, {}) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: redactor.redact_text(t, {}), texts * 20))
    assert results == expected * 20


# -- user patterns ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "text", "expected", "counts"),
    [
        pytest.param(
            {"order_id": r"\bORD-\d{6}\b"},
            "Order ORD-123456 shipped to jane@example.com",
            f"Order [REDACTED:order_id] shipped to {E}",
            {"order_id": 1, "email": 1},
            id="user-kind-counted-under-its-name",
        ),
        pytest.param(
            {"digits4": r"\d{4}"},
            "card 4111 1111 1111 1111 and year 2024",
            f"card {C} and year [REDACTED:digits4]",
            {"card": 1, "digits4": 1},
            id="builtins-win-overlaps",
        ),
        pytest.param(
            {"codename": re.compile(r"project\s+falcon", re.IGNORECASE)},
            "Ship Project  Falcon today",
            "Ship [REDACTED:codename] today",
            {"codename": 1},
            id="compiled-pattern-keeps-flags",
        ),
        pytest.param(
            {"caps": r"[A-Z]{4,}"},
            f"{E} and SECRET",
            f"{E} and [REDACTED:caps]",
            {"caps": 1},
            id="markers-are-protected",
        ),
        pytest.param(
            {"phone": r"\b\d{3}-\d{4}\b"},
            "local 555-0132 or 415-555-0199",
            f"local {P} or {P}",
            {"phone": 2},
            id="builtin-name-extends-kind",
        ),
        pytest.param(
            {"first": r"alpha\w*", "second": r"\w*beta"},
            "alphabeta",
            "[REDACTED:first]",
            {"first": 1},
            id="user-kinds-in-given-order",
        ),
    ],
)
def test_extra_patterns(patterns: dict[str, Any], text: str, expected: str, counts: dict[str, int]) -> None:
    got: dict[str, int] = {}
    assert Redactor(extra_patterns=patterns).redact_text(text, got) == expected
    assert got == counts


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        pytest.param({"bad": "("}, "'bad' is not a valid regex", id="bad-regex"),
        pytest.param({"Upper": "x"}, "'Upper' is invalid", id="upper-case-name"),
        pytest.param({"1abc": "x"}, "'1abc' is invalid", id="leading-digit"),
        pytest.param({"a-b": "x"}, "'a-b' is invalid", id="dash"),
        pytest.param({"": "x"}, "'' is invalid", id="empty-name"),
        pytest.param({"a" * 33: "x"}, f"'{'a' * 33}' is invalid", id="too-long"),
        pytest.param({"maybe": "a*"}, "'maybe' matches the empty string", id="empty-match"),
        pytest.param({"raw": re.compile(b"x")}, "'raw' must be a str pattern", id="bytes-pattern"),
        pytest.param({"num": 42}, "'num' must be a str or a compiled pattern", id="not-a-pattern"),
    ],
)
def test_bad_extra_patterns_raise(patterns: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Redactor(extra_patterns=patterns)


def test_longest_valid_kind_name_is_accepted() -> None:
    name = "k" + "_9" * 15 + "x"
    assert len(name) == 32
    assert Redactor(extra_patterns={name: "zz"}).redact_text("a zz b", {}) == f"a [REDACTED:{name}] b"


# -- records ---------------------------------------------------------------------------------


def _record() -> dict[str, Any]:
    return {
        "schema": "tastevin.sample/v1",
        "sample_id": "9f86d081884c7d659a2feaa0c55ad015",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "ts": "2024-05-01T12:30:45.123Z",
        "app": "support-bot",
        "env": "prod",
        "release": "1.2.3",
        "request_model": "claude-sonnet-4-5-20250929",
        "response_model": "claude-sonnet-4-5-20250929",
        "params": {"max_tokens": 1024, "temperature": 0.2},
        "system_instructions": [
            {"type": "text", "content": "You are ACME support. Escalate to oncall@acme.example."},
        ],
        "input_messages": [
            {
                "role": "user",
                "parts": [
                    {"type": "text", "content": "Card 4111 1111 1111 1111 was charged twice; call +1-202-555-0143"},
                ],
            },
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": "toolu_01A09q90qw90lq917835lq9",
                        "name": "lookup_customer",
                        "arguments": {
                            "email": "jane@example.com",
                            "phones": ["415-555-0132", "n/a"],
                            "nested": {"ip": "203.0.113.42", "limit": 3, "exact": True, "note": None},
                            "jane@example.com": "dict keys are not redacted",
                        },
                    },
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "type": "tool_call_response",
                        "id": "toolu_01A09q90qw90lq917835lq9",
                        "response": [{"type": "text", "content": "IBAN DE89 3704 0044 0532 0130 00"}],
                    },
                    {"type": "tool_call_response", "id": "call_2", "response": f"token {ANTHROPIC_KEY}"},
                ],
            },
        ],
        "output_messages": [
            {
                "role": "assistant",
                "parts": [
                    {"type": "text", "content": "Refunded; expect it in 3-5 days."},
                    {"type": "reasoning", "content": "User IPv6 2001:db8::8a2e:370:7334"},
                ],
                "finish_reason": "stop",
            }
        ],
        "finish_reason": "stop",
        "usage": {"input_tokens": 42, "output_tokens": 17},
        "latency_ms": 812.5,
        "error": {"type": "RateLimitError", "message": f"key {AWS_KEY_ID} throttled"},
        "sampling": {"rate": 0.1, "rule": "default"},
        "redactions": {},
        "truncated": False,
        "attributes": {"prompt_version": "v7", "customer": "jane@example.com", "tier": 3, "beta": True},
    }


def test_redact_record_walks_every_location() -> None:
    record = _record()
    expected = copy.deepcopy(record)
    expected["system_instructions"][0]["content"] = f"You are ACME support. Escalate to {E}."
    expected["input_messages"][0]["parts"][0]["content"] = f"Card {C} was charged twice; call {P}"
    arguments = expected["input_messages"][1]["parts"][0]["arguments"]
    arguments["email"] = E
    arguments["phones"] = [P, "n/a"]
    arguments["nested"]["ip"] = V4
    expected["input_messages"][2]["parts"][0]["response"][0]["content"] = f"IBAN {IB}"
    expected["input_messages"][2]["parts"][1]["response"] = f"token {K}"
    expected["output_messages"][0]["parts"][1]["content"] = f"User IPv6 {V6}"
    expected["error"]["message"] = f"key {K} throttled"
    expected["attributes"]["customer"] = E

    counts = Redactor().redact_record(record)

    assert record == expected
    assert counts == {"email": 3, "card": 1, "phone": 2, "ipv4": 1, "iban": 1, "api_key": 2, "ipv6": 1}


def test_redact_record_leaves_ids_models_and_timestamps_alone() -> None:
    record = _record()
    Redactor().redact_record(record)
    untouched = _record()
    for field in ("schema", "sample_id", "trace_id", "span_id", "ts", "app", "env", "release"):
        assert record[field] == untouched[field]
    assert record["request_model"] == record["response_model"] == "claude-sonnet-4-5-20250929"
    assert record["input_messages"][1]["parts"][0]["id"] == "toolu_01A09q90qw90lq917835lq9"
    assert record["input_messages"][1]["parts"][0]["name"] == "lookup_customer"


def test_redact_record_string_error_and_missing_fields() -> None:
    record: dict[str, Any] = {"trace_id": "ab", "error": "timeout talking to 10.0.0.7", "system_instructions": None}
    assert Redactor().redact_record(record) == {"ipv4": 1}
    assert record == {"trace_id": "ab", "error": f"timeout talking to {V4}", "system_instructions": None}
    assert Redactor().redact_record({"trace_id": "ab"}) == {}


def test_redact_record_strings_as_parts_and_tuples() -> None:
    record: dict[str, Any] = {
        "system_instructions": ["Mail a@example.com"],
        "input_messages": [{"role": "user", "parts": [{"type": "tool_call", "arguments": ("b@example.com", 7)}]}],
    }
    assert Redactor().redact_record(record) == {"email": 2}
    assert record["system_instructions"] == [f"Mail {E}"]
    assert record["input_messages"][0]["parts"][0]["arguments"] == [E, 7]


def test_redact_record_parts_mixing_strings_and_dicts() -> None:
    record: dict[str, Any] = {
        "input_messages": [{"role": "user", "parts": [{"type": "text", "content": "a@example.com"}, "b@example.com"]}]
    }
    assert Redactor().redact_record(record) == {"email": 2}
    assert record["input_messages"][0]["parts"] == [{"type": "text", "content": E}, E]


def test_redact_record_user_patterns_apply_per_string() -> None:
    record: dict[str, Any] = {"attributes": {"a": "secret", "b": "not secret", "c": "secret"}}
    counts = Redactor(extra_patterns={"whole": r"^secret$"}).redact_record(record)
    assert counts == {"whole": 2}
    assert record["attributes"] == {"a": "[REDACTED:whole]", "b": "not secret", "c": "[REDACTED:whole]"}


def test_redact_record_no_match_crosses_strings() -> None:
    # Joined, these would read "jane@example" + "com" or "4111 1111" + " 1111 1111".
    record: dict[str, Any] = {"attributes": {"a": "jane@example", "b": ".com", "c": "4111 1111", "d": " 1111 1111"}}
    assert Redactor().redact_record(record) == {}
    assert record["attributes"] == {"a": "jane@example", "b": ".com", "c": "4111 1111", "d": " 1111 1111"}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        pytest.param({"input_messages": "hello"}, "input_messages is a str, not a list", id="messages-not-list"),
        pytest.param({"output_messages": ["hi"]}, "output_messages[0] is a str, not a message", id="message-not-dict"),
        pytest.param(
            {"input_messages": [{"role": "user", "parts": [{"type": "blob", "content": b"jane@example.com"}]}]},
            "cannot redact a value of type bytes in field 'content'",
            id="bytes-content",
        ),
        pytest.param(
            {"input_messages": [{"role": "user", "parts": 5}]}, "parts field 'parts' is a int", id="parts-int"
        ),
        pytest.param({"attributes": ["jane@example.com"]}, "attributes is a list, not a dict", id="attributes-list"),
    ],
)
def test_redact_record_rejects_unexpected_shapes(record: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)) as info:
        Redactor().redact_record(record)
    assert "jane@example.com" not in str(info.value)


# -- properties --------------------------------------------------------------------------------

FRAGMENTS = [
    "jane.doe@example.com", "@", "user@", "(415) 555-0132", "+44 20 7946 0958", "020 7946 0958",
    "4111 1111 1111 1111", "4111111111111112", "DE89 3704 0044 0532 0130 00", "192.168.1.20",
    "2001:db8::1", "12:30", "::", "2024-05-01", "$1,299.00", "v1.2.3", AWS_KEY_ID, "sk-", "Bearer ",
    JWT, "[REDACTED:email]", "[REDACTED:", "]", "(", ")", "+", "-", ".", ":", "_", " ", "\n", "\x00",
    "é", "电话", "📞", "0", "7", "12345", "AKIA", "xoxb-", "eyJ", "ghp_",
]  # fmt: skip
fragment_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=25).map("".join)


@settings(max_examples=400, deadline=None)
@given(fragment_text)
def test_redacting_twice_changes_nothing(text: str) -> None:
    redactor = Redactor()
    once = redactor.redact_text(text, {})
    counts: dict[str, int] = {}
    assert redactor.redact_text(once, counts) == once
    assert counts == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(fragment_text, min_size=1, max_size=6))
def test_record_walk_matches_redacting_each_string(texts: list[str]) -> None:
    redactor = Redactor()
    record: dict[str, Any] = {"attributes": {f"k{i}": t for i, t in enumerate(texts)}}
    expected_counts: dict[str, int] = {}
    expected = {f"k{i}": redactor.redact_text(t, expected_counts) for i, t in enumerate(texts)}
    assert redactor.redact_record(record) == expected_counts
    assert record["attributes"] == expected


words = st.text(alphabet=string.ascii_lowercase + " ,;!?'()", max_size=30)


@settings(max_examples=300, deadline=None)
@given(words)
def test_plain_lowercase_prose_is_untouched(text: str) -> None:
    assert Redactor().redact_text(text, {}) == text


def _not_pii_token() -> st.SearchStrategy[str]:
    year = st.integers(1990, 2030)
    return st.one_of(
        st.builds("{}-{:02d}-{:02d}".format, year, st.integers(1, 12), st.integers(1, 28)),
        st.builds("{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59)),
        st.builds("${:,}.{:02d}".format, st.integers(0, 999_999), st.integers(0, 99)),
        st.builds("v{}.{}.{}".format, st.integers(0, 20), st.integers(0, 20), st.integers(0, 99)),
        st.builds("{}%".format, st.integers(0, 100)),
        st.builds(str, st.integers(1, 99_999)),
        st.builds("#{}".format, st.integers(1, 9_999_999)),
        st.just("4bf92f3577b34da6a3ce929d0e0e4736"),
        st.just("123e4567-e89b-12d3-a456-426614174000"),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_not_pii_token(), max_size=8).map(" and ".join))
def test_numbers_that_are_not_pii_are_untouched(text: str) -> None:
    assert Redactor().redact_text(text, {}) == text


@st.composite
def emails(draw: st.DrawFn) -> str:
    atom = st.text(alphabet=string.ascii_letters + string.digits + "_%+-", min_size=1, max_size=10)
    local = ".".join(draw(st.lists(atom, min_size=1, max_size=3)))
    label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
    domain = ".".join(draw(st.lists(label, min_size=1, max_size=3)))
    tld = draw(st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=6))
    return f"{local}@{domain}.{tld}"


def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str(-total % 10)


@st.composite
def cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    rest = draw(st.lists(st.sampled_from(string.digits), min_size=length - 2, max_size=length - 2))
    body = draw(st.sampled_from("23456")) + "".join(rest)
    number = _luhn_complete(body)
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4)) if sep else number


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country, length = draw(st.sampled_from([("DE", 22), ("FR", 27), ("NL", 18), ("ES", 24), ("NO", 15)]))
    bban = "".join(draw(st.lists(st.sampled_from(string.digits), min_size=length - 4, max_size=length - 4)))
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    compact = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    if draw(st.booleans()):
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


@settings(max_examples=300, deadline=None)
@given(words, st.one_of(emails(), cards(), ibans()), words)
def test_generated_pii_never_survives(before: str, pii: str, after: str) -> None:
    out = Redactor().redact_text(f"{before} {pii} {after}", {})
    assert pii not in out
    assert "[REDACTED:" in out
