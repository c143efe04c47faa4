"""The labelled corpus (tests/sampler/redaction_corpus.py): every labelled value is removed,
every look-alike is kept byte for byte; plus properties over generated values of each kind."""

from __future__ import annotations

import string
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampler.redact import Redactor
from tests.sampler.redaction_corpus import CASES, ROWS, Case

REDACTOR = Redactor()


def test_corpus_is_large_and_covers_every_kind() -> None:
    assert len(CASES) >= 300
    positives = Counter(c.row for c in CASES if not c.must_keep)
    assert all(n >= 10 for n in positives.values()), positives
    keep_rows = {c.row for c in CASES if c.must_keep}
    for look_alike in ("order_number", "sku", "git_sha", "uuid", "hash", "isbn", "version", "date", "price",
                       "tracking_number"):  # fmt: skip
        assert look_alike in keep_rows
    assert len(ROWS) >= 30


@pytest.mark.parametrize("case", [c for c in CASES if not c.must_keep], ids=lambda c: c.id)
def test_labelled_value_is_removed(case: Case) -> None:
    counts: dict[str, int] = {}
    out = REDACTOR.redact_text(case.text, counts)
    for value in case.values:
        assert value not in out
    assert counts, "a redaction is counted"
    assert REDACTOR.redact_text(out, {}) == out  # idempotent


@pytest.mark.parametrize("case", [c for c in CASES if c.must_keep], ids=lambda c: c.id)
def test_look_alike_is_kept_byte_for_byte(case: Case) -> None:
    counts: dict[str, int] = {}
    assert REDACTOR.redact_text(case.text, counts) == case.text
    assert counts == {}


def test_record_path_agrees_with_the_text_path_on_the_corpus() -> None:
    # The record walk joins a record's strings with NUL; context windows must stop there.
    texts = [c.text for c in CASES]
    record = {"attributes": {f"k{i}": t for i, t in enumerate(texts)}}
    expected_counts: dict[str, int] = {}
    expected = {f"k{i}": REDACTOR.redact_text(t, expected_counts) for i, t in enumerate(texts)}
    assert REDACTOR.redact_record(record) == expected_counts
    assert record["attributes"] == expected


