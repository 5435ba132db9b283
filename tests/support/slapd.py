"""A real OpenLDAP server for the tests: Debian's `slapd`, started on 127.0.0.1 with a free port, its own
slapd.conf and a throw-away MDB database, loaded with a small company (people, groups, nested groups).

The directory is loaded with `slapadd` before slapd starts (no ldap-utils or network round trips needed),
then changed while it runs through ldap3 as the rootdn. Nothing here touches a system slapd or port 389.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import ldap3  # type: ignore[import-untyped]
import pytest

from support.processes import free_port, stop

BASE_DN = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{BASE_DN}"
ADMIN_PASSWORD = "admin-secret-4711"
# A least-privilege account the directory tests bind as, the way a deployment would.
READER_DN = f"cn=rag-reader,{BASE_DN}"
READER_PASSWORD = "reader-secret-0815"
PEOPLE = f"ou=people,{BASE_DN}"
GROUPS = f"ou=groups,{BASE_DN}"

SCHEMA_DIRS = [Path("/etc/ldap/schema"), Path("/etc/openldap/schema"), Path("/usr/local/etc/openldap/schema")]
MODULE_DIRS = [
    Path("/usr/lib/ldap"),  # Debian, Ubuntu
    Path("/usr/lib64/openldap"),
    Path("/usr/lib/openldap"),
    Path("/usr/libexec/openldap"),
]
INSTALL_HINT = "run scripts/test.sh as root, or apt-get install slapd ldap-utils"


class SlapdUnavailable(Exception):
    """slapd is not installed here; the message says how to install it."""


def person_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS}"


def _person(uid: str, cn: str, mail: str, dn: str | None = None) -> str:
    return f"""dn: {dn or person_dn(uid)}
objectClass: inetOrgPerson
uid: {uid}
cn: {cn}
sn: {cn.split()[-1]}
mail: {mail}
"""


def _group(cn: str, *members: str) -> str:
    return f"dn: {group_dn(cn)}\nobjectClass: groupOfNames\ncn: {cn}\n" + "".join(
        f"member: {member}\n" for member in members
    )


SAM_DN = f"cn=Sam Ops,{PEOPLE}"
SMITH_DN = f"cn=Smith\\, John,{PEOPLE}"

# hr and finance hold two people each, so a test can take one out (groupOfNames must keep a member).
# staff holds a group (hr) and a person, so alice is in staff only through nesting. loop-a and loop-b
# contain each other: the resolver must stop. sam's uid and mail carry filter metacharacters, and
# "Smith, John" puts an escaped comma (a backslash) in a DN: escaping must keep them matching exactly.
# erin and frank share a mailbox address, so that address names no single user.
DIRECTORY_LDIF = "\n".join(
    [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n",
        f"dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: rag-reader\nuserPassword: {READER_PASSWORD}\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        _person("alice", "Alice Able", "alice@example.com"),
        _person("bob", "Bob Baker", "bob@example.com"),
        _person("carol", "Carol Clark", "carol@example.com"),
        _person("dave", "Dave Dunn", "dave@example.com"),
        _person("erin", "Erin Ennis", "ops@example.com"),
        _person("frank", "Frank Fox", "ops@example.com"),
        _person("sam(ops)*", "Sam Ops", "sam(ops)@example.com", dn=SAM_DN),
        _person("jsmith", "Smith, John", "john.smith@example.com", dn=SMITH_DN),
        _group("hr", person_dn("alice"), person_dn("erin")),
        _group("finance", person_dn("bob"), person_dn("frank")),
        _group("staff", group_dn("hr"), person_dn("carol")),
        _group("Ops-Team", SAM_DN),
        _group("legal", SMITH_DN),
        _group("loop-a", person_dn("dave"), group_dn("loop-b")),
        _group("loop-b", group_dn("loop-a")),
    ]
)


def _find(candidates: list[Path], name: str) -> Path | None:
    return next((directory for directory in candidates if (directory / name).exists()), None)


def _certificate(workdir: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key, or None without the openssl tool."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = workdir / "server.pem", workdir / "server.key"
    made = subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return (cert, key) if made.returncode == 0 else None


def _slapd_conf(workdir: Path, db: Path, tls: tuple[Path, Path] | None) -> str:
    schema_dir = _find(SCHEMA_DIRS, "inetorgperson.schema")
    if schema_dir is None:
        raise SlapdUnavailable(
            f"the OpenLDAP schemas (inetorgperson.schema) are not installed: {INSTALL_HINT}"
        )
    module_dir = _find(MODULE_DIRS, "back_mdb.so")
    # Debian builds the backends as modules; a build with MDB compiled in needs no moduleload.
    modules = f"modulepath {module_dir}\nmoduleload back_mdb\n" if module_dir else ""
    schemas = "".join(f"include {schema_dir / name}.schema\n" for name in ("core", "cosine", "inetorgperson"))
    certificate = f"TLSCertificateFile {tls[0]}\nTLSCertificateKeyFile {tls[1]}\n" if tls else ""
    return f"""{schemas}{modules}{certificate}pidfile {workdir / "slapd.pid"}
