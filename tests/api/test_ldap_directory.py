"""LdapDirectory against a real OpenLDAP slapd (tests/support/slapd.py): no part of ldap3 is mocked.

The directory: hr = {alice, erin}, finance = {bob, frank}, staff = {hr, carol}, Ops-Team = {Sam Ops},
legal = {"Smith, John"}, loop-a = {dave, loop-b}, loop-b = {loop-a}; erin and frank share one mail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from pydantic import SecretStr
from support.slapd import (  # noqa: F401  (slapd_server is a fixture)
    SlapdServer,
    closed_port_url,
    person_dn,
    require_tls,
    slapd_server,
)

from api.ldap_directory import LdapDirectory
from rag.config import Settings
from rag.errors import ConfigError, ServiceUnavailableError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(server: SlapdServer, **options: object) -> LdapDirectory:
    return LdapDirectory(
        server.url,
        server.reader_dn,
        server.reader_password,
        server.base_dn,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def directory(slapd_server: SlapdServer) -> LdapDirectory:  # noqa: F811
    return make(slapd_server)


@contextmanager
def removed(server: SlapdServer, group: str, member: str) -> Iterator[None]:
    """``member`` out of ``group`` on the live server, put back afterwards (the server is shared)."""
    server.remove_member(group, member)
    try:
        yield
    finally:
        server.add_member(group, member)


@pytest.mark.parametrize(
    ("user", "groups"),
    [
        ("alice", {"hr", "staff"}),  # staff only through hr
        ("alice@example.com", {"hr", "staff"}),
        ("  Alice@Example.COM ", {"hr", "staff"}),  # the server matches mail and uid without case
        ("bob", {"finance"}),
        ("carol@example.com", {"staff"}),
        ("dave", {"loop-a", "loop-b"}),  # loop-a and loop-b contain each other: the walk still ends
        ("sam(ops)*", {"ops-team"}),  # metacharacters in a real uid still match it, and only it
        ("sam(ops)@example.com", {"ops-team"}),
        ("jsmith", {"legal"}),  # the member DN holds an escaped comma: cn=Smith\, John
        ("erin", {"hr", "staff"}),
    ],
)
def test_groups_of_a_user_include_nested_groups(
    directory: LdapDirectory, user: str, groups: set[str]
) -> None:
    assert directory.groups_of(user) == frozenset(groups)


def test_an_unknown_user_or_an_empty_name_is_in_no_group(directory: LdapDirectory) -> None:
    assert directory.groups_of("mallory@example.com") == frozenset()
    assert directory.groups_of("") == frozenset()
    assert directory.groups_of("   ") == frozenset()


def test_without_nesting_only_direct_groups_count(slapd_server: SlapdServer) -> None:  # noqa: F811
    flat = make(slapd_server, nested=False)
    assert flat.groups_of("alice") == frozenset({"hr"})
    assert flat.groups_of("dave") == frozenset({"loop-a"})


@pytest.mark.parametrize(
    "user",
    [
        "*",
        "*)(uid=*",
        ")(",
        "alice)(uid=*",
        "*)(|(uid=*",
        "al*",
        "*ice",
        "\\2a",
        "alice\x00",
        "\x00",
        "(uid=*)",
    ],
)
def test_filter_metacharacters_in_a_user_name_match_no_one(
    directory: LdapDirectory, user: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert directory.groups_of(user) == frozenset()
    # No entry at all, not several: "*" unescaped would match everyone and only the guard against
    # ambiguous names would stand between it and someone's groups.
    assert "more than one entry" not in caplog.text


def test_a_name_that_matches_several_entries_is_in_no_group(
    directory: LdapDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    assert directory.groups_of("ops@example.com") == frozenset()  # erin's and frank's shared mail
    assert "RAG_LDAP_USER_FILTER" in caplog.text  # the log says what to fix


def test_a_removal_on_the_server_is_seen_once_the_cache_expires(slapd_server: SlapdServer) -> None:  # noqa: F811
    clock = FakeClock()
    directory = make(slapd_server, cache_ttl_s=300.0, clock=clock)
    assert directory.groups_of("alice") == frozenset({"hr", "staff"})
    with removed(slapd_server, "hr", person_dn("alice")):
        clock.now += 299.0
        assert directory.groups_of("alice") == frozenset({"hr", "staff"})  # cached: no look-up yet
        assert make(slapd_server).groups_of("alice") == frozenset()  # what the server says now
        clock.now += 2.0
        assert directory.groups_of("alice") == frozenset()  # hr gone, and staff with it
        # Another user's entry was never cached with alice's: bob is looked up on his own.
        assert directory.groups_of("bob") == frozenset({"finance"})


def test_a_real_short_ttl_expires_on_the_wall_clock(slapd_server: SlapdServer) -> None:  # noqa: F811
    directory = make(slapd_server, cache_ttl_s=0.5)
    assert directory.groups_of("bob") == frozenset({"finance"})
    with removed(slapd_server, "finance", person_dn("bob")):
        assert directory.groups_of("bob") == frozenset({"finance"})
        time.sleep(0.6)
        assert directory.groups_of("bob") == frozenset()


def test_a_ttl_of_zero_looks_up_every_time(slapd_server: SlapdServer) -> None:  # noqa: F811
    directory = make(slapd_server, cache_ttl_s=0.0)
    assert directory.groups_of("carol") == frozenset({"staff"})
    with removed(slapd_server, "staff", person_dn("carol")):
        assert directory.groups_of("carol") == frozenset()


def test_concurrent_look_ups_from_many_threads_each_get_their_own_groups(
    slapd_server: SlapdServer,  # noqa: F811
) -> None:
    directory = make(slapd_server, cache_ttl_s=0.0)  # every call goes to the server
    expected = {
        "alice": {"hr", "staff"},
        "bob": {"finance"},
        "carol": {"staff"},
        "dave": {"loop-a", "loop-b"},
    }
    users = list(expected) * 10
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(directory.groups_of, users))
    assert results == [frozenset(expected[user]) for user in users]


def test_a_wrong_bind_password_says_what_to_check_and_never_shows_the_password(
    slapd_server: SlapdServer,  # noqa: F811
) -> None:
    secret = "not-the-password-9f3c"
    directory = LdapDirectory(slapd_server.url, slapd_server.reader_dn, secret, slapd_server.base_dn)
    with pytest.raises(ServiceUnavailableError) as caught:
        directory.groups_of("alice")
    message = caught.value.message
    assert "RAG_LDAP_BIND_DN" in message and "RAG_LDAP_BIND_PASSWORD" in message
    assert slapd_server.reader_dn in message
    assert secret not in message and secret not in str(caught.value)
    assert secret not in repr(caught.value.__cause__)


def test_a_failed_look_up_is_not_cached(slapd_server: SlapdServer) -> None:  # noqa: F811
    directory = LdapDirectory(slapd_server.url, slapd_server.reader_dn, "wrong", slapd_server.base_dn)
    for _ in range(2):
        with pytest.raises(ServiceUnavailableError):
            directory.groups_of("alice")


def test_an_unreachable_server_says_to_check_the_url() -> None:
    url = closed_port_url()
    directory = LdapDirectory(url, "cn=rag-reader,dc=example,dc=com", "s3cret-pw", "dc=example,dc=com")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError) as caught:
        directory.groups_of("alice")
    assert time.monotonic() - started < 5  # refused at once, not a wait for the timeout
    assert "RAG_LDAP_URL" in caught.value.message and url in caught.value.message
    assert "s3cret-pw" not in caught.value.message


def test_ldaps_with_a_certificate_from_a_trusted_ca_works(
    slapd_server: SlapdServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, ca_file = require_tls(slapd_server)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    directory = LdapDirectory(url, slapd_server.reader_dn, slapd_server.reader_password, slapd_server.base_dn)
    assert directory.groups_of("alice") == frozenset({"hr", "staff"})


def test_ldaps_refuses_a_certificate_this_machine_does_not_trust(
    slapd_server: SlapdServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ldap3 on its own would skip the check and send the bind password to whoever answers.
    url, _ = require_tls(slapd_server)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    directory = LdapDirectory(url, slapd_server.reader_dn, slapd_server.reader_password, slapd_server.base_dn)
    with pytest.raises(ServiceUnavailableError, match=r"TLS check.*SSL_CERT_FILE") as caught:
        directory.groups_of("alice")
    assert slapd_server.reader_password not in caught.value.message


def test_ldaps_refuses_a_certificate_for_another_host_name(
    slapd_server: SlapdServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, ca_file = require_tls(slapd_server)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # trusted, but issued for 127.0.0.1 only
    directory = LdapDirectory(
        url.replace("127.0.0.1", "localhost"),
        slapd_server.reader_dn,
        slapd_server.reader_password,
        slapd_server.base_dn,
    )
    with pytest.raises(ServiceUnavailableError, match="another host name"):
        directory.groups_of("alice")


def test_a_base_dn_the_server_does_not_hold_says_to_check_it(slapd_server: SlapdServer) -> None:  # noqa: F811
    directory = LdapDirectory(
        slapd_server.url, slapd_server.reader_dn, slapd_server.reader_password, "dc=elsewhere,dc=org"
    )
    with pytest.raises(ServiceUnavailableError, match="RAG_LDAP_BASE_DN"):
        directory.groups_of("alice")


@pytest.mark.parametrize(
    ("build", "names"),
    [
        (lambda: LdapDirectory("ldap://h", "cn=x", None, "dc=x"), "RAG_LDAP_BIND_PASSWORD"),
        (lambda: LdapDirectory("ldap://h", None, "pw", "dc=x"), "RAG_LDAP_BIND_DN"),
        (lambda: LdapDirectory("ldap://h", None, None, " "), "RAG_LDAP_BASE_DN"),
        (lambda: LdapDirectory("ldap://h", None, None, "dc=x", user_filter="(uid=alice)"), "{user}"),
        (lambda: LdapDirectory("ldap://h", None, None, "dc=x", group_filter="(member=x)"), "{dn}"),
        (lambda: LdapDirectory("ldap://h:notaport", None, None, "dc=x"), "RAG_LDAP_URL"),
    ],
)
def test_an_unusable_configuration_is_refused_at_start(build: Callable[[], object], names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace("{", r"\{").replace("}", r"\}")):
        build()


def test_from_settings_reads_the_rag_ldap_settings(slapd_server: SlapdServer) -> None:  # noqa: F811
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        ldap_url=slapd_server.url + "/",  # as often copied; ldap3 alone would reject the slash
        ldap_bind_dn=slapd_server.reader_dn,
        ldap_bind_password=SecretStr(slapd_server.reader_password),
        ldap_base_dn=slapd_server.base_dn,
        ldap_user_filter="(&(objectClass=inetOrgPerson)(mail={user}))",
        ldap_nested_groups=False,
    )
    directory = LdapDirectory.from_settings(settings)
    assert directory.groups_of("alice@example.com") == frozenset({"hr"})
    assert directory.groups_of("alice") == frozenset()  # this user filter matches mail only


def test_from_settings_without_a_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="RAG_LDAP_URL"):
        LdapDirectory.from_settings(Settings(_env_file=None, ldap_url=None))  # type: ignore[call-arg]
