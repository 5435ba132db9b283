"""Folder rules that say who may read a document: RAG_ACCESS_FILE (TOML) and RAG_DEFAULT_ACCESS.

    root = "/srv/company-docs"          # optional: what relative prefixes and globs start from
    default = ["everyone"]              # documents no rule matches (else RAG_DEFAULT_ACCESS)

    [[rules]]
    prefix = "hr/"                      # a folder (whole path components), relative to root, or absolute
    groups = ["hr"]

    [[rules]]
    glob = "**/*salar*.xlsx"            # `*` and `?` within a folder name, `**` across folders
    groups = ["finance"]
    users = ["ceo@example.com"]

The most specific matching rule wins: the one whose pattern has the most characters that are not
wildcards; of two equally specific rules, the later one in the file. ``root`` defaults to RAG_WATCH_DIR,
else the rules file's own folder. The file is read again when it changes; a broken edit keeps the
previous rules (and says so in the log) rather than opening or closing every document at once.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rag.access import DocumentAccess
from rag.config import Settings
from rag.errors import ConfigError
from rag.reloading import ReloadingFile


@dataclass(frozen=True, slots=True)
class AccessDecision:
    access: DocumentAccess
    rule: str  # which rule decided, for `rag access check`


@dataclass(frozen=True, slots=True)
class Rule:
    number: int  # 1-based, in file order
    pattern: str
    kind: str  # "prefix" or "glob"
    access: DocumentAccess
    absolute: bool
    regex: re.Pattern[str]

    @property
    def specificity(self) -> tuple[int, int]:
        literal = len(re.sub(r"[*?]", "", self.pattern.rstrip("/")))
        return literal, self.number

    def describe(self) -> str:
        return f"rule {self.number} ({self.kind} {self.pattern!r})"


@dataclass(frozen=True, slots=True)
class AccessRules:
    rules: tuple[Rule, ...]
    default: DocumentAccess
    default_from: str
    root: Path | None
    version: str  # changes whenever what the rules decide may change

    def decide(self, source: str) -> AccessDecision:
        path = PurePosixPath(source)
        relative = _relative(path, self.root)
        matching = [
            rule
            for rule in self.rules
            if rule.regex.fullmatch(str(path) if rule.absolute else (relative or "\0"))
        ]
        if not matching:
            return AccessDecision(self.default, self.default_from)
        best = max(matching, key=lambda rule: rule.specificity)
        return AccessDecision(best.access, best.describe())


def _relative(path: PurePosixPath, root: Path | None) -> str | None:
    if root is None:
        return None
    try:
        return str(path.relative_to(PurePosixPath(root)))
    except ValueError:
        return None


def _glob_regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def _prefix_regex(prefix: str) -> str:
    # A folder and everything in it, by whole path components: `hr` is not a prefix of `hrm/x`.
    return re.escape(prefix.rstrip("/")) + "(?:/.*)?"


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{where} must be a list of names, e.g. ["hr"].')
    return list(value)


def parse_rules(text: str, source: str, default_access: str, fallback_root: Path | None) -> AccessRules:
    """Rules from the TOML text of an access file; ConfigError says what is wrong and where."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"RAG_ACCESS_FILE {source} is not valid TOML: {exc}.") from exc
    unknown = set(data) - {"root", "default", "rules"}
    if unknown:
        raise ConfigError(
            f"RAG_ACCESS_FILE {source}: unknown setting(s) {', '.join(sorted(unknown))}; "
            "expected `root`, `default` and [[rules]]."
        )
    root = Path(str(data["root"])) if "root" in data else fallback_root
    if "default" in data:
        default = DocumentAccess.of(_strings(data["default"], f"RAG_ACCESS_FILE {source}: `default`"))
        default_from = f"default in {source}"
    else:
        default = default_access_of(default_access)
        default_from = "RAG_DEFAULT_ACCESS"
    rules = []
    entries = data.get("rules", [])
    if not isinstance(entries, list):
        raise ConfigError(f"RAG_ACCESS_FILE {source}: write each rule as a [[rules]] table.")
    for number, entry in enumerate(entries, start=1):
        where = f"RAG_ACCESS_FILE {source}, rule {number}"
        if not isinstance(entry, dict) or ("prefix" in entry) == ("glob" in entry):
            raise ConfigError(f"{where}: give either `prefix` or `glob`, and `groups`.")
        extra = set(entry) - {"prefix", "glob", "groups", "users"}
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}.")
        kind = "prefix" if "prefix" in entry else "glob"
        pattern = str(entry[kind]).strip()
        if not pattern:
            raise ConfigError(f"{where}: the {kind} is empty.")
        groups = _strings(entry.get("groups", []), f"{where}: `groups`")
        users = _strings(entry.get("users", []), f"{where}: `users`")
        absolute = pattern.startswith("/")
        if not absolute and root is None:
            raise ConfigError(
                f"{where}: {pattern!r} is relative, but there is no `root` to start from: set `root` in "
                "the file, or RAG_WATCH_DIR."
            )
        regex = _prefix_regex(pattern) if kind == "prefix" else _glob_regex(pattern)
        access = DocumentAccess.of(groups, users)
        rules.append(Rule(number, pattern, kind, access, absolute, re.compile(regex, re.DOTALL)))
    version = hashlib.sha256(f"{text}\0{default_access}\0{root}".encode()).hexdigest()[:16]
    return AccessRules(tuple(rules), default, default_from, root, version)


def default_access_of(value: str) -> DocumentAccess:
    return DocumentAccess.of([g for g in value.split(",") if g.strip()])


class AccessPolicy:
    """The rules in force, re-read when RAG_ACCESS_FILE changes."""

    def __init__(self, settings: Settings) -> None:
        default = settings.default_access
        self._rules: AccessRules | ReloadingFile[AccessRules]
        if settings.access_file is None:
            version = hashlib.sha256(f"\0{default}".encode()).hexdigest()[:16]
            self._rules = AccessRules((), default_access_of(default), "RAG_DEFAULT_ACCESS", None, version)
            return
        path = settings.access_file
        root = settings.watch_dir.expanduser().resolve() if settings.watch_dir else None
        fallback_root = root or path.expanduser().resolve().parent
        self._rules = ReloadingFile(
            path, "RAG_ACCESS_FILE", lambda text: parse_rules(text, str(path), default, fallback_root)
        )

    @property
    def rules(self) -> AccessRules:
        """The current rules; a file that changed is read again, a broken one leaves the old in force."""
        return self._rules if isinstance(self._rules, AccessRules) else self._rules.content

    def decide(self, source: str, override: list[str] | None = None) -> AccessDecision:
        if override is not None:
            return AccessDecision(DocumentAccess.from_labels(override), "set on upload")
        return self.rules.decide(source)
