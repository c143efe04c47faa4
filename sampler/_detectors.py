"""The detectors behind :mod:`sampler.redact` that need context, a keyword or a checksum.

Each ``find_*`` function appends ``(rank, start, end, kind)`` candidates to the redactor's
list; the redactor resolves overlaps by rank. They are written for the worker thread's
budget (a 2 KB text with nothing to find costs a few microseconds in all): each one is
gated by something memchr-fast (one character, or a position the redactor's shape scan
already found), and the expensive patterns run only on short windows there.

Patterns, context words and validity rules follow Microsoft Presidio's predefined
recognizers (US SSN, ITIN, passport, driver's licence, bank number; UK NHS and NINO;
crypto wallets; dates) and Yelp detect-secrets' plugins (keyword assignments, basic-auth
URLs, private keys, vendor token formats), tightened where theirs trade precision away
(Presidio calls every 9-digit number a passport; detect-secrets every quoted
high-entropy string a secret): here a bare number needs its context word.
"""

from __future__ import annotations

import re
from hashlib import sha256

# (rank, start, end, kind); ranks come from the redactor's precedence order.
_Found = list[tuple[int, int, int, str]]

# -- keyword assignments: password=..., "api_key": "...", secret: ... ---------------------

# The identifier left of "=" or ":" is read on the reversed text (a forward pattern would
# be retried at every letter); it may be quoted or closed by "]" ("creds['password'] =").
_IDENT_REV = re.compile(r"[ \t]{0,2}[\"'`\]]{0,2}[ \t]{0,2}([A-Za-z0-9_.\-]{1,64})")
# Words that make any value a secret, and words that make a value that looks like a key
# one; names of settings about a secret rather than the secret itself. Checked with plain
# string operations on the lower-cased name and its segments (split at _ - .): a regex
# search here would cost microseconds per colon of ordinary prose.
_STRONG_PARTS = ("password", "passwd", "passphrase", "secret", "contraseña", "contrasena", "credential")
_STRONG_SEGMENTS = frozenset({"pass", "pwd", "pw"})
_KEY_SEGMENTS = frozenset({"auth", "sig", "signature", "apikey", "sas"})
_SETTING_SEGMENTS = frozenset(
    {"min", "max", "count", "size", "len", "policy", "expiry", "expires", "expiration", "rotation", "reset", "hint",
     "strength", "prompt", "label", "field", "type", "days"}
)  # fmt: skip
_AUTHORIZATION_NAMES = frozenset({"authorization", "authorisation"})
# A cheap first test: one of these occurs in every name that _name_kind accepts.
_NAME_HINTS = ("pass", "pw", "secret", "contrase", "credential", "key", "token", "auth", "sig", "sas")


def _name_kind(ident: str) -> str | None:
    """"strong", "authorization", "key" or None for a lower-cased name."""
    segments = ident.replace("-", "_").replace(".", "_").split("_")
    if "length" in ident or not _SETTING_SEGMENTS.isdisjoint(segments):
        return None  # password_min_length=12, secret_rotation_days: 30
    if any(part in ident for part in _STRONG_PARTS) or not _STRONG_SEGMENTS.isdisjoint(segments) or ident.endswith("pwd"):
        return "strong"
    if segments[-1] in _AUTHORIZATION_NAMES:
        return "authorization"
    if (
        ident.endswith("key")
        or any(seg.endswith("key") for seg in segments[:-1])
        or any(seg.endswith("token") for seg in segments)
        or segments[-1] in _KEY_SEGMENTS
    ):
        return "key"
    return None


# A value: quoted (up to the same quote on the line) or a bare run. Brackets stay out of a
# bare run so an earlier marker is never swallowed; NUL separates a record's strings.
_BARE_VALUE = re.compile(r"[^\s\x00'\"`,;&<>(){}\[\]]{1,256}")
_QUOTED = {"'": re.compile(r"[^'\n\x00]{1,512}(?=')"), '"': re.compile(r'[^"\n\x00]{1,512}(?=")'),
           "`": re.compile(r"[^`\n\x00]{1,512}(?=`)")}  # fmt: skip
_SCHEME_TOKEN = re.compile(r"(?i:(basic|digest|token|apikey|bearer|negotiate|ntlm))[ \t]+([A-Za-z0-9\-._~+/]{8,}=*)")
_SCHEMES = frozenset({"basic", "digest", "token", "apikey", "bearer", "negotiate", "ntlm"})
_PLACEHOLDERS = frozenset(
    {"true", "false", "null", "none", "nil", "undefined", "required", "optional", "string", "str", "int",
     "bool", "password", "passwd", "secret", "changeme", "redacted", "hidden", "masked", "example", "empty",
     "yes", "no", "on", "off", "env", "default", "value", "your_password", "your_api_key", "todo", "tbd"}
)  # fmt: skip