def test_context_does_not_cross_record_strings() -> None:
    # Joined, these read "SSN\x00536221987": the context word belongs to another string.
    record = {"attributes": {"a": "SSN", "b": "536221987", "c": "call me at", "d": "4155550132"}}
    assert REDACTOR.redact_record(record) == {}
    assert record["attributes"] == {"a": "SSN", "b": "536221987", "c": "call me at", "d": "4155550132"}


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        pytest.param("My SSN is 123-45-6789.", "My SSN is [REDACTED:ssn].", {"ssn": 1}, id="issue-ssn"),
        pytest.param("call me at 4155550132", "call me at [REDACTED:phone]", {"phone": 1}, id="issue-bare-phone"),
        pytest.param("gb82west12345698765432", "[REDACTED:iban]", {"iban": 1}, id="issue-lower-iban"),
        pytest.param(
            "authorization: bearer abc123DEF456ghi789",
            "authorization: bearer [REDACTED:bearer]",
            {"bearer": 1},
            id="issue-lower-bearer",
        ),
        pytest.param(
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key=[REDACTED:secret]",
            {"secret": 1},
            id="issue-aws-secret",
        ),
        pytest.param(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2\n-----END RSA PRIVATE KEY-----\nok",
            "-----[REDACTED:private_key]-----\nok",
            {"private_key": 1},
            id="issue-pem",
        ),
        pytest.param(
            "key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY.", "key [REDACTED:api_key].", {"api_key": 1}, id="issue-google"
        ),
        pytest.param("password=hunter2", "password=[REDACTED:secret]", {"secret": 1}, id="issue-password"),
        pytest.param(
            "postgresql://app:Sup3rS3cret@db.internal:5432/app",
            "postgresql://[REDACTED:credentials]@db.internal:5432/app",
            {"credentials": 1},
            id="issue-postgres-url",
        ),
        pytest.param(
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC (truncated",
            "-----[REDACTED:private_key](truncated",
            {"private_key": 1},
            id="pem-cut-off-before-its-end",
        ),
        pytest.param(
            "password=AKIAIOSFODNN7EXAMPLE-tail",
            "password=[REDACTED:api_key][REDACTED:secret]",
            {"api_key": 1, "secret": 1},
            id="secret-cut-by-a-key-keeps-the-rest",
        ),
        pytest.param(
            "SSN 536221987. The parcel with the reference code 536221988 left today",
            "SSN [REDACTED:ssn]. The parcel with the reference code 536221988 left today",
            {"ssn": 1},
            id="context-is-local",
        ),
        pytest.param("536221987 is my SSN", "[REDACTED:ssn] is my SSN", {"ssn": 1}, id="context-after"),
        pytest.param("4155550132, call us", "4155550132, call us", {}, id="phone-context-only-before"),
    ],
)
def test_issue_examples_and_edges(text: str, expected: str, counts: dict[str, int]) -> None:
    got: dict[str, int] = {}
    assert REDACTOR.redact_text(text, got) == expected
    assert got == counts


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Bearer C03005988'account 12345678901)", id="context-word-glued-to-a-quote"),
        pytest.param("password=password=\"://password=", id="marker-kind-is-no-name"),
        pytest.param("536-22-1987-----BEGIN RSA PRIVATE KEY-----", id="number-before-pem-armour"),
        pytest.param("jane.doe@example.com-----BEGIN RSA PRIVATE KEY-----", id="email-before-pem-armour"),
        pytest.param("jane.doe@example.com-e::8 ok", id="email-before-a-dash-and-an-address"),
        pytest.param("AKIA4111111111111112:1BoatSLRHtKNngkdXEeobR76b53LETtpyT", id="wallet-after-a-key-and-colon"),
        pytest.param("0x52908400098527886E0F7030069857D2E4169EE7.0x52908400098527886E0F7030069857D2E4169EE7",
                     id="two-addresses-joined-by-a-dot"),  # fmt: skip
        pytest.param("'password=/ssn: AB123456C:", id="nino-after-a-redacted-context-word"),
        pytest.param("authorization: bearer 2024-----BEGIN RSA PRIVATE KEY-----", id="short-token-before-pem"),
        pytest.param("Ip-----BEGIN RSA PRIVATE KEY-----Bearer =12/03/1985", id="pem-after-a-dash-key-prefix"),
        pytest.param('"api_key": "12:300.-éDE89 3704 0044 0532 0130 00"', id="quoted-value-holding-an-iban"),
        pytest.param("943 476 5919.DL 4155550132", id="context-word-after-a-dot"),
        pytest.param("born AKIAIOSFODNN7EXAMPLEnpm_" + "a1" * 18, id="key-glued-to-the-next-key"),
    ],
)
def test_found_by_fuzzing_redacting_twice_changes_nothing(text: str) -> None:
    once = REDACTOR.redact_text(text, {})
    assert REDACTOR.redact_text(once, {}) == once


# -- properties ----------------------------------------------------------------------------

prose = st.text(alphabet=string.ascii_letters + " ,;!?'()é🙂", max_size=30)


def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str(-total % 10)


def _nhs_complete(body: str) -> str | None:
    check = 11 - sum(int(c) * w for c, w in zip(body, range(10, 1, -1))) % 11
    check = 0 if check == 11 else check
    return None if check == 10 else body + str(check)


digits = st.text(alphabet=string.digits, min_size=1, max_size=1)


@st.composite
def ssns(draw: st.DrawFn) -> tuple[str, str]:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    group = draw(st.integers(1, 99))
    serial = draw(st.integers(1, 9999))
    sep = draw(st.sampled_from(["-", " ", ""]))
    value = f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"
    context = draw(st.sampled_from(["SSN ", "ssn: ", "Social Security number ", "SSN#"]))
    return context, value


@st.composite
def nhs_numbers(draw: st.DrawFn) -> tuple[str, str]:
    body = draw(st.text(alphabet=string.digits, min_size=9, max_size=9))
    number = _nhs_complete(body)
    if number is None:
        number = "9434765919"
    sep = draw(st.sampled_from(["", " ", "-"]))
    value = sep.join((number[:3], number[3:6], number[6:])) if sep else number
    return draw(st.sampled_from(["NHS number ", "nhs no ", "NHS: "])), value


