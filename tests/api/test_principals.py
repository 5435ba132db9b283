"""API keys with principals (api/principals.py), the group file (api/directory.py) and who a request
speaks for (api/identity.py)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr

from api.directory import FileDirectory, parse_groups
from api.identity import IdentityResolver
from api.principals import KeyRing, parse_keys_file
from rag.config import Settings
from rag.errors import AuthenticationError, ConfigError, PermissionDeniedError

SECRET = "a-shared-secret-of-at-least-32-bytes!"
X = hashlib.sha256(b"x").hexdigest()


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _settings(tmp_path: Path, **kwargs: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **kwargs)  # type: ignore[call-arg, arg-type]


def test_a_keys_file_holds_digests_and_principals_and_is_reloaded_when_it_changes(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[[keys]]\nname = "hr-bot"\nsha256 = "{_sha("k1")}"\nrole = "reader"\ngroups = ["HR"]\n')
    ring = KeyRing(_settings(tmp_path, api_keys_file=keys, api_keys=SecretStr("plain-admin")))
    found = ring.authenticate(b"k1")
    assert found is not None and found.name == "hr-bot" and found.role == "reader"
    assert found.groups == frozenset({"hr"})
    admin = ring.authenticate(b"plain-admin")
    assert admin is not None and admin.role == "admin"  # RAG_API_KEYS keep working, as admin keys
    assert ring.authenticate(b"k2") is None and ring.authenticate(b"") is None
    keys.write_text(f'[[keys]]\nname = "hr-bot"\nsha256 = "{_sha("k2")}"\nrole = "reader"\n')
    os.utime(keys, ns=(time.time_ns() + 10**9,) * 2)
    assert ring.authenticate(b"k1") is None and ring.authenticate(b"k2") is not None
    keys.write_text("[[keys]\nbroken")  # a bad edit keeps the keys in force
    os.utime(keys, ns=(time.time_ns() + 2 * 10**9,) * 2)
    assert ring.authenticate(b"k2") is not None


def test_the_old_one_key_per_line_file_still_works_as_admin_keys(tmp_path: Path) -> None:
    entries = parse_keys_file("# comment\nkey-one\n\nkey-two\n", "keys.txt")
    assert [e.principal.role for e in entries] == ["admin", "admin"]
    assert entries[0].digest == hashlib.sha256(b"key-one").digest()


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ('name = "a"\nsha256 = "abc"\n', "64 characters"),
        (f'name = "a"\nsha256 = "{X}"\nrole = "root"\n', "`role` must be one of"),
        (f'sha256 = "{X}"\n', "give it a `name`"),
        (f'name = "a"\nsha256 = "{X}"\nkey = "x"\n', "unknown field(s) key"),
        (f'name = "a"\nsha256 = "{X}"\ntrust_user_headers = true\n', "for `service` keys only"),
    ],
)
def test_a_bad_key_entry_is_refused_with_the_reason(entry: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_keys_file("[[keys]]\n" + entry, "keys.toml")
    assert says in err.value.message


def test_groups_nest_through_at_references_and_cycles_end() -> None:
    users = parse_groups(
        '[groups]\nhr = ["Alice@Example.com"]\nmanagers = ["@hr", "bob@example.com"]\n'
        'all = ["@managers", "@all"]\n',
        "groups.toml",
    )
    assert users["alice@example.com"] == frozenset({"hr", "managers", "all"})
    assert users["bob@example.com"] == frozenset({"managers", "all"})


def _resolver(tmp_path: Path) -> IdentityResolver:
    groups = tmp_path / "groups.toml"
    groups.write_text('[groups]\nhr = ["alice@example.com"]\n')
    return IdentityResolver(FileDirectory(groups), SECRET)


def test_a_service_key_acts_for_the_user_of_a_valid_signed_token_only(tmp_path: Path) -> None:
    from api.principals import KeyPrincipal

    resolver = _resolver(tmp_path)
    service = KeyPrincipal("owui", "service")
    now = int(time.time())
    token = jwt.encode({"email": "Alice@example.com", "exp": now + 60}, SECRET, algorithm="HS256")
    alice = resolver.resolve(service, {"x-openwebui-user-jwt": token})
    assert alice.user == "alice@example.com" and alice.groups == frozenset({"hr"}) and alice.key == "owui"
    expired = jwt.encode({"email": "alice@example.com", "exp": now - 3600}, SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationError, match="expired"):
        resolver.resolve(service, {"x-openwebui-user-jwt": expired})
    other = jwt.encode({"email": "alice@example.com", "exp": now + 60}, "x" * 40, algorithm="HS256")
    with pytest.raises(AuthenticationError, match="RAG_OPENWEBUI_JWT_SECRET"):
        resolver.resolve(service, {"x-openwebui-user-jwt": other})
    none_alg = jwt.encode({"email": "alice@example.com", "exp": now + 60}, "", algorithm="none")
    with pytest.raises(AuthenticationError):
        resolver.resolve(service, {"x-openwebui-user-jwt": none_alg})
    with pytest.raises(PermissionDeniedError):
        resolver.resolve(service, {"x-act-as-user": "alice@example.com"})
    assert resolver.resolve(service, {"x-openwebui-user-email": "alice@example.com"}).user is None
    trusting = KeyPrincipal("owui", "service", trust_user_headers=True)
    assert resolver.resolve(trusting, {"x-openwebui-user-email": "alice@example.com"}).groups == {"hr"}


def test_a_token_without_a_configured_secret_is_refused_not_ignored(tmp_path: Path) -> None:
    from api.directory import NoDirectory
    from api.principals import KeyPrincipal

    resolver = IdentityResolver(NoDirectory(), None)
    token = jwt.encode({"email": "a@b.c", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationError, match="RAG_OPENWEBUI_JWT_SECRET is not set"):
        resolver.resolve(KeyPrincipal("owui", "service"), {"x-openwebui-user-jwt": token})


def test_the_token_header_follows_open_webuis_name_for_it(tmp_path: Path) -> None:
    from api.directory import NoDirectory
    from api.principals import KeyPrincipal

    resolver = IdentityResolver(NoDirectory(), SECRET, "X-Company-User-Token")
    token = jwt.encode({"email": "a@b.c", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    service = KeyPrincipal("owui", "service")
    assert resolver.resolve(service, {"x-company-user-token": token}).user == "a@b.c"
    assert resolver.resolve(service, {"x-openwebui-user-jwt": token}).user is None