def _placeholder(value: str) -> bool:
    low = value.lower()
    if low in _PLACEHOLDERS or len(set(value)) <= 1:  # "xxxxxx", "******"
        return True
    # Templates and references to other variables are not the secret itself.
    first = value[0]
    if first == "$":
        return len(value) == 1 or value[1] in "{(" or value[1:].replace("_", "").isupper()
    if (first == "<" and value[-1] == ">") or (first == "{" and value[-1] == "}") or value.startswith("%("):
        return True
    return value.startswith(("[REDACTED:", "os.environ", "env.", "process.env", "settings."))


def _looks_like_key(value: str) -> bool:
    if len(value) < 8 or " " in value:
        return False
    classes = (
        any(c.isdigit() for c in value)
        + any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(not c.isalnum() for c in value)
    )
    return classes >= 2 or len(value) >= 24


def find_assignments(text: str, found: _Found, rank: int, bearer_rank: int) -> None:
    """Values assigned to secret-sounding names: ``password=hunter2``, ``"api_key": "…"``,
    ``secret: …``, ``Authorization: Basic …``. The name stays; the value is redacted."""
    for sep in "=:":
        pos = text.find(sep)
        while pos != -1:
            _assignment(text, pos, found, rank, bearer_rank)
            pos = text.find(sep, pos + 1)


def _assignment(text: str, pos: int, found: _Found, rank: int, bearer_rank: int) -> None:
    if pos == 0:
        return
    before = text[pos - 1]
    if not (before.isalnum() or before in "_\"'`] \t"):
        return  # "==", "=>" after an operator, "://", "a:=" ... handled from their first sign
    lo = max(0, pos - 72)
    near = text[max(0, pos - 32) : pos].lower()
    for hint in _NAME_HINTS:
        if hint in near:
            break
    else:
        return  # "Note:", "possible: I", "12:30": no secret-sounding name before the sign
    m = _IDENT_REV.match(text[lo:pos][::-1])
    if m is None:
        return
    if "]" in m.group() and text.rfind("[REDACTED:", text.rfind("\x00", lo, pos) + 1, pos) != -1:
        return  # the name would be a marker's kind: "[REDACTED:secret]:" names nothing
    ident = m.group(1)[::-1].lower()
    if ident[0] in "._-" or ident.isdigit():
        return
    name_kind = _name_kind(ident)
    if name_kind is None:
        return
    strong = name_kind == "strong"
    authorization = name_kind == "authorization"
    # The value: skip "=", "==", "=>", ":=" and blanks, then an optional quote.
    i = pos + 1
    n = len(text)
    while i < n and text[i] in "=>:" and i - pos < 3:
        i += 1
    j = i
    while j < n and text[j] in " \t" and j - i < 8:
        j += 1
    if j >= n:
        return
    if j == i and text[pos] == ":" and text[j].isdigit():
        return  # "12:30", "host:5432"
    quote = text[j] if text[j] in "'\"`" else ""
    start = j + 1 if quote else j
    vm = (_QUOTED[quote] if quote else _BARE_VALUE).match(text, start)
    if vm is None:
        return  # nothing, or a quote that never closes on its line
    value = vm.group()
    if authorization or value[:6].lower() in ("bearer", "basic", "digest", "token"):
        sm = _SCHEME_TOKEN.match(text, start, vm.end() if quote else n)
        if sm is None and value.lower() in _SCHEMES:
            return  # "Bearer" with no token after it (or one already redacted)
        if sm is not None:
            token_start, token_end = sm.span(2)
            if sm.group(1).lower() == "bearer":
                found.append((bearer_rank, token_start, token_end, "bearer"))
            else:
                found.append((rank, token_start, token_end, "secret"))
            return
    value = value.strip()
    if not value or _placeholder(value) or "[REDACTED:" in value or not any(c.isalnum() for c in value):
        return  # a value already redacted in part (or at all) was decided on the first pass
    if strong:
        if len(value) < 3:
            return
        if not quote and text[pos] == ":" and value.isalpha():
            # "Password: please reset it" is prose; "password: letmein" ends its line.
            rest = text[vm.end() : vm.end() + 2]
            if len(rest) == 2 and rest[0] == " " and (rest[1].isalpha() or rest[1] == "["):
                return
    elif not _looks_like_key(value):
        return
    end = start + len(vm.group().rstrip())
    found.append((rank, start, end, "secret"))