database mdb
maxsize 16777216
suffix "{BASE_DN}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {db}
index objectClass eq
index member,uniqueMember,mail,uid eq
# Like a real directory: strangers read nothing, so the service account's bind has to work.
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"""


def _slapd_binary() -> str:
    found = shutil.which("slapd") or next(
        (str(p) for p in (Path("/usr/sbin/slapd"), Path("/usr/local/libexec/slapd")) if p.exists()), None
    )
    if found is None:
        raise SlapdUnavailable(f"slapd is not installed: {INSTALL_HINT}")
    return found


@dataclass(frozen=True)
class SlapdServer:
    url: str
    port: int
    # ldaps:// with a self-signed certificate for 127.0.0.1, which is also its CA file (None when the
    # openssl tool is missing).
    ldaps_url: str | None
    ca_file: Path | None
    base_dn: str = BASE_DN
    admin_dn: str = ADMIN_DN
    admin_password: str = ADMIN_PASSWORD
    reader_dn: str = READER_DN
    reader_password: str = READER_PASSWORD

    def _admin(self) -> ldap3.Connection:
        server = ldap3.Server(self.url, get_info=ldap3.NONE, connect_timeout=5)
        return ldap3.Connection(server, self.admin_dn, self.admin_password, auto_bind=True, receive_timeout=5)

    def _modify(self, group_cn: str, change: str, member_dn: str) -> None:
        conn = self._admin()
        try:
            if not conn.modify(group_dn(group_cn), {"member": [(change, [member_dn])]}):
                raise RuntimeError(f"modify {group_cn} ({change} {member_dn}) failed: {conn.result}")
        finally:
            conn.unbind()

    def remove_member(self, group_cn: str, member_dn: str) -> None:
        """Takes ``member_dn`` out of the group (groupOfNames needs at least one member to remain)."""
        self._modify(group_cn, ldap3.MODIFY_DELETE, member_dn)

    def add_member(self, group_cn: str, member_dn: str) -> None:
        self._modify(group_cn, ldap3.MODIFY_ADD, member_dn)


def _accepts_binds(url: str) -> bool:
    try:
        server = ldap3.Server(url, get_info=ldap3.NONE, connect_timeout=1)
        ldap3.Connection(server, ADMIN_DN, ADMIN_PASSWORD, auto_bind=True, receive_timeout=1).unbind()
        return True
    except ldap3.core.exceptions.LDAPException:
        return False


@contextmanager
def running_slapd(ready_timeout_s: float = 20.0) -> Iterator[SlapdServer]:
    """slapd on a free loopback port with the test directory loaded; killed, files removed, on exit."""
    binary = _slapd_binary()
    workdir = Path(tempfile.mkdtemp(prefix="rag-slapd-"))
    try:
        db = workdir / "db"
        db.mkdir()
        conf = workdir / "slapd.conf"
        tls = _certificate(workdir)
        conf.write_text(_slapd_conf(workdir, db, tls), encoding="utf-8")
        ldif = workdir / "directory.ldif"
        ldif.write_text(DIRECTORY_LDIF, encoding="utf-8")
        # slapadd is slapd under another name (Debian ships the symlink); called as slapd, -Ta does the same.
        loaded = subprocess.run(
            [binary, "-Ta", "-f", str(conf), "-l", str(ldif)], capture_output=True, text=True, timeout=30
        )
        if loaded.returncode != 0:
            raise RuntimeError(f"slapadd failed ({loaded.returncode}): {loaded.stderr.strip()}")
        port = free_port()
        url = f"ldap://127.0.0.1:{port}"  # no trailing slash: ldap3 would read it as part of the port
        ldaps_url = f"ldaps://127.0.0.1:{free_port()}" if tls else None
        log = (workdir / "slapd.log").open("w")
        # -d 0 keeps slapd in the foreground (our child, so teardown can kill it) with no debug output.
        # No -u/-g: it runs as whoever runs the tests (root in CI), which owns the database directory.
        process = subprocess.Popen(
            [binary, "-d", "0", "-h", " ".join(filter(None, [url, ldaps_url])), "-f", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + ready_timeout_s
            while not _accepts_binds(url):
                if process.poll() is not None:
                    raise RuntimeError(
                        f"slapd exited with {process.returncode}: {(workdir / 'slapd.log').read_text()}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"slapd did not accept binds within {ready_timeout_s:.0f} s on {url}")
                time.sleep(0.05)
            yield SlapdServer(url=url, port=port, ldaps_url=ldaps_url, ca_file=tls[0] if tls else None)
        finally:
            stop(process, 5)
            log.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def closed_port_url() -> str:
    """An ldap:// URL on a loopback port nothing listens on (connection refused at once)."""
    return f"ldap://127.0.0.1:{free_port()}"


def _missing(reason: str) -> NoReturn:
    if os.environ.get("RAG_REQUIRE_ALL_TESTS") == "1":
        pytest.fail(f"the LDAP tests must run here: {reason}")
    pytest.skip(reason)


def require_tls(server: SlapdServer) -> tuple[str, Path]:
    """The server's ldaps:// URL and CA file, or a skip (a failure under RAG_REQUIRE_ALL_TESTS=1)."""
    if server.ldaps_url is None or server.ca_file is None:
        _missing("the openssl tool is missing, so the test slapd has no certificate: apt-get install openssl")
    return server.ldaps_url, server.ca_file


@pytest.fixture(scope="module")
def slapd_server() -> Iterator[SlapdServer]:
    """A running slapd with the test directory, shared by a test module (groups are changed per test and
    put back by the test that changed them).

    Skips with the reason when slapd is not installed, except where RAG_REQUIRE_ALL_TESTS=1
    (scripts/test.sh sets it, and installs slapd): there a missing slapd is a failure."""
    try:
        with running_slapd() as server:
            yield server
    except SlapdUnavailable as exc:
        _missing(str(exc))
