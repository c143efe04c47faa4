"""A labelled redaction corpus: every kind the sampler redacts, and look-alikes it must keep.

Shared by tests/sampler/test_redaction_corpus.py and benchmarks/bench_redaction.py, which
runs the same cases through Presidio's pattern recognizers and detect-secrets.

Each seed is (row, prefix, value, suffix): ``value`` must not survive redaction; a must-keep
seed has no value and its whole text must come back byte for byte. ``row`` names the kind
(or, for a look-alike, the kind it imitates, so per-kind precision sees it). Variants are
generated from each seed: the context word's case, the value's separators, the punctuation
around it and non-ASCII neighbours. Fake values only (documentation ranges, published test
numbers, well-known example keys); nothing here is a real person's or a real secret.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass

_rng = random.Random(16)


def _alnum(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


def _hex(n: int) -> str:
    return "".join(_rng.choice("0123456789abcdef") for _ in range(n))


@dataclass(frozen=True)
class Case:
    id: str
    row: str
    text: str
    values: tuple[str, ...]  # empty: a must-keep case

    @property
    def must_keep(self) -> bool:
        return not self.values


# Which anchor claims to cover each row (by pattern or context word), for the benchmark's
# "at or above both anchors on every kind they cover".
PRESIDIO_ROWS = frozenset(
    {"email", "phone", "card", "iban", "ipv4", "ipv6", "ssn", "itin", "passport", "driver_license",
     "bank_account", "nhs", "nino", "dob", "crypto", "credentials"}
)  # fmt: skip
DETECT_SECRETS_ROWS = frozenset(
    {"aws_key_id", "aws_secret", "azure_storage_key", "google_api_key", "github_token", "gitlab_token",
     "slack_token", "stripe_key", "twilio_key", "npm_token", "pypi_token", "sendgrid_key", "private_key",
     "jwt", "credentials", "secret", "openai_key"}
)  # fmt: skip

PEM_RSA = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi" + _alnum(40) + "\n" + _alnum(64) + "\n" + _alnum(24) + "==\n"
    "-----END RSA PRIVATE KEY-----"
)
PEM_EC = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI" + _alnum(60) + "\n" + _alnum(40) + "\n-----END EC PRIVATE KEY-----"
PEM_OPENSSH = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA" + _alnum(46) + "\n" + _alnum(70) + "\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
PEM_PKCS8 = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + _alnum(32) + "\n-----END PRIVATE KEY-----"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

# (row, prefix, value, suffix)
POSITIVE_SEEDS: list[tuple[str, str, str, str]] = [
    ("email", "Contact me at ", "jane.doe@example.com", " please"),
    ("email", "cc ", "first+tag@sub.mail.example.co.uk", " today"),
    ("email", "Écrivez à ", "josé.garcia@correo.es", " merci"),
    ("email", "from: ", "ops-team@acme.io", ""),
    ("phone", "Call me at ", "(415) 555-0132", " tomorrow"),
    ("phone", "Mobile: ", "415-555-0132", ""),
    ("phone", "London office ", "+44 20 7946 0958", ", ask for Sam"),
    ("phone", "call me at ", "4155550132", " after 5"),
    ("phone", "Phone ", "2025550143", ""),
    ("phone", "Ring ", "+1 202 555 0143", " now"),
    ("card", "Visa ", "4111 1111 1111 1111", " exp 12/25"),
    ("card", "card ", "5500-0000-0000-0004", " was charged"),
    ("card", "Amex ", "378282246310005", ""),
    ("card", "Discover ", "6011111111111117", " on file"),
    ("iban", "IBAN ", "DE89 3704 0044 0532 0130 00", " thanks"),
    ("iban", "pay to ", "GB82WEST12345698765432", " today"),
    ("iban", "iban: ", "gb82west12345698765432", ""),
    ("iban", "account ", "NL91ABNA0417164300", ", ref 7"),
    ("ipv4", "Client IP ", "203.0.113.42", " blocked"),
    ("ipv4", "connect to ", "192.168.1.20", ":5432"),
    ("ipv6", "seen from ", "2001:db8::8a2e:370:7334", " today"),
    ("ipv6", "full address ", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", ""),
    ("ssn", "My SSN is ", "536-22-1987", "."),
    ("ssn", "social security number ", "219 09 9999", ""),
    ("ssn", "SSN: ", "536221987", " on file"),
    ("ssn", "ssn ", "772-14-5009", ""),
    ("itin", "ITIN ", "912-78-1234", ""),
    ("itin", "taxpayer id ", "900 70 0001", " is on the form"),
    ("passport", "passport number ", "912803456", ""),
    ("passport", "Passport: ", "C03005988", " (expires 2031)"),
    ("driver_license", "driver's license ", "D1234567", ""),
    ("driver_license", "DL: ", "A1234567", " issued in CA"),
    ("driver_license", "driving licence ", "MORGA753116SM9IJ", ""),
    ("bank_account", "bank account number ", "12345678901", ""),
    ("bank_account", "acct ", "000123456789", " at First Bank"),
    ("nhs", "NHS number ", "943 476 5919", ""),
    ("nhs", "nhs no ", "4505577104", ""),
    ("nhs", "NHS: ", "401-023-2137", " (GP surgery)"),
    ("nino", "National Insurance number ", "AB123456C", ""),
    ("nino", "NI number ", "JG 10 37 54 A", " on payslip"),
    ("dob", "born on ", "12/03/1985", ""),
    ("dob", "date of birth: ", "1985-03-12", ""),
    ("dob", "DOB ", "03.12.1985", ""),
    ("dob", "Birthday: ", "March 12, 1985", ""),
    ("crypto", "send to ", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", " please"),
    ("crypto", "BTC wallet ", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", ""),
    ("crypto", "address ", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", ""),
    ("crypto", "eth ", "0x52908400098527886E0F7030069857D2E4169EE7", ""),
    ("credentials", "DATABASE_URL=postgresql://", "app:Sup3rS3cret", "@db.internal:5432/app"),
    ("credentials", "see https://", "admin:hunter2", "@example.com/admin"),
    ("credentials", "redis://", ":p4ssw0rd", "@cache:6379/0"),
    ("private_key", "key:\n", PEM_RSA, "\nthanks"),
    ("private_key", "", PEM_EC, ""),
    ("private_key", "id_ed25519:\n", PEM_OPENSSH, "\n"),
    ("private_key", "pkcs8 ", PEM_PKCS8, ""),
    ("aws_key_id", "aws_access_key_id = ", "AKIAIOSFODNN7EXAMPLE", ""),
    ("aws_key_id", "sts ", "ASIAY34FZKBOKMUTVV7A", "."),
    ("aws_secret", "aws_secret_access_key=", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
    ("aws_secret", 'aws_secret_access_key: "', "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", '"'),
    ("azure_storage_key", "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=",
     _alnum(86) + "==", ";EndpointSuffix=core.windows.net"),
    ("google_api_key", "key=", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "&q=paris"),
    ("google_api_key", "GOOGLE_API_KEY ", "AIza" + _alnum(35), ""),
    ("github_token", "token ", "ghp_" + _alnum(36), ""),
    ("github_token", "GH_TOKEN=", "gho_" + _alnum(36), ""),
    ("gitlab_token", "export GITLAB_TOKEN=", "glpat-" + _alnum(20), ""),
    ("gitlab_token", "runner ", "glrt-" + _alnum(24), ""),
    ("slack_token", "slack ", "xoxb-123456789012-1234567890123-" + _alnum(24, string.ascii_lowercase + string.digits), ""),
    ("slack_token", "webhook ", "https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFG/" + _alnum(24), ""),
    ("stripe_key", "stripe ", "sk_live_" + _alnum(24), ""),
    ("stripe_key", "restricted ", "rk_live_" + _alnum(24), ""),
    ("twilio_key", "account sid ", "AC" + _hex(32), ""),
    ("twilio_key", "api key ", "SK" + _hex(32), ""),
    ("npm_token", "//registry.npmjs.org/:_authToken=", "npm_" + _alnum(36), ""),
    ("pypi_token", "password = ", "pypi-AgEIcHlwaS5vcmc" + _alnum(70), ""),
    ("sendgrid_key", "SENDGRID_API_KEY ", "SG." + _alnum(22) + "." + _alnum(43), ""),
    ("openai_key", "OPENAI_API_KEY ", "sk-proj-" + _alnum(48), ""),
    ("jwt", "id_token=", JWT, "&state=1"),
    ("bearer", "Authorization: Bearer ", "abc123DEF456ghi789", ""),
    ("bearer", "authorization: bearer ", "0a1b2c3d4e5f6a7b8c9d", ""),
    ("secret", "password=", "hunter2", ""),
    ("secret", "DB_PASSWORD: ", "c0rrect-h0rse", ""),
    ("secret", '{"client_secret": "', "8f3b" + _alnum(20), '"}'),
    ("secret", "api_key: ", "q9Zr" + _alnum(24), ""),
    ("secret", "Authorization: Basic ", "dXNlcjpwYXNzd29yZA==", ""),
]

# (row, text): look-alikes that stay byte for byte.
MUST_KEEP_SEEDS: list[tuple[str, str]] = [
    ("order_number", "Order #48213 shipped"),
    ("order_number", "order 4821399 is on its way"),
    ("order_number", "Order number 4155550132 has shipped"),
    ("order_number", "Invoice INV-2024-000123 is paid"),
    ("sku", "SKU-4411-BLK-XL back in stock"),
    ("sku", "part 8472-119-03 fits"),
    ("sku", "model AB1234 is discontinued"),
    ("git_sha", "commit 4bf92f3577b34da6a3ce929d0e0e4736d5c6a1f2"),
    ("git_sha", "fixed in 9fceb02"),
    ("uuid", "request 123e4567-e89b-12d3-a456-426614174000 failed"),
    ("uuid", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736"),
    ("hash", "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("hash", "md5 d41d8cd98f00b204e9800998ecf8427e"),
    ("isbn", "ISBN 978-3-16-148410-0"),
    ("isbn", "ISBN-10 0-306-40615-2"),
    ("version", "Upgrade to v1.2.3 or 10.0.19041"),
    ("version", "python 3.11.4 and node 20.11.1"),
    ("date", "Delivered 2024-05-01 at 12:30"),
    ("date", "due 05/01/2024, paid 1 May 2024"),
    ("date", "the 2024.05.01 release"),
    ("price", "Total $1,299.00 incl. tax, or €49.00"),
    ("price", "It costs 1 000 000 won"),
    ("tracking_number", "UPS 1Z999AA10123456784"),
    ("tracking_number", "USPS 9400111899223344556677"),
    ("tracking_number", "FedEx 123456789012"),
    ("time", "meet at 12:30 or 12:30:45"),
    ("url", "docs at https://example.com/docs?page=2#top"),
    ("url", "see http://localhost:8080/health"),
    ("prose", "Your password: please reset it from the settings page"),
    ("prose", "The token bucket refills every second"),
    ("prose", "Bearer bonds and a Bearer Authentication scheme"),
    ("prose", "my social security office is closed"),
    ("config", "max_tokens=1024 temperature=0.2"),
    ("config", "tokenizer=cl100k_base"),
    ("config", "password_min_length=12"),
    ("config", "password: ${DB_PASSWORD}"),
    ("config", "secret: <your secret here>"),
    ("card", "test 4111 1111 1111 1112 fails Luhn"),
    ("card", "ref 1234 5678 9012 3456"),
    ("iban", "DE89 3704 0044 0532 0130 01 has a bad check"),
    ("ipv4", "999.168.1.20 is not an address"),
    ("ipv6", "use std::vector and a::b"),
    ("ssn", "SSN 000-12-3456 is invalid"),
    ("ssn", "SSN 666-12-3456 is invalid"),
    ("ssn", "serial 123-456-789 on the label"),
    ("phone", "It has 16:9 screens and 1080p"),
    ("phone", "Unix time 1714521600"),
    ("nhs", "NHS number 9434765918 fails the check"),
    ("bank_account", "Routing: see page 12345"),
    ("crypto", "1BoatSLRHtKNngkdXEeobR76b53LETtpyX fails its checksum"),
    ("crypto", "hash 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"),
    ("dob", "born in 1985"),
    ("passport", "passport photos cost $12"),
    ("nino", "QQ123456C is a specimen"),
    ("aws_key_id", "AKIA1234 is too short"),
    ("github_token", "ghp_short and gho_"),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9 alone"),
    ("secret", "the secret: of a good sauce is time"),
]

_PUNCTUATION = (("(", ")"), ('"', '"'), ("'", "'"), ("", "."), ("", ","), ("[", "]"))
_UNICODE = (("« ", " »"), ("「", "」"), ("", " 🙂"), ("— ", " —"), ("Réf. ", " — merci"))
# Rows whose value is not a self-contained token: punctuation around it would change it.
_NO_WRAP = frozenset({"credentials", "azure_storage_key", "npm_token", "aws_secret", "secret", "bearer"})


def _separators(row: str, value: str) -> Iterator[str]:
    """The same value written with other separators, where the format allows them."""
    if row in ("card", "phone") and any(c in value for c in " -") and "(" not in value:
        yield value.replace(" ", "-") if " " in value else value.replace("-", " ")
    if row == "card" and " " in value:
        yield value.replace(" ", "")
    if row == "iban" and " " in value:
        yield value.replace(" ", "")
    if row == "iban" and " " not in value and value.isupper():
        yield " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    if row in ("ssn", "nhs") and "-" in value:
        yield value.replace("-", " ")
    if row == "dob" and "/" in value:
        yield value.replace("/", "-")


def _cases() -> list[Case]:
    out: list[Case] = []
    for i, (row, prefix, value, suffix) in enumerate(POSITIVE_SEEDS):
        base = f"{row}-{i}"
        out.append(Case(f"{base}", row, prefix + value + suffix, (value,)))
        words = prefix.strip()
        if words and any(c.isalpha() for c in words):
            out.append(Case(f"{base}-upper", row, prefix.upper() + value + suffix, (value,)))
            out.append(Case(f"{base}-lower", row, prefix.lower() + value + suffix, (value,)))
        for j, other in enumerate(_separators(row, value)):
            out.append(Case(f"{base}-sep{j}", row, prefix + other + suffix, (other,)))
        for j, (left, right) in enumerate(_PUNCTUATION):
            if row in _NO_WRAP or row == "private_key" or prefix.endswith(("=", "://", '"')):
                text = f"{left}{prefix}{value}{suffix}{right}"  # the value is bound to its prefix
            else:
                text = f"{prefix.rstrip(': ')} {left}{value}{right}{suffix}"
            out.append(Case(f"{base}-punct{j}", row, text, (value,)))
        left, right = _UNICODE[i % len(_UNICODE)]
        out.append(Case(f"{base}-unicode", row, f"{left}{prefix}{value}{suffix}{right}", (value,)))
    for i, (row, text) in enumerate(MUST_KEEP_SEEDS):
        base = f"keep-{row}-{i}"
        out.append(Case(base, row, text, ()))
        out.append(Case(f"{base}-upper", row, text.upper(), ()))
        left, right = _UNICODE[i % len(_UNICODE)]
        out.append(Case(f"{base}-unicode", row, f"{left}{text}{right}", ()))
    return out


CASES: list[Case] = _cases()
ROWS: list[str] = sorted({c.row for c in CASES if not c.must_keep})