# -- basic-auth URLs ----------------------------------------------------------------------

# "scheme://user:password@host": the user-info is redacted, host and path stay. The
# password may hold "@" (the last one before the host counts) and sub-delimiters.
_URL_USERINFO = re.compile(r"[^\s\x00:/?#\[\]@]{0,128}:[^\s\x00/?#\[\]]{1,256}(?=@[A-Za-z0-9\[])")


def find_url_credentials(text: str, found: _Found, rank: int) -> None:
    at = text.find("@")
    while at != -1:
        scheme = text.rfind("://", max(0, at - 400), at)
        if scheme != -1:
            start = scheme + 3
            m = _URL_USERINFO.match(text, start)
            if m is not None:
                found.append((rank, start, m.end(), "credentials"))
                at = text.find("@", m.end() + 1)
                continue
        at = text.find("@", at + 1)


# -- private keys -------------------------------------------------------------------------

_PEM_BEGIN = re.compile(r"-{4,5} ?BEGIN ((?:[A-Z0-9]+ )*?)PRIVATE KEY( BLOCK)? ?-{4,5}")
# A block cut off before its END line (a truncated log) is redacted as far as its body goes.
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=\s\\:,.\-]*")


def _body_end(text: str, pos: int) -> int:
    m = _PEM_BODY.match(text, pos)
    return pos if m is None else m.end()  # never None: the pattern matches the empty string
_PUTTY_END = re.compile(r"Private-MAC: ?[0-9a-fA-F]+")


def find_private_key(text: str, pos: int, found: _Found, rank: int) -> int:
    """A PEM private key block whose armour starts at ``pos`` (its first dash); return
    where to go on. The span runs from ``BEGIN`` to the end label's last word: the armour
    dashes stay on both sides ("-----[REDACTED:private_key]-----"), so what touches the
    block reads the same before and after redaction."""
    m = _PEM_BEGIN.match(text, pos)
    if m is None:
        return pos + 1
    start = text.index("BEGIN", pos)
    end_label = f"END {m.group(1)}PRIVATE KEY{m.group(2) or ''}"
    end = text.find(end_label, m.end(), m.end() + 65_536)
    if end != -1 and "\x00" not in text[m.end() : end]:
        stop = end + len(end_label)
    else:
        stop = _body_end(text, m.end())
    found.append((rank, start, stop, "private_key"))
    return stop


def find_putty_key(text: str, pos: int, found: _Found, rank: int) -> int:
    """A PuTTY key file ("PuTTY-User-Key-File-2: ...") whose name ends at ``pos``."""
    start = pos - 5
    if text[start:pos] != "PuTTY":
        return pos + 1
    m = _PUTTY_END.search(text, pos, pos + 16_384)
    stop = m.end() if m is not None and "\x00" not in text[pos : m.end()] else _body_end(text, pos)
    found.append((rank, start, stop, "private_key"))
    return stop


# -- vendor token formats (detect-secrets' plugins) -----------------------------------------

_DASH_KEYS = re.compile(
    r"(?<![A-Za-z0-9_])(?:"
    r"gl(?:pat|dt|ft|soat|rt|cbt|ptt|oas)-(?:[0-9a-fA-F]{2}_)?[A-Za-z0-9_\-]{20,64}"
    r"|glimt-[A-Za-z0-9_\-]{25}|glagent-[A-Za-z0-9_\-]{50,1024}"
    r"|sq0(?:csp|atp)-[0-9A-Za-z\-_]{22,43}"
    r"|pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9\-_]{50,}"
    r")(?![A-Za-z0-9_\-\[])"
)
_DASH_PREFIX_LENGTHS = (4, 5, 6, 7)
_DASH_PREFIXES = frozenset(
    {"glpat", "gldt", "glft", "glsoat", "glrt", "glcbt", "glptt", "gloas", "glimt", "glagent", "sq0csp", "sq0atp", "pypi"}
)
_MAILCHIMP = re.compile(r"[0-9a-f]{32}-us[0-9]{1,2}(?![A-Za-z0-9\[])")
_TWILIO = re.compile(r"(?:AC|SK)[0-9a-z]{32}(?![A-Za-z0-9\[])")
_TELEGRAM = re.compile(r"[0-9]{8,10}:[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-\[])")
_DISCORD = re.compile(r"[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27}(?![A-Za-z0-9_\-\[])")
NPM = re.compile(r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9\[])")
_GOOGLE = re.compile(r"AIza[0-9A-Za-z\-_]{35}(?![0-9A-Za-z\-_\[])")
_SENDGRID = re.compile(r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-\[])")
_SLACK_HOOK = re.compile(r"(?<=hooks\.)slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+")


