"""API keys and the principals they belong to: RAG_API_KEYS (admin keys) and RAG_API_KEYS_FILE.

The file is TOML, one ``[[keys]]`` table per key, holding the key's SHA-256 rather than the key::

    [[keys]]
    name = "open-webui"                 # shown in the audit trail
    sha256 = "9f86d0…"                  # printf %s "$KEY" | sha256sum
    role = "service"                    # reader | admin | service
    groups = []                         # what a reader (or a service speaking for itself) may read
    trust_user_headers = false          # service only: accept plain X-OpenWebUI-User-* headers

The older form, one plain key per line, still works: those are admin keys, hashed as they are read.
The file is read again when it changes; an edit that does not parse keeps the previous keys in force.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rag.access import ROLES, Role, normalise_group
from rag.config import Settings
from rag.errors import ConfigError
from rag.reloading import ReloadingFile


@dataclass(frozen=True, slots=True)
class KeyPrincipal:
    """Who an API key belongs to."""

    name: str
    role: Role
    groups: frozenset[str] = frozenset()
    trust_user_headers: bool = False


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    principal: KeyPrincipal


def key_digest(key: str | bytes) -> bytes:
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).digest()


def parse_keys_file(text: str, where: str) -> list[_Entry]:
    """The keys in a keys file: TOML ``[[keys]]`` tables, or one plain (admin) key per line."""
    if "[[keys]]" not in text and not where.endswith(".toml"):
        lines = [line.strip() for line in text.splitlines()]
        keys = [line for line in lines if line and not line.startswith("#")]
        return [_admin(key, f"{Path(where).name} line {n}") for n, key in enumerate(keys, start=1)]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"RAG_API_KEYS_FILE {where} is not valid TOML: {exc}.") from exc
    entries = data.get("keys", [])
    if not isinstance(entries, list) or set(data) - {"keys"}:
        raise ConfigError(f"RAG_API_KEYS_FILE {where}: write each key as a [[keys]] table, nothing else.")
    parsed = [_entry(entry, f"RAG_API_KEYS_FILE {where}, key {n}") for n, entry in enumerate(entries, 1)]
    names = [e.principal.name for e in parsed]
    if len(set(names)) != len(names):
        raise ConfigError(f"RAG_API_KEYS_FILE {where}: two keys share a name; names must be unique.")
    return parsed


def _entry(entry: object, where: str) -> _Entry:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a [[keys]] table.")
    unknown = set(entry) - {"name", "sha256", "role", "groups", "trust_user_headers"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}.")
    name = str(entry.get("name", "")).strip()
    if not name:
        raise ConfigError(f"{where}: give it a `name` (shown in the audit trail).")
    digest = str(entry.get("sha256", "")).strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ConfigError(
            f"{where} ({name}): `sha256` must be the key's hex SHA-256 digest (64 characters): "
            'printf %s "$KEY" | sha256sum'
        )
    role = entry.get("role", "reader")
    if role not in ROLES:
        raise ConfigError(f"{where} ({name}): `role` must be one of {', '.join(ROLES)}, not {role!r}.")
    groups = entry.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise ConfigError(f"{where} ({name}): `groups` must be a list of group names.")
    trust = entry.get("trust_user_headers", False)
    if not isinstance(trust, bool) or (trust and role != "service"):
        raise ConfigError(f"{where} ({name}): `trust_user_headers = true` is for `service` keys only.")
    principal = KeyPrincipal(name, role, frozenset(normalise_group(g) for g in groups), trust)
    return _Entry(bytes.fromhex(digest), principal)


def _admin(key: str, name: str) -> _Entry:
    return _Entry(key_digest(key), KeyPrincipal(name, "admin"))


class KeyRing:
    """Every accepted key, by digest only; looked up in constant time, reloaded when the file changes."""

    def __init__(self, settings: Settings) -> None:
        plain = settings.api_keys.get_secret_value().split(",") if settings.api_keys else []
        self._env = [_admin(k.strip(), f"RAG_API_KEYS #{n}") for n, k in enumerate(plain, 1) if k.strip()]
        path = settings.api_keys_file
        self._file = (
            None
            if path is None
            else ReloadingFile(path, "RAG_API_KEYS_FILE", lambda text: parse_keys_file(text, str(path)))
        )

    def _entries(self) -> list[_Entry]:
        return self._env if self._file is None else self._env + self._file.content

    @property
    def empty(self) -> bool:
        return not self._entries()

    def authenticate(self, key: bytes) -> KeyPrincipal | None:
        """The principal of ``key``, or None. Every digest is compared (no early exit), so the time
        taken says nothing about which key came close."""
        digest = key_digest(key)
        found: KeyPrincipal | None = None
        for entry in self._entries():
            if hmac.compare_digest(digest, entry.digest):
                found = entry.principal
        return found
