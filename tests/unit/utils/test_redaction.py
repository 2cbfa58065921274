"""utils/redaction.py: the one place that decides what a secret is and how secrets and PII leave text."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import airflow_provider_lakeops
from airflow_provider_lakeops.utils.redaction import (
    MASK,
    is_secret_entry,
    is_secret_key,
    mask_entry,
    mask_mapping,
    redact_registered,
    redact_secrets,
    scrub_literals,
    scrub_text,
    scrub_values,
)

PACKAGE = Path(airflow_provider_lakeops.__file__).resolve().parent
REDACTION = PACKAGE / "utils" / "redaction.py"


# ------------------------------------------------------------------ secret keys
SECRET_KEYS = [
    ("database.password", "password"),
    ("PASSWORD", "password-upper"),
    ("db_passwd", "passwd"),
    ("mysql.pwd", "pwd"),
    ("client_secret", "secret"),
    ("access_token", "token"),
    ("aws.credentials.provider", "credential"),
    ("kafka.sasl.jaas.config", "jaas-config"),
    ("sasl.jaas", "jaas"),
    ("sasl.oauthbearer.config", "oauthbearer-config"),
    ("Authorization", "authorization"),
    ("api.key", "api-dot-key"),
    ("api_key", "api-underscore-key"),
    ("apikey", "apikey"),
    ("X-Api-Key", "x-api-key-header"),
    ("dd.app_key", "app-key"),
    ("s3.access-key", "access-key"),
    ("private.key", "private-dot-key"),
    ("private_key", "private-underscore-key"),
    ("kafka.ssl.key", "dot-key-suffix"),
    ("kafka.ssl.key.pem", "key-pem-suffix"),
    ("kafka.ssl.keystore.key", "keystore-key-suffix"),
    ("kafka.ssl.keystore.password", "keystore-password"),
]
PLAIN_KEYS = [
    ("kafka.bootstrap.servers", "bootstrap"),
    ("kafka.ssl.truststore.location", "truststore-location"),
    ("kafka.security.protocol", "security-protocol"),
    ("kafka.ssl.key.location", "key-location"),
    ("key.converter", "key-converter"),
    ("merge_key", "merge-key"),
    ("database.user", "user"),
    ("connector.class", "connector-class"),
]


@pytest.mark.parametrize("key", [k for k, _ in SECRET_KEYS], ids=[i for _, i in SECRET_KEYS])
def test_secret_keys(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [k for k, _ in PLAIN_KEYS], ids=[i for _, i in PLAIN_KEYS])
def test_plain_keys(key):
    assert not is_secret_key(key)


def test_secret_entry_by_key_or_by_known_value():
    assert is_secret_entry("database.password", "x")
    assert is_secret_entry("note", "hunter22", ["hunter22"])
    assert not is_secret_entry(
        "note", "hunter22 and more", ["hunter22"]
    )  # embedded: cut out, not masked whole
    assert not is_secret_entry("note", 42, ["42"])


# ------------------------------------------------------------------ known secret values
@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("login pw-1 failed", ["pw-1"], "login *** failed"),
        ("a pw-1 b pw-1", ("pw-1",), "a *** b ***"),
        ("token abcdef", ["abc", "abcdef"], "token ***"),  # the longer secret first: no 'def' tail
        ("nothing here", ["", None], "nothing here"),
        ("x", [], "x"),
    ],
    ids=["one", "every-occurrence", "longest-first", "empty-ignored", "no-secrets"],
)
def test_redact_secrets(text, secrets, expected):
    assert redact_secrets(text, secrets) == expected


def test_redact_secrets_custom_mask():
    assert redact_secrets("a s3cr3t b", ["s3cr3t"], mask="<secret>") == "a <secret> b"


def test_redact_registered_uses_airflows_masker():
    from airflow.sdk.log import mask_secret

    mask_secret("registered-in-redaction-2718")
    assert redact_registered("login registered-in-redaction-2718 failed") == "login *** failed"


# ------------------------------------------------------------------ free text
LEAKS = [
    (
        "connect to postgresql://etl:hunter22@db:5432/x failed",
        "hunter22",
        "postgresql://***@db:5432/x",
        "url-user-password",
    ),
    (
        "clone https://ghx-token-only@git.example.com/r.git",
        "ghx-token-only",
        "https://***@git.example.com",
        "url-user-only",
    ),
    ("mysql://u:p@ss@host/db", "p@ss", "mysql://***@host/db", "url-password-with-at"),
    ("bad request: password=Tr0ub4dor&3 rejected", "Tr0ub4dor", "password=*** rejected", "password-equals"),
    ("retry with db_password: hunter2 now", "hunter2", "db_password: *** now", "prefixed-key"),
    ('{"api_key": "dd0123456789"}', "dd0123456789", '{"api_key": ***}', "api-key-json"),
    ("x-api-key: k-123456", "k-123456", "x-api-key: ***", "api-key-header"),
    ("Authorization: Bearer-abc123def", "abc123def", "Authorization: ***", "authorization-dash"),
    ("Authorization: Bearer abc123def rest", "abc123def", "Authorization: *** rest", "authorization-bearer"),
    ("sent bearer eyAbc.def-ghi_123 to api", "eyAbc.def-ghi_123", "bearer *** to api", "bearer-token"),
    (
        'sasl.jaas.config=org.Plain required username="u" password="p4ss";',
        "p4ss",
        "password=***;",
        "jaas-inline-password",
    ),
    ("url: password=abc123", "abc123", "url: password=***", "secret-key-inside-a-value"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature_1 end", "eyJzdWIiOiIxIn0", "jwt *** end", "jwt"),
    (
        "post to https://hooks.slack.com/services/T000/B000/XYZsecret failed",
        "XYZsecret",
        "https://hooks.slack.com/services/*** failed",
        "slack-webhook",
    ),
    (
        "hooks.slack.com/workflows/T0/A0/123/abcSecret",
        "abcSecret",
        "hooks.slack.com/workflows/***",
        "slack-workflow",
    ),
    ("bot xoxb-1234567890-abcdefghijkl said", "xoxb-1234567890", "bot *** said", "slack-token"),
    (
        "push with ghp_abcdefghijklmnopqrstuvwxyz0123 failed",
        "ghp_abcdef",
        "push with *** failed",
        "github-token",
    ),
]


@pytest.mark.parametrize(("text", "leak", "kept"), [t[:3] for t in LEAKS], ids=[t[3] for t in LEAKS])
def test_scrub_removes_credentials(text, leak, kept):
    scrubbed = scrub_text(text)
    assert leak not in scrubbed
    assert kept in scrubbed


PII = [
    ("row has email jane.doe@example.com", "jane.doe@example.com", "<email>", "email-ascii"),
    ("mail Zoë.Núñez@example.com now", "Núñez", "<email>", "email-non-ascii-local"),
    ("mail müller@bücher.de now", "müller", "<email>", "email-idn-domain"),
    ("mail почта@пример.рф now", "почта", "<email>", "email-cyrillic"),
    ("mail 用户@例子.广告 now", "用户", "<email>", "email-cjk"),
    ("mail o'brien@example.ie now", "brien", "<email>", "email-apostrophe"),
    ("mail u@xn--bcher-kva.xn--p1ai now", "xn--bcher", "<email>", "email-punycode"),
    ("mail first+tag@sub.example.co.uk now", "first+tag", "<email>", "email-subdomain-plus"),
    ("ssn 123-45-6789 invalid", "123-45-6789", "<ssn>", "ssn"),
    ("phone 555-123-4567 invalid", "555-123-4567", "<phone>", "phone-us-dashes"),
    ("phone (555) 123-4567 invalid", "123-4567", "<phone>", "phone-us-parens"),
    ("phone +1 555.123.4567 invalid", "123.4567", "<phone>", "phone-us-plus-one"),
    ("call +44 20 7946 0958 now", "7946 0958", "<phone>", "phone-uk-international"),
    ("call +44 (0)20 7946 0958 now", "7946 0958", "<phone>", "phone-uk-trunk-zero"),
    ("call +49 30 1234567 now", "1234567", "<phone>", "phone-de-international"),
    ("call +33 6 12 34 56 78 now", "12 34 56 78", "<phone>", "phone-fr-international"),
    ("call +81-3-1234-5678 now", "1234-5678", "<phone>", "phone-jp-dashes"),
    ("call +7 (495) 123-45-67 now", "123-45-67", "<phone>", "phone-ru"),
    ("call +4915112345678 now", "4915112345678", "<phone>", "phone-e164-no-separators"),
    ("call 06 12 34 56 78 now", "12 34 56 78", "<phone>", "phone-fr-national"),
    ("call 020 7946 0958 now", "7946 0958", "<phone>", "phone-uk-national"),
    ("call 030 1234567 now", "1234567", "<phone>", "phone-de-national"),
    ("card 4111 1111 1111 1111 declined", "4111 1111 1111 1111", "<number>", "card-grouped"),
    ("card 4111111111111111 declined", "4111111111111111", "<number>", "card-plain"),
    ("card 3782-822463-10005 declined", "822463", "<number>", "card-amex-dashes"),
]


@pytest.mark.parametrize(("text", "leak", "token"), [t[:3] for t in PII], ids=[t[3] for t in PII])
def test_scrub_removes_personal_data(text, leak, token):
    scrubbed = scrub_text(text)
    assert leak not in scrubbed
    assert token in scrubbed


OPERATIONAL = [
    ("Merged 1200 rows into LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR (query 01b2-0000)", "merge-report"),
    ("could not reach mysql://***@10.0.0.5:3306 while loading", "host-port"),
    ("at 2025-10-31T02:00:00+00:00 took 12.5 s on try 3", "timestamp"),
    ("version +2.0.1 retry +1 partition dt=2025-10-31", "versions-and-partitions"),
    ("offset 123456 of partition 7, 42 of 100 files", "counts"),
    ("merge key customer_id missing", "merge-key-words"),
    ("http://localhost:8080/dags/daily/runs/r1?try_number=2", "log-url"),
    ("invalid identifier 'CUSTOMER_ID'", "identifier"),
]


@pytest.mark.parametrize("text", [t for t, _ in OPERATIONAL], ids=[i for _, i in OPERATIONAL])
def test_scrub_keeps_operational_text(text):
    assert scrub_text(text) == text


def test_scrub_is_idempotent():
    text = "postgresql://u:p@h/db password=x jane@example.com +44 20 7946 0958 123-45-6789"
    once = scrub_text(text)
    assert scrub_text(once) == once


HOSTILE = [
    "a." * 10_000,
    "a'" * 10_000,
    "http://" * 3000,
    "x@y." * 5000,
    "+1 2 3 4 5 6 7 " * 1000,
    "1-" * 10_000,
    "password=" * 3000,
    "eyJaaaaa." * 3000,
    "'" * 5000,
]


@pytest.mark.parametrize(
    "text",
    HOSTILE,
    ids=[
        "dots",
        "apostrophes",
        "schemes",
        "at-signs",
        "phone-groups",
        "digit-dashes",
        "keys",
        "jwt-like",
        "quotes",
    ],
)
def test_scrub_stays_linear_on_hostile_input(text):
    """Error texts are bounded (20 x the message size) but not trusted: no pattern may go quadratic."""
    start = time.perf_counter()
    scrub_values(text)
    assert time.perf_counter() - start < 1.0  # each takes a few ms; quadratic patterns took seconds


# ------------------------------------------------------------------ literals and values
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Numeric value 'not-a-number' is not recognized", "Numeric value '***' is not recognized"),
        ("value 'two\nlines' bad", "value '***' bad"),
        ('keeps "double" quotes', 'keeps "double" quotes'),
    ],
    ids=["single", "spans-lines", "double-kept-by-default"],
)
def test_scrub_literals(text, expected):
    assert scrub_literals(text) == expected


def test_scrub_values_leaves_no_value():
    text = (
        "could not convert 'jane@example.com' to float near \"Ada Lovelace\" row 12345 "
        "ip 2001:db8:0:0:1:0:0:1 user a@b password=pw-9"
    )
    scrubbed = scrub_values(text)
    for leaked in ("jane@example.com", "Ada Lovelace", "12345", "2001:db8", "a@b", "pw-9"):
        assert leaked not in scrubbed
    assert scrubbed.startswith("could not convert '<redacted>' to float near '<redacted>' row <n>")


# ------------------------------------------------------------------ mappings
def test_mask_mapping():
    def placeholder(value):
        return isinstance(value, str) and value.startswith("${")

    config = {
        "database.password": "pw-1",
        "jdbc.url": "mysql://u:pw-1@h",
        "note": "pw-1",
        "n": 3,
        "sasl.jaas.config": "${file:/a:b}",
        "gone": None,
        "kafka.ssl.key": "-----BEGIN",
    }
    assert mask_mapping(config, ["pw-1"], keep=placeholder) == {
        "database.password": MASK,
        "jdbc.url": "mysql://u:***@h",
        "note": MASK,
        "n": 3,
        "sasl.jaas.config": "${file:/a:b}",
        "gone": None,
        "kafka.ssl.key": MASK,
    }
    assert mask_mapping({"sasl.jaas.config": "${file:/a:b}"}) == {"sasl.jaas.config": MASK}  # no keep: masked
    assert mask_entry("token", 12345) == MASK  # a secret key masks any value type


# ------------------------------------------------------------------ one place
#: Modules allowed to hold PII patterns of their own, and why: both are Java regexes that Spark runs
#: over data columns (``rlike``, ``regexp_replace``), not Python text scrubbing, and Python's ``re``
#: cannot run Spark's regex dialect (possessive ``++``, Luhn via SQL).
ALLOWED = {
    "spark_apps/leak_guard.py",  # scans masked output columns for PII that the policy left behind
    "spark_apps/masking.py",  # the shape checks of the column-masking strategies (e-mail, SSN, IP)
}
SECRET_WORDS = {"password", "passwd", "pwd", "secret", "token", "credential", "jaas", "authorization"}
#: Regex text that decides secrets or PII: an alternation over secret words, e-mail / SSN / phone /
#: card / Slack-webhook patterns.
RULE_TEXT = re.compile(
    r"(?i)(?:password|passwd|pwd|secret|token|credential|jaas)\s*\||\|\s*(?:password|passwd|pwd|secret|token|credential|jaas)"
    r"|\]\+{1,2}@|@\[|\\d\{3\}-\\d\{2\}-\\d\{4\}|hooks\\\.slack|\(\?:\\d\[ -\]\?\)"
)
RULE_NAMES = re.compile(
    r"^_?(SECRET_HINTS|SECRET_KEY|SECRET_WORDS|SCRUBBERS|EMAIL|SSN|PHONE\w*|CARD|QUOTED|DIGITS"
    r"|HEXRUN)$"
)


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and RULE_TEXT.search(node.value):
            found.append(f"line {node.lineno}: regex {node.value[:60]!r}")
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            words = {
                e.value.lower() for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
            }
            if len(words & SECRET_WORDS) >= 2:
                found.append(f"line {node.lineno}: secret word list {sorted(words & SECRET_WORDS)}")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and RULE_NAMES.match(target.id):
                    found.append(f"line {node.lineno}: rule table {target.id}")
    return found


def test_the_rules_of_redaction_match_themselves():
    """The guard below must recognise every kind of rule it forbids (else it guards nothing)."""
    findings = _findings(REDACTION)
    for what in ("regex", "secret word list", "rule table _EMAIL", "rule table _SSN"):
        assert any(what in f for f in findings), what
    for old in (
        're.compile(r"(password|passwd|secret|token)", re.I)',
        '_SECRET_HINTS = ("password", "secret")',
        r'x = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")',
        r'y = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")',
        r'z = re.compile(r"hooks\.slack\.com/services/")',
    ):
        tree_file = REDACTION.parent / "__probe__.py"
        try:
            tree_file.write_text(old + "\n", encoding="utf-8")
            assert _findings(tree_file), old
        finally:
            tree_file.unlink()


def test_secrets_and_pii_are_decided_only_in_utils_redaction():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if path == REDACTION or rel in ALLOWED:
            continue
        found = _findings(path)
        if found:
            offenders[rel] = found
    assert offenders == {}, (
        "secret / PII rules outside airflow_provider_lakeops/utils/redaction.py; "
        "add the rule there and call it: "
        f"{offenders}"
    )


def test_importing_redaction_is_cheap_and_stdlib_only():
    code = (
        "import sys; before = set(sys.modules); import airflow_provider_lakeops.utils.redaction; "
        "print(sorted(m for m in set(sys.modules) - before "
        "if m.split('.')[0] not in sys.stdlib_module_names))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert (
        out.stdout.strip() == "['airflow_provider_lakeops', 'airflow_provider_lakeops.utils', "
        "'airflow_provider_lakeops.utils.redaction']"
    )