def find_dash_key(text: str, dash: int, found: _Found, rank: int) -> None:
    """A token whose prefix ends with the "-" at ``dash`` (GitLab, Square, PyPI)."""
    for length in _DASH_PREFIX_LENGTHS:
        if text[dash - length : dash] in _DASH_PREFIXES:
            m = _DASH_KEYS.match(text, dash - length)
            if m is not None:
                found.append((rank, m.start(), m.end(), "api_key"))
            return


def find_slack_hooks(text: str, found: _Found, rank: int) -> None:
    for m in _SLACK_HOOK.finditer(text):
        found.append((rank, m.start() - 6, m.end(), "api_key"))


def find_long_token(text: str, first_digit: int, end: int, found: _Found, ranks: dict[str, int]) -> None:
    """Formats that are long runs of letters and digits: Google, SendGrid, Twilio,
    Mailchimp, Telegram and Discord tokens, Bitcoin and Ethereum addresses, in the shape's
    run from ``first_digit`` to ``end``. The run may join several tokens with ":", "-" or
    "." ("user:1BoatSLR..."): each piece is tried."""
    pos = first_digit
    first = True
    while True:
        if first or text[pos : pos + 1].isalnum():  # the first digit may be a "." (SG.)
            pos = max(pos, _find_long_token(text, pos, found, ranks))
            first = False
        if end - pos < 26:
            return
        pieces = [p for p in (text.find(":", pos, end), text.find("-", pos, end), text.find(".", pos, end)) if p != -1]
        if not pieces:
            return
        pos = min(pieces) + 1


def _find_long_token(text: str, first_digit: int, found: _Found, ranks: dict[str, int]) -> int:
    """The end of the token found at ``first_digit``, or -1."""
    start = first_digit
    floor = max(0, first_digit - 40)
    while start > floor and (text[start - 1].isalnum() or text[start - 1] in "_-") and text[start - 1].isascii():
        start -= 1
    if start == floor and start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
        return -1  # deep inside a longer token: not one of these formats
    head = text[start]
    if head in "AS":
        pair = text[start : start + 2]
        m = _GOOGLE.match(text, start) if pair == "AI" else _SENDGRID.match(text, start) if pair == "SG" else None
        if m is None and (pair == "AC" or pair == "SK"):
            m = _TWILIO.match(text, start)
            if m is not None and not any(c.isdigit() for c in m.group()):
                m = None
        if m is not None:
            found.append((ranks["api_key"], start, m.end(), "api_key"))
            return m.end()
    elif head in "MNO":
        m = _DISCORD.match(text, start)
        if m is not None:
            found.append((ranks["api_key"], start, m.end(), "api_key"))
            return m.end()
    if head.isdigit():
        m = _TELEGRAM.match(text, start)
        if m is not None:
            found.append((ranks["api_key"], start, m.end(), "api_key"))
            return m.end()
    if head in "0123456789abcdef":
        m = _MAILCHIMP.match(text, start)
        if m is not None:
            found.append((ranks["api_key"], start, m.end(), "api_key"))
            return m.end()
    return find_crypto(text, start, found, ranks["crypto"])


# -- crypto wallets -------------------------------------------------------------------------

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
_B58_ADDRESS = re.compile(r"(?<![A-Za-z0-9\]])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9\[])")
_BECH32_ADDRESS = re.compile(r"(?<![A-Za-z0-9\]])(?:bc1|BC1|tb1)[02-9ac-hj-np-zAC-HJ-NP-Z]{11,71}(?![A-Za-z0-9\[])")
_ETH_ADDRESS = re.compile(r"(?<![A-Za-z0-9\]])0x[0-9a-fA-F]{40}(?![A-Za-z0-9\[])")
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# In the redactor's shape digits are "0"; an address is a long run of letters and digits.
SHAPE_LONG_TOKEN = re.compile(rb"0[0A-Za-z\x01]{25,}")


def _base58check_ok(address: str) -> bool:
    n = 0
    for ch in address:
        n = n * 58 + _B58_INDEX[ch]
    pad = len(address) - len(address.lstrip("1"))
    raw = b"\x00" * pad + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return len(raw) == 25 and sha256(sha256(raw[:-4]).digest()).digest()[:4] == raw[-4:]


