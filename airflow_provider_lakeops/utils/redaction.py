"""The one place that decides what is a secret and how secrets and personal data are removed from text.

Every capability calls this module: the notifiers (callback errors), the GX gate (exception
messages), the Snowflake MERGE (statement errors), the Kafka Connect operators (config masks and
diffs) and the Spark streaming app and its operator (Kafka client options). A rule fixed here is
fixed everywhere.

* :func:`is_secret_key` - is a config key / option name secret (``database.password``,
  ``kafka.sasl.jaas.config``, ``x-api-key``, ``ssl.key`` ...)?
* :func:`redact_secrets` - known secret values in a text -> ``***``.
* :func:`redact_registered` - the secrets registered with Airflow's secret masker -> ``***``.
* :func:`scrub_text` - credentials and personal data in free text: URL userinfo, ``key=value``
  secrets (keys decided by :func:`is_secret_key`), bearer tokens, JWTs, Slack webhooks and tokens,
  e-mail addresses (Unicode local parts, IDN domains), SSNs, phone numbers (North American,
  international ``+44 20 7946 0958`` and common national formats), card-like digit runs.
* :func:`scrub_literals` / :func:`scrub_values` - stricter forms for messages about data: quoted
  literals, and (``scrub_values``) every e-mail-like token, hex/IPv6 run and digit run.
* :func:`is_secret_entry`, :func:`mask_entry` / :func:`mask_mapping` - a config mapping with
  secret values masked.

Only the standard library is imported: the module is shipped in the ``--py-files`` zip and
imported by the Spark apps under ``spark-submit``, where Airflow is not installed
(:func:`redact_registered` imports Airflow when called, and is a no-op without it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

__all__ = [
    "MASK",
    "is_secret_entry",
    "is_secret_key",
    "mask_entry",
    "mask_mapping",
    "redact_registered",
    "redact_secrets",
    "scrub_literals",
    "scrub_text",
    "scrub_values",
]

log = logging.getLogger(__name__)

#: What a secret value is replaced by.
MASK = "***"

# ------------------------------------------------------------------------ secret key names
#: A key naming any of these (case-insensitive substring) holds a secret.
_SECRET_WORDS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "credential",
    "jaas",
    "authorization",
    "sasl.oauthbearer.config",
)
#: ``api.key``, ``api_key``, ``apikey``, ``x-api-key``, ``app_key``, ``access-key``, ``private.key`` ...
_SECRET_KEY_PAIRS = re.compile(r"(?:api|app|access|private)[._-]?key")
#: Kafka / TLS settings whose value is key material (``ssl.key``, ``ssl.keystore.key``, ``ssl.key.pem``).
_SECRET_SUFFIXES = (".key", "key.pem", "keystore.key")


def is_secret_key(name: object) -> bool:
    """True when a config key or option name says its value is a secret (never log it, never put it in argv).

    A name is secret when it contains ``password``, ``passwd``, ``pwd``, ``secret``, ``token``,
    ``credential``, ``jaas``, ``authorization`` or ``sasl.oauthbearer.config``; names an API, app,
    access or private key (``api.key``, ``api_key``, ``apikey``, ``x-api-key``, ``private.key`` ...);
    or ends with ``.key``, ``key.pem`` or ``keystore.key``. Case is ignored.
    """
    key = str(name).lower()
    return (
        any(word in key for word in _SECRET_WORDS)
        or bool(_SECRET_KEY_PAIRS.search(key))
        or key.endswith(_SECRET_SUFFIXES)
    )


# ------------------------------------------------------------------------- known secret values
def redact_secrets(text: str, secrets: Iterable[object] = (), mask: str = MASK) -> str:
    """``text`` with every occurrence of every known secret value replaced by ``mask``.

    Longer secrets are replaced first, so a secret that contains another never leaves a tail behind.
    Empty values are ignored.
    """
    values = sorted({str(s) for s in secrets if s is not None and str(s)}, key=len, reverse=True)
    for value in values:
        text = text.replace(value, mask)
    return text


def redact_registered(text: str) -> str:
    """``text`` with every secret registered with Airflow's secret masker (``mask_secret``) replaced by
    ``***``.

    Airflow is imported here, when called: without Airflow (a Spark driver) the text comes back
    unchanged, and callers still scrub it.
    """
    try:
        from airflow.sdk.log import redact

        return str(redact(text))
    except Exception:  # the masker is optional; callers still trim and scrub
        log.debug("Secret masker unavailable", exc_info=True)
        return text


# ------------------------------------------------------------------------------ free text
#: ``scheme://user:password@host`` and ``scheme://token@host`` (up to the last ``@`` of the authority).
_URL_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#]+@")
#: ``key=value``, ``key: value``, ``"key": "value"``; the key is judged by :func:`is_secret_key`.
_KEY_SEP = re.compile(r"""(?<![\w.-])(?P<key>[A-Za-z_][\w.-]*)(?P<sep>["']?\s*[=:]\s*)""")
_VALUE = re.compile(r"""(?i)(?:(?:bearer|basic|token|digest|negotiate)\s+)?(?:"[^"]*"|'[^']*'|\S+)""")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/-]+=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_SLACK_WEBHOOK = re.compile(r"hooks\.slack\.com/(services|workflows|triggers)/[A-Za-z0-9/_-]+")
_SLACK_TOKEN = re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")
_GITHUB_TOKEN = re.compile(r"\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}")
#: Unicode local parts (``zoë.núñez``, ``o'brien``), IDN domains (``bücher.de``, ``пример.рф``, punycode).
_EMAIL = re.compile(
    r"(?<![\w.%+'-])(?P<quote>'?)[\w%+-]+(?:[.'][\w%+-]+)*@(?:[\w-]+\.)+(?:xn--[\w-]+|[^\W\d_]{2,})"
)
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
#: ``+44 20 7946 0958``, ``+49 30 1234567``, ``+33 6 12 34 56 78``, ``+1 (555) 123-4567``,
#: ``+44 (0)20 7946 0958``, ``+4915112345678`` (7 to 15 digits, counted when replaced).
_PHONE_INTL = re.compile(
    r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\)[ .-]?\d{1,10}|[ .-]\d{1,10}){1,6}(?![\w])"
    r"|(?<![\w+])\+\d{7,15}(?![\w])"
)
#: North American numbers: ``555-123-4567``, ``(555) 123-4567``, ``+1 555.123.4567``.
_PHONE_NANP = re.compile(r"(?<![\w-])(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b")
#: National formats: ``06 12 34 56 78`` (FR), ``020 7946 0958`` (UK), ``030 1234567`` (DE); 9-12 digits.
_PHONE_NATIONAL = re.compile(
    r"(?<![\w.-])0[1-9](?:[ .]\d{2}){4}(?![\w.-])|(?<![\w.-])0\d{1,4}[ -]\d{3,8}(?:[ -]\d{3,4})?(?![\w.-])"
)
#: Card-like digit runs: 13-19 digits, optionally grouped by spaces or dashes.
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")


