"""Groups from LDAP / Active Directory (RAG_LDAP_URL): the user's entry, the groups that list it as a
member, and (nested groups) the groups that list those groups, cached per user for RAG_LDAP_CACHE_TTL_S.

Every value put into a filter is escaped (RFC 4515), so a user named ``*`` or ``x)(uid=*`` matches no one
rather than everyone. A user string that matches several entries is in no group: which entry is meant
cannot be known, and guessing could hand one person another's access.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import ldap3  # type: ignore[import-untyped]
from ldap3.core.exceptions import (  # type: ignore[import-untyped]
    LDAPBindError,
    LDAPException,
    LDAPPasswordIsMandatoryError,
    LDAPSocketOpenError,
)
from ldap3.utils.conv import escape_filter_chars  # type: ignore[import-untyped]

from rag.access import normalise_group
from rag.config import Settings
from rag.errors import ConfigError, ServiceUnavailableError

log = logging.getLogger(__name__)

_MAX_NESTING = 10  # levels of groups-in-groups followed above the user's own groups
_DNS_PER_SEARCH = 50  # one (|...) filter per level, split so a filter stays a sensible size
_MAX_CACHED_USERS = 10_000  # beyond this, expired entries are dropped (then all, if none had expired)
_RESULT_SUCCESS = 0
_RESULT_SIZE_LIMIT_EXCEEDED = 4
_RESULT_NO_SUCH_OBJECT = 32

_Entry = dict[str, Any]


class LdapDirectory:
    """A :class:`api.directory.GroupDirectory` backed by an LDAP server. Safe to call from many threads."""

    def __init__(
        self,
        url: str,
        bind_dn: str | None,
        bind_password: str | None,
        base_dn: str,
        user_filter: str = "(|(mail={user})(uid={user})(sAMAccountName={user}))",
        group_filter: str = "(|(member={dn})(uniqueMember={dn}))",
        group_name_attribute: str = "cn",
        nested: bool = True,
        cache_ttl_s: float = 300.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if "{user}" not in user_filter:
            raise ConfigError(
                f"RAG_LDAP_USER_FILTER {user_filter!r} must contain {{user}}: it finds one user."
            )
        if "{dn}" not in group_filter:
            raise ConfigError(f"RAG_LDAP_GROUP_FILTER {group_filter!r} must contain {{dn}}: it finds groups.")
        if not base_dn.strip():
            raise ConfigError(
                "RAG_LDAP_BASE_DN is empty: set it to where users and groups are, e.g. dc=example,dc=com."
            )
        if bool(bind_dn) != bool(bind_password):
            raise ConfigError(
                "Set both RAG_LDAP_BIND_DN and RAG_LDAP_BIND_PASSWORD, or neither (anonymous look-ups)."
            )
        # ldap3 reads "host:389/" as port "389/"; a trailing slash is common in copied URLs.
        self.url = url.strip().rstrip("/")
        self._bind_dn = bind_dn or None
        self._bind_password = bind_password or None
        self._base_dn = base_dn
        self._user_filter = user_filter
        self._group_filter = group_filter
        self._name_attribute = group_name_attribute
        self._nested = nested
        self._cache_ttl_s = cache_ttl_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}  # user -> (expires at, groups)
        self._server()  # a malformed URL is a configuration error now, not at the first request
        if self._bind_dn and not self.url.lower().startswith("ldaps://"):
            log.warning(
                "RAG_LDAP_URL %s is not ldaps://: the bind password crosses the network in clear text.",
                self.url,
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> LdapDirectory:
        if not settings.ldap_url:
            raise ConfigError(
                "RAG_LDAP_URL is not set: it names the LDAP server, e.g. ldaps://dc1.example.com."
            )
        password = settings.ldap_bind_password
        return cls(
            url=settings.ldap_url,
            bind_dn=settings.ldap_bind_dn,
            bind_password=password.get_secret_value() if password is not None else None,
            base_dn=settings.ldap_base_dn,
            user_filter=settings.ldap_user_filter,
            group_filter=settings.ldap_group_filter,
            group_name_attribute=settings.ldap_group_name_attribute,
            nested=settings.ldap_nested_groups,
            cache_ttl_s=settings.ldap_cache_ttl_s,
        )

    def groups_of(self, user: str) -> frozenset[str]:
        """The user's group names, lower-cased, nested ones included; empty for an unknown user.

        Raises ServiceUnavailableError when the server cannot be reached or refuses our bind."""
        key = user.strip()
        if not key:
            return frozenset()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        # The look-up runs outside the lock: one slow server answer must not hold up every other user.
        groups = self._look_up(key)
        if self._cache_ttl_s > 0:
            with self._lock:
                if len(self._cache) >= _MAX_CACHED_USERS:
                    self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                    if len(self._cache) >= _MAX_CACHED_USERS:
                        self._cache.clear()
                # Timed from before the look-up, so a removal on the server is seen within the TTL.
                self._cache[key] = (now + self._cache_ttl_s, groups)
        return groups

    def _server(self) -> Any:
        try:
            # ldap3 skips certificate checks on ldaps:// unless told: the bind password would go to
            # whoever answers. The system's CAs (or SSL_CERT_FILE) must vouch for the server.
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED)
            return ldap3.Server(self.url, get_info=ldap3.NONE, tls=tls, connect_timeout=self._timeout_s)
        except LDAPException as exc:
            raise ConfigError(
                f"RAG_LDAP_URL {self.url!r} is not a usable LDAP URL ({exc}): use e.g. ldaps://dc1.example.com."
            ) from exc

    def _look_up(self, user: str) -> frozenset[str]:
        # A connection per look-up: ldap3's default (synchronous) strategy is not thread-safe, and the
        # cache keeps look-ups rare enough that a shared, locked connection would only add queueing.
        conn = self._connect()
        try:
            users = self._search(conn, self._user_filter.replace("{user}", escape_filter_chars(user)), [], 2)
            if len(users) != 1:
                if users:
                    log.warning(
                        "LDAP: %r matches more than one entry under %s; counted in no group. Narrow "
                        "RAG_LDAP_USER_FILTER so it finds one entry per user.",
                        user,
                        self._base_dn,
                    )
                return frozenset()
            return self._groups_containing(conn, str(users[0]["dn"]))
        finally:
            # A connection that broke mid-search fails its unbind too; the first error is the one to report.
            with contextlib.suppress(LDAPException):
                conn.unbind()

    def _groups_containing(self, conn: Any, member_dn: str) -> frozenset[str]:
        names: set[str] = set()
        seen = {member_dn.casefold()}
        frontier = [member_dn]
        for _ in range(1 + (_MAX_NESTING if self._nested else 0)):
            found: list[str] = []
            for start in range(0, len(frontier), _DNS_PER_SEARCH):
                batch = frontier[start : start + _DNS_PER_SEARCH]
                for group in self._search(conn, self._any_member_filter(batch), [self._name_attribute]):
                    names.update(self._names(group))
                    dn = str(group["dn"])
                    if dn.casefold() not in seen:  # a group reached twice (or a cycle) is followed once
                        seen.add(dn.casefold())
                        found.append(dn)
            if not found:
                break
            frontier = found
        return frozenset(names)

    def _any_member_filter(self, dns: list[str]) -> str:
        filters = [self._group_filter.replace("{dn}", escape_filter_chars(dn)) for dn in dns]
        return filters[0] if len(filters) == 1 else "(|" + "".join(filters) + ")"

    def _names(self, group: _Entry) -> Iterable[str]:
        attributes: dict[str, Any] = group.get("attributes") or {}
        wanted = self._name_attribute.casefold()
        for attribute, values in attributes.items():
            if attribute.casefold() != wanted:
                continue
            for value in values if isinstance(values, list) else [values]:
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                if text.strip():
                    yield normalise_group(text)

    def _connect(self) -> Any:
        try:
            return ldap3.Connection(
                self._server(),
                user=self._bind_dn,
                password=self._bind_password,
                auto_bind=ldap3.AUTO_BIND_NO_TLS,
                read_only=True,
                # Whole seconds: ldap3 packs it into SO_RCVTIMEO as an integer.
                receive_timeout=max(1, math.ceil(self._timeout_s)),
                # Active Directory refers searches at its root to other partitions; following them
                # means more servers, more binds and more timeouts for no group we would use.
                auto_referrals=False,
                raise_exceptions=False,
            )
        except (LDAPBindError, LDAPPasswordIsMandatoryError) as exc:
            who = f"as {self._bind_dn}" if self._bind_dn else "anonymously"
            raise ServiceUnavailableError(
                f"The LDAP server at {self.url} refused the bind {who}: check RAG_LDAP_BIND_DN and "
                "RAG_LDAP_BIND_PASSWORD."
            ) from exc
        except LDAPSocketOpenError as exc:
            problem = _tls_problem(exc)
            if problem is not None:
                raise ServiceUnavailableError(
                    f"The LDAP server at {self.url} failed the TLS check ({problem}): its certificate must "
                    "name the host in RAG_LDAP_URL and come from a CA this machine trusts (the system's "
                    "store, or SSL_CERT_FILE)."
                ) from exc
            raise ServiceUnavailableError(
                f"The LDAP server at {self.url} is not reachable ({_reason(exc)}): check RAG_LDAP_URL and "
                "that the server is up."
            ) from exc
        except LDAPException as exc:
            raise ServiceUnavailableError(
                f"The LDAP server at {self.url} did not complete the bind ({_reason(exc)}): check "
                "RAG_LDAP_URL."
            ) from exc

    def _search(
        self, conn: Any, search_filter: str, attributes: list[str], size_limit: int = 0
    ) -> list[_Entry]:
        try:
            conn.search(
                self._base_dn,
                search_filter,
                search_scope=ldap3.SUBTREE,
                attributes=attributes or [ldap3.NO_ATTRIBUTES],
                size_limit=size_limit,
                time_limit=max(1, math.ceil(self._timeout_s)),
            )
        except LDAPException as exc:
            raise ServiceUnavailableError(
                f"The LDAP search under {self._base_dn} on {self.url} failed ({_reason(exc)}): check "
                "RAG_LDAP_URL, RAG_LDAP_USER_FILTER and RAG_LDAP_GROUP_FILTER."
            ) from exc
        code = conn.result.get("result")
        if code == _RESULT_NO_SUCH_OBJECT:
            raise ServiceUnavailableError(
                f"The LDAP server at {self.url} has no entry {self._base_dn}: check RAG_LDAP_BASE_DN."
            )
        # Hitting our own size limit (the user search asks for at most 2) still returns the entries.
        if code not in (_RESULT_SUCCESS, _RESULT_SIZE_LIMIT_EXCEEDED):
            detail = f"{conn.result.get('description')} {conn.result.get('message') or ''}".strip()
            raise ServiceUnavailableError(
                f"The LDAP search under {self._base_dn} on {self.url} failed ({detail}): check "
                "RAG_LDAP_BASE_DN and that RAG_LDAP_BIND_DN may read users and groups."
            )
        entries = [entry for entry in conn.response or [] if entry.get("type") == "searchResEntry"]
        if code == _RESULT_SIZE_LIMIT_EXCEEDED and not size_limit:
            # Fewer groups means less access, never more; but the user will ask why, so say it.
            log.warning(
                "LDAP: the server's size limit cut a group search under %s short at %d entries; some "
                "groups may be missing. Raise the limit for RAG_LDAP_BIND_DN.",
                self._base_dn,
                len(entries),
            )
        return entries


def _reason(exc: LDAPException) -> str:
    # ldap3 nests the socket error in the reprs of tuples: "(("('socket connection error ...',)",)".
    return str(exc).strip("()'\", \n") or type(exc).__name__


def _tls_problem(exc: LDAPException) -> str | None:
    text = str(exc)
    if "doesn't match any name" in text:  # ldap3's own host name check; its text dumps the certificate
        return "the certificate is for another host name"
    verify = re.search(r"\[SSL: \w+\] ([^(\"']+)", text)
    return verify.group(1).strip() if verify else None