def _bech32_ok(address: str) -> bool:
    low = address.lower()
    if low != address and address.upper() != address:
        return False
    sep = low.rfind("1")
    hrp, data = low[:sep], [_BECH32_CHARSET.find(c) for c in low[sep + 1 :]]
    if min(data, default=-1) < 0 or len(data) < 6:
        return False
    chk = 1
    for value in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= _BECH32_GEN[i] if (top >> i) & 1 else 0
    return chk in (1, 0x2BC830A3)  # bech32 (segwit v0), bech32m (taproot)


def find_crypto(text: str, start: int, found: _Found, rank: int) -> int:
    """A wallet address starting at ``start``; return its end, or -1."""
    if text.startswith("0x", start):
        m = _ETH_ADDRESS.match(text, start)
        if m is not None:
            found.append((rank, start, m.end(), "crypto"))
            return m.end()
        return -1
    if text[start : start + 3].lower() in ("bc1", "tb1"):
        m = _BECH32_ADDRESS.match(text, start)
        if m is not None and _bech32_ok(m.group()):
            found.append((rank, m.start(), m.end(), "crypto"))
            return m.end()
    m = _B58_ADDRESS.match(text, start)
    if m is not None and _base58check_ok(m.group()):
        found.append((rank, start, m.end(), "crypto"))
        return m.end()
    return -1


# -- IBAN (ISO 13616, mod-97) ----------------------------------------------------------------

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

def _iban_ok(compact: str) -> bool:
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    # int(ch, 36) maps 0-9 to themselves and A-Z to 10-35: exactly the ISO 13616 table.
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def iban_end(text: str, start: int, end: int) -> int | None:
    """End of the valid IBAN starting at ``start`` (its country letters), or None; any case.

    The candidate is cut at the registry length for its country, so a trailing word the
    greedy group repetition swallowed is left alone.
    """
    expected = _IBAN_LENGTHS.get(text[start : start + 2].upper())
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
    return pos if _iban_ok("".join(compact).upper()) else None


# -- numbers that need a context word --------------------------------------------------------