@st.composite
def bare_phones(draw: st.DrawFn) -> tuple[str, str]:
    value = str(draw(st.integers(2, 9))) + draw(st.text(alphabet=string.digits, min_size=9, max_size=9))
    return draw(st.sampled_from(["call me at ", "Phone: ", "mobile ", "TEL "])), value


@st.composite
def secrets(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(["password", "DB_PASSWORD", "client_secret", "api_key", "X-Api-Key", "pwd"]))
    value = draw(st.text(alphabet=string.ascii_letters + string.digits + "!#%+/-", min_size=8, max_size=24))
    value = "Zz9" + value  # a key-like value whatever the draw
    sep = draw(st.sampled_from(["=", ": ", " = ", '": "']))
    if sep == '": "':
        return f'"{name}{sep}', value + '"'
    return f"{name}{sep}", value


@st.composite
def cards(draw: st.DrawFn) -> tuple[str, str]:
    length = draw(st.integers(13, 19))
    rest = draw(st.text(alphabet=string.digits, min_size=length - 2, max_size=length - 2))
    number = _luhn_complete(draw(st.sampled_from("3456")) + rest)
    return draw(st.sampled_from(["card ", "Visa ", ""])), number


@st.composite
def dates_of_birth(draw: st.DrawFn) -> tuple[str, str]:
    day, month, year = draw(st.integers(1, 28)), draw(st.integers(1, 12)), draw(st.integers(1930, 2015))
    value = draw(
        st.sampled_from([f"{day:02d}/{month:02d}/{year}", f"{year}-{month:02d}-{day:02d}", f"{day}.{month}.{year}"])
    )
    return draw(st.sampled_from(["born on ", "Date of birth: ", "DOB "])), value


@settings(max_examples=400, deadline=None)
@given(prose, st.one_of(ssns(), nhs_numbers(), bare_phones(), secrets(), cards(), dates_of_birth()), prose)
def test_a_detected_value_never_appears_in_the_output(before: str, labelled: tuple[str, str], after: str) -> None:
    context, value = labelled
    text = f"{before} {context}{value} {after}"
    out = REDACTOR.redact_text(text, {})
    assert value.strip('"') not in out
    assert "[REDACTED:" in out


FRAGMENTS = [
    "password=", "secret: ", '"api_key": "', "Authorization: Basic ", "authorization: bearer ", "SSN ", "ssn: ",
    "536-22-1987", "536221987", "call me at ", "4155550132", "NHS ", "943 476 5919", "AB123456C", "born ",
    "12/03/1985", "1985-03-12", "March 12, 1985", "passport ", "C03005988", "DL ", "D1234567", "account ",
    "12345678901", "gb82west12345698765432", "://", "u:p", "@", "db.internal", "-----BEGIN RSA PRIVATE KEY-----",
    "\n", "-----END RSA PRIVATE KEY-----", "MIIE", "AIza", "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "glpat-",
    "0x52908400098527886E0F7030069857D2E4169EE7", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "bc1q", "SK", "AC",
    "0123456789abcdef0123456789abcdef", "npm_", "[REDACTED:secret]", "[REDACTED:", "]", "=", ":", '"', "'", " ",
    "-", ".", "/", "\x00", "é", "🙂", "0", "7", "2024",
]  # fmt: skip
fragment_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=20).map("".join)


@settings(max_examples=500, deadline=None)
@given(fragment_text)
def test_redacting_twice_changes_nothing(text: str) -> None:
    once = REDACTOR.redact_text(text, {})
    counts: dict[str, int] = {}
    assert REDACTOR.redact_text(once, counts) == once
    assert counts == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(fragment_text, min_size=1, max_size=5))
def test_record_walk_matches_redacting_each_string(texts: list[str]) -> None:
    record = {"attributes": {f"k{i}": t for i, t in enumerate(texts)}}
    expected_counts: dict[str, int] = {}
    expected = {f"k{i}": REDACTOR.redact_text(t, expected_counts) for i, t in enumerate(texts)}
    assert REDACTOR.redact_record(record) == expected_counts
    assert record["attributes"] == expected