def _digits_between(low: int, high: int) -> Callable[[re.Match[str]], str]:
    def _replace(match: re.Match[str]) -> str:
        digits = sum(ch.isdigit() for ch in match.group(0))
        return "<phone>" if low <= digits <= high else match.group(0)

    return _replace


_PHONE_INTL_SUB = _digits_between(7, 15)
_PHONE_NATIONAL_SUB = _digits_between(9, 12)


def _mask_key_values(text: str) -> str:
    """Mask the value after every ``key=`` / ``key:`` whose key :func:`is_secret_key` calls secret."""
    out: list[str] = []
    pos = 0
    for match in _KEY_SEP.finditer(text):
        if match.start() < pos or not is_secret_key(match["key"]):
            continue
        value = _VALUE.match(text, match.end())
        if value is None:
            continue
        out += [text[pos : match.end()], MASK]
        pos = value.end()
    out.append(text[pos:])
    return "".join(out)


def scrub_text(text: str) -> str:
    """``text`` without credentials or values that look like personal data.

    In this order: URL userinfo (``scheme://user:pass@host`` -> ``scheme://***@host``), values of
    secret keys (``password=...``, ``"api_key": "..."``, ``Authorization: Bearer ...`` -> ``***``),
    bearer tokens, JWTs, Slack webhook paths (``hooks.slack.com/services/***``) and tokens, GitHub
    tokens, e-mail addresses (``<email>``), US SSNs (``<ssn>``), phone numbers (``<phone>``) and
    card-like digit runs (``<number>``). Operational text (row counts, table names, query ids,
    ``host:port``, timestamps) is left as it is.
    """
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    text = _mask_key_values(text)
    text = _BEARER.sub(r"\1 ***", text)
    text = _JWT.sub(MASK, text)
    text = _SLACK_WEBHOOK.sub(r"hooks.slack.com/\1/***", text)
    text = _SLACK_TOKEN.sub(MASK, text)
    text = _GITHUB_TOKEN.sub(MASK, text)
    text = _EMAIL.sub(r"\g<quote><email>", text)
    text = _SSN.sub("<ssn>", text)
    text = _PHONE_INTL.sub(_PHONE_INTL_SUB, text)
    text = _PHONE_NANP.sub("<phone>", text)
    text = _PHONE_NATIONAL.sub(_PHONE_NATIONAL_SUB, text)
    return _CARD.sub("<number>", text)