_MONTH = r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[A-Za-z]{0,6}"
# Candidate forms, matched only at the starts that find_context_numbers computes (a scan
# of this pattern would cost ~0.3 µs per character). The guards keep out amounts, paths,
# versions and ids: nothing of a word, "$", "/", "." or "-" right before or after ("#" may
# come before: "SSN#536221987"; a bare "#48213" has no context word). Like the numeric
# pass, they read "]" before and "[" after as the digits a marker replaced (idempotence).
_CONTEXT_CANDIDATE = re.compile(
    rf"""
    (?<![\w\-/.,$€£%+@:=\]])
    (?:
        (?P<sep9>[0-9]{{3}}(?P<s9>[\ .\-])[0-9]{{2}}(?P=s9)[0-9]{{4}})
      | (?P<sep10>[0-9]{{3}}(?P<s10>[\ .\-])[0-9]{{3}}(?P=s10)[0-9]{{4}})
      | (?P<nino>[A-Za-z]{{2}}\ ?[0-9]{{2}}\ ?[0-9]{{2}}\ ?[0-9]{{2}}\ ?[A-Da-d])
      | (?P<date>
            [0-9]{{1,2}}(?P<d1>[/.\-])[0-9]{{1,2}}(?P=d1)(?:[0-9]{{4}}|[0-9]{{2}})
          | [0-9]{{4}}(?P<d2>[/.\-])[0-9]{{1,2}}(?P=d2)[0-9]{{1,2}}
          | [0-9]{{1,2}}(?:st|nd|rd|th)?\ (?:of\ )?{_MONTH}\.?,?\ [0-9]{{4}}
          | {_MONTH}\.?\ [0-9]{{1,2}}(?:st|nd|rd|th)?,?\ [0-9]{{4}}
        )
      | (?P<ukdl>[A-Za-z9]{{5}}[0-9]{{6}}[A-Za-z9]{{2}}[0-9][A-Za-z]{{2}})
      | (?P<alnum>[A-Za-z]{{1,3}}[0-9]{{4,14}}[A-Za-z]?|[0-9]{{2}}[A-Za-z]{{3}}[0-9]{{5,6}}|[0-9]{{7,9}}[A-Za-z]{{1,2}})
      | (?P<digits>[0-9]{{6,17}})
    )
    (?![\w\-/@\[]|[.,][0-9\[])
    """,
    re.VERBOSE,
)
_MONTH_DATE = re.compile(
    rf"(?:[0-9]{{1,2}}(?:st|nd|rd|th)?\ (?:of\ )?{_MONTH}|{_MONTH}\.?\ [0-9]{{1,2}}(?:st|nd|rd|th)?,?)\ ?$"
)
# A lower- or mixed-case IBAN ("gb82west12345698765432"); upper-case ones are found by
# the redactor's numeric pass already.
_IBAN_ANY = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:\ ?[A-Za-z0-9]{4}){2,7}(?:\ ?[A-Za-z0-9]{1,3})?(?![A-Za-z0-9\[])")
_DIGIT_RUN = re.compile(rb"[0-9]*")
# The last three letters of each month's name and abbreviation ("12 March 1985").
_MONTH_ENDS = frozenset(
    {"ary", "rch", "ril", "may", "une", "uly", "ust", "ber", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
     "sep", "ept", "oct", "nov", "dec"}
)  # fmt: skip
_ZERO_RUN = re.compile(rb"0*")
# Context words, after Presidio's recognizers (plus common spellings), looked up word by
# word: a regex alternation scanned over the window would cost ~1 µs per character. The
# closest word before the number wins; failing that, the first one just after it.
_CONTEXT_WORDS: dict[str, str] = {
    **dict.fromkeys(("ssn", "ssns", "ss#", "ssn#"), "ssn"),
    **dict.fromkeys(("itin", "taxpayer", "taxid", "tin"), "itin"),
    "passport": "passport",
    **dict.fromkeys(("driver", "driver's", "drivers", "driving", "licence", "license", "dl", "dl#", "lic", "lic#",
                     "cdl"), "driver_license"),  # fmt: skip
    **dict.fromkeys(("account", "acct", "a/c", "bank", "checking", "savings", "routing", "iban"), "bank_account"),
    "nhs": "nhs",
    "nino": "nino",
    **dict.fromkeys(("call", "phone", "telephone", "tel", "mobile", "cell", "cellphone", "sms", "text", "whatsapp",
                     "fax", "contact", "reach", "ring", "dial"), "phone"),  # fmt: skip
    **dict.fromkeys(("born", "birth", "birthday", "dob"), "dob"),
}
_CONTEXT_PAIRS: dict[tuple[str, str], str] = {
    ("social", "security"): "ssn", ("social", "sec"): "ssn", ("tax", "id"): "itin", ("travel", "document"): "passport",
    ("national", "health"): "nhs", ("health", "service"): "nhs", ("national", "insurance"): "nino",
    ("ni", "number"): "nino", ("ni", "no"): "nino",
}  # fmt: skip
_WORD = re.compile(r"[a-z0-9#/]+")  # "driver's" reads "driver", "s"; "5919.dl" reads "5919", "dl"
_BEFORE = 48
_AFTER = 24
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_NINO_PREFIX = re.compile(r"(?!BG|GB|NK|KN|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]")
_NON_DIGITS = re.compile(r"[^0-9]")


# Only words this specific may follow the number ("123456789 is my SSN"); a "call" or an
# "account" after a number is usually about something else.
_SPECIFIC = frozenset({"ssn", "itin", "passport", "nhs", "nino", "dob"})


def _context(text: str, start: int, end: int, after_kinds: frozenset[str]) -> str | None:
    lo = max(0, start - _BEFORE)
    nul = text.rfind("\x00", lo, start)
    before = text[nul + 1 if nul != -1 else lo : start].lower()
    if "]" in before:
        # A marker ends the window: its kind name ("[redacted:phone]") is no context word,
        # and a word it replaced must not be read past it on a second pass.
        before = before[before.rfind("]") + 1 :]
    words = _WORD.findall(before.replace("d.o.b", "dob"))
    for i in range(len(words) - 1, -1, -1):
        kind = (_CONTEXT_PAIRS.get((words[i - 1], words[i])) if i else None) or _CONTEXT_WORDS.get(words[i])
        if kind is not None:
            return kind
    hi = min(len(text), end + _AFTER)
    nul = text.find("\x00", end, hi)
    after = text[end : nul if nul != -1 else hi].lower()
    if "[" in after:
        after = after[: after.find("[")]
    words = _WORD.findall(after.replace("d.o.b", "dob"))
    for i, word in enumerate(words):
        kind = _CONTEXT_PAIRS.get((word, words[i + 1])) if i + 1 < len(words) else None
        kind = kind or _CONTEXT_WORDS.get(word)
        if kind is not None:
            return kind if kind in after_kinds else None
    return None


def _ssn_ok(digits: str) -> bool:
    """Presidio's invalid-range rules: one repeated digit, a zero group, area 000 or 666, or
    900-999 (ITINs) are not SSNs."""
    return not (
        len(set(digits)) == 1
        or digits[3:5] == "00"
        or digits[5:] == "0000"
        or digits[:3] in ("000", "666")
        or digits[0] == "9"
    )


def _itin_ok(digits: str) -> bool:
    group = int(digits[3:5])
    return digits[0] == "9" and (50 <= group <= 65 or 70 <= group <= 88 or 90 <= group <= 92 or 94 <= group <= 99)


def _nhs_ok(digits: str) -> bool:
    total = sum(int(c) * w for c, w in zip(digits, range(10, 0, -1)))
    return total % 11 == 0


def _date_ok(candidate: str) -> bool:
    low = candidate.lower()
    numbers = [int(x) for x in re.findall(r"[0-9]+", low)]
    month_name = re.search(r"[a-z]{3}", low)
    if month_name is not None:
        word = month_name.group()
        if word not in _MONTHS and not (word == "of" and re.search(r"of ([a-z]{3})", low)):
            return False
        day = next((n for n in numbers if n <= 31), 0)
        return 1 <= day <= 31
    if len(numbers) != 3:
        return False
    a, b, c = numbers
    if a > 31:  # yyyy-mm-dd
        return 1 <= b <= 12 and 1 <= c <= 31
    return (1 <= a <= 12 and 1 <= b <= 31) or (1 <= a <= 31 and 1 <= b <= 12)


def _classify(text: str, m: re.Match[str]) -> str | None:
    group = m.lastgroup
    candidate = m.group()
    if group == "sep9":
        digits = _NON_DIGITS.sub("", candidate)
        if m.group("s9") == "-":  # 123-45-6789: the SSN's own shape needs no context
            return "itin" if _itin_ok(digits) else "ssn" if _ssn_ok(digits) else None
        context = _context(text, m.start(), m.end(), _SPECIFIC)
        if context == "itin" or (context == "ssn" and digits[0] == "9"):
            return "itin" if _itin_ok(digits) else None
        return "ssn" if context == "ssn" and _ssn_ok(digits) else None
    context = _context(text, m.start(), m.end(), _SPECIFIC)
    if group == "nino":
        compact = candidate.replace(" ", "")
        if _NINO_PREFIX.match(compact.upper()) is None:
            return None
        return "nino" if context == "nino" or compact.isupper() else None
    if context is None:
        return None
    if group == "date":
        return "dob" if context == "dob" and _date_ok(candidate) else None
    if group == "sep10":
        digits = _NON_DIGITS.sub("", candidate)
        if context == "nhs":
            return "nhs" if _nhs_ok(digits) else None
        return context if context in ("phone", "bank_account") else None
    if group == "ukdl":
        return "driver_license" if context == "driver_license" else None
    if group == "alnum":
        if context in ("passport", "driver_license"):
            return context
        return None
    # digits
    n = len(candidate)
    if context == "phone":
        return "phone" if 10 <= n <= 11 else None
    if context == "ssn":
        return "ssn" if n == 9 and _ssn_ok(candidate) else None
    if context == "itin":
        return "itin" if n == 9 and _itin_ok(candidate) else None
    if context == "nhs":
        return "nhs" if n == 10 and _nhs_ok(candidate) else None
    if context == "passport":
        return "passport" if 6 <= n <= 9 else None
    if context == "driver_license":
        return "driver_license" if 6 <= n <= 14 else None
    if context == "bank_account":
        return "bank_account" if 8 <= n <= 17 else None
    return None


# Shapes worth a closer look, and where the candidate's run of four digits starts in each:
# six digits or dots (compact numbers, dotted dates), " 6789" (spaced groups, month-name
# dates), "-6789" (dashed), "/1985" (slashed dates), "1985-03-12" and a spaced NINO's
# "12 34 56 ". Each is one fast find on the shape.
_CONTEXT_NEEDLES: tuple[tuple[bytes, int], ...] = (
    (b"000000", 0), (b" 0000", 1), (b"\x010000", 1), (b"/0000", 1), (b"0000\x0100\x0100", 0), (b"00 00 00 ", -3),
)  # fmt: skip


def find_context_numbers(text: str, shape: bytes, raw: bytes, found: _Found, ranks: dict[str, int]) -> None:
    """SSN, ITIN, NHS, NINO, passport, licence, bank account, bare phone numbers, dates of
    birth and lower-case IBANs, at the places the shape's needles point to."""
    hits: list[int] = []
    for needle, offset in _CONTEXT_NEEDLES:
        pos = shape.find(needle)
        while pos != -1:
            hits.append(pos + offset)
            pos = shape.find(needle, pos + len(needle))
    if not hits:
        return
    # Digits inside a key, a card or an IBAN are not numbers of their own (a phone number
    # may still turn out to be an NHS number).
    above = ranks["nhs"]
    taken = [(s, e) for r, s, e, _ in found if r < above]
    done = -1
    for pos in sorted(hits):
        if pos < done or pos < 0 or (taken and any(s <= pos < e for s, e in taken)):
            continue
        run = _DIGIT_RUN.match(raw, pos).end() - pos  # type: ignore[union-attr]
        done = pos + max(run, 1)
        for start in _starts(text, pos, run):
            m = _CONTEXT_CANDIDATE.match(text, start)
            if m is None or m.end() <= pos:
                continue
            kind = _classify(text, m)
            if kind is not None:
                found.append((ranks[kind], m.start(), m.end(), kind))
                done = max(done, m.end())
                break
        # An IBAN in any case: the hit lies in its account number, behind its "cc00" head.
        if run >= 4 and pos > 0 and (text[pos - 1].isalnum() or (text[pos - 1] == " " and text[pos - 5 : pos - 1].isalnum())):
            for head in _iban_heads(text, pos):
                m = _IBAN_ANY.match(text, head)
                if m is not None and m.end() > pos:
                    end = iban_end(text, m.start(), m.end())
                    if end is not None:
                        found.append((ranks["iban"], m.start(), end, "iban"))
                        done = max(done, end)
                        break


def _month_before_day(text: str, last: int) -> bool:
    """Whether the day number ending at ``last`` follows a month name ("March 12 1985")."""
    day = last
    while day > last - 2 and day > 0 and text[day].isdigit():
        day -= 1
    if day == last or text[day] != " ":
        return False
    return text[day - 3 : day].lower() in _MONTH_ENDS or (text[day - 1] == "." and text[day - 4 : day - 1].lower() in _MONTH_ENDS)


def _iban_heads(text: str, pos: int) -> list[int]:
    """Where a lower- or mixed-case IBAN holding the digits at ``pos`` may start: the
    start of a compact token ("gb82west1234…"), or a group head up to seven groups back
    ("gb82 west 1234 …"). Plain slices: a regex search here would cost more than the rest."""
    heads = []
    if text[pos - 1].isalnum():
        start = pos
        while start > pos - 30 and start > 0 and text[start - 1].isalnum():
            start -= 1
        heads.append(start)
    else:
        heads.extend(range(pos - 5, max(-1, pos - 41), -5))
    return [
        h for h in heads
        if h >= 0 and text[h : h + 2].isalpha() and text[h + 2 : h + 4].isdigit() and not text[h : h + 2].isupper()
        and (h == 0 or not text[h - 1].isalnum())
    ]  # fmt: skip


def _starts(text: str, pos: int, run: int) -> tuple[int, ...]:
    """Where a candidate around the digits at ``pos`` (``run`` of them) may begin."""
    if run < 4:  # "12.03.1985", "123.45.6789" (dots in the shape's run), a spaced NINO
        return (pos,) if run else (pos, pos + 1)
    if run >= 6:
        start = pos
        while start > pos - 3 and start > 0 and text[start - 1].isascii() and text[start - 1].isalpha():
            start -= 1
        if start == pos - 3 and text[pos - 5 : pos - 3].isalnum():
            return (pos - 5, pos)  # a UK licence's five-character head ("MORGA753116SM9IJ")
        return (start, pos) if start != pos else (pos,)
    if run != 4:
        return ()
    prev = text[pos - 1] if pos > 0 else ""
    nxt = text[pos + 4 : pos + 6]
    if len(nxt) == 2 and nxt[0] in "-/." and nxt[1].isdigit():
        return (pos,)  # 1985-03-12
    starts: tuple[int, ...] = ()
    if prev in ("-", ".", " ", "/") and text[pos - 3 : pos - 1].isdigit():
        # 123-45-6789, 943 476 5919, 1/2/1985, 01/02/1985
        starts = (pos - 7, pos - 8, pos - 6, pos - 5, pos - 4)
    if prev == " " and pos >= 5 and (
        text[pos - 2] == ","
        or text[pos - 4 : pos - 1].lower() in _MONTH_ENDS
        or (text[pos - 2] == "." and text[pos - 5 : pos - 2].lower() in _MONTH_ENDS)
        or _month_before_day(text, pos - 2)
    ):
        m = _MONTH_DATE.search(text, max(0, pos - 24), pos)
        if m is not None:
            starts += (m.start(),)
    return tuple(s for s in starts if s >= 0)
