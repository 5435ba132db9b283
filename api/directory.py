"""Which groups a user is in: a TOML file (RAG_GROUPS_FILE) or LDAP / Active Directory (RAG_LDAP_URL).

    [groups]
    hr = ["alice@example.com", "dan@example.com"]
    finance = ["bob@example.com"]
    managers = ["@hr", "@finance"]      # `@group`: every member of that group (nested groups)

Users are matched without case. The file is read again when it changes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Protocol

from rag.access import normalise_group, normalise_user
from rag.config import Settings
from rag.errors import ConfigError
from rag.reloading import ReloadingFile

_MAX_NESTING = 10


class GroupDirectory(Protocol):
    def groups_of(self, user: str) -> frozenset[str]:
        """The user's groups, lower-cased, nested ones included; empty for an unknown user."""
        ...


class NoDirectory:
    """No directory configured: users are in no group (they read what `everyone` may read)."""

    def groups_of(self, user: str) -> frozenset[str]:
        return frozenset()


def parse_groups(text: str, where: str) -> dict[str, frozenset[str]]:
    """user -> groups, with nested groups resolved."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"RAG_GROUPS_FILE {where} is not valid TOML: {exc}.") from exc
    table = data.get("groups", {})
    if not isinstance(table, dict) or set(data) - {"groups"}:
        raise ConfigError(f"RAG_GROUPS_FILE {where}: expected one [groups] table, group = [members].")
    members: dict[str, list[str]] = {}
    for group, listed in table.items():
        if not isinstance(listed, list) or not all(isinstance(m, str) for m in listed):
            raise ConfigError(f"RAG_GROUPS_FILE {where}: group {group!r} must list its members as strings.")
        members[normalise_group(group)] = listed
    direct: dict[str, set[str]] = {}  # user or "@group" -> groups that list it
    for group, listed in members.items():
        for member in listed:
            key = "@" + normalise_group(member[1:]) if member.startswith("@") else normalise_user(member)
            direct.setdefault(key, set()).add(group)
    return {
        user: frozenset(_closure(groups, direct))
        for user, groups in direct.items()
        if not user.startswith("@")
    }


def _closure(groups: set[str], direct: dict[str, set[str]]) -> set[str]:
    """``groups`` and every group that contains one of them, however deep (cycles are harmless)."""
    found = set(groups)
    frontier = set(groups)
    for _ in range(_MAX_NESTING):
        frontier = {outer for g in frontier for outer in direct.get("@" + g, set())} - found
        if not frontier:
            break
        found |= frontier
    return found


class FileDirectory:
    def __init__(self, path: Path) -> None:
        self._users = ReloadingFile(path, "RAG_GROUPS_FILE", lambda text: parse_groups(text, str(path)))

    def groups_of(self, user: str) -> frozenset[str]:
        return self._users.content.get(normalise_user(user), frozenset())


def make_directory(settings: Settings) -> GroupDirectory:
    if settings.ldap_url:
        from api.ldap_directory import LdapDirectory

        return LdapDirectory.from_settings(settings)
    if settings.groups_file is not None:
        return FileDirectory(settings.groups_file)
    return NoDirectory()