_QUOTED_SINGLE = re.compile(r"'[^']*'")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_EMAIL_LIKE = re.compile(r"(?<![^\s@'\"])[^\s@'\"]+@[^\s@'\"]+")  # starts at a token: linear time
_HEX_RUN = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){2,}[0-9A-Fa-f:]*")
_DIGIT_RUN = re.compile(r"\d{2,}")


def scrub_literals(text: str, mask: str = "'***'", *, double_quotes: bool = False) -> str:
    """``text`` with every single-quoted literal (and double-quoted one when asked) replaced by ``mask``.

    A literal may span lines (a value with a newline is still one value).
    """
    return (_QUOTED if double_quotes else _QUOTED_SINGLE).sub(mask, text)


def scrub_values(text: str) -> str:
    """The strictest form, for messages about data values: nothing that could be a value survives.

    :func:`scrub_text`, then quoted literals (``'<redacted>'``), anything e-mail-like (``a@b``),
    hex / IPv6 runs (``<redacted>``) and runs of two or more digits (``<n>``).
    """
    text = scrub_literals(scrub_text(text), "'<redacted>'", double_quotes=True)
    text = _EMAIL_LIKE.sub("<redacted>", text)
    text = _HEX_RUN.sub("<redacted>", text)
    return _DIGIT_RUN.sub("<n>", text)


# ------------------------------------------------------------------------------ mappings
def is_secret_entry(key: object, value: object, secrets: Collection[str] = ()) -> bool:
    """A config entry is secret by its key name (:func:`is_secret_key`) or because its value is a known
    secret."""
    return is_secret_key(key) or (isinstance(value, str) and value in secrets)


def mask_entry(
    key: object, value: Any, secrets: Collection[str] = (), *, keep: Callable[[Any], bool] | None = None
) -> Any:
    """One config value as it may be shown: ``***`` for a secret, known secrets cut out of the rest.

    :param key: the config key; :func:`is_secret_key` decides by name.
    :param value: its value; ``None`` stays ``None``; a value equal to one of ``secrets`` is masked.
    :param secrets: known secret values (a password injected from a connection ...).
    :param keep: values for which this returns ``True`` are shown as they are, even under a secret
        key (references resolved elsewhere, such as Kafka Connect's ``${file:...}`` placeholders).
    """
    if value is None or (keep is not None and keep(value)):
        return value
    if is_secret_entry(key, value, secrets):
        return MASK
    if isinstance(value, str):  # a secret embedded in a longer value (a JDBC URL ...)
        return redact_secrets(value, secrets)
    return value


def mask_mapping(
    config: Mapping[Any, Any], secrets: Collection[str] = (), *, keep: Callable[[Any], bool] | None = None
) -> dict[Any, Any]:
    """``config`` with every value passed through :func:`mask_entry` (keys kept, order kept)."""
    return {key: mask_entry(key, value, secrets, keep=keep) for key, value in config.items()}
