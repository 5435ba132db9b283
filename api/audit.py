"""The audit trail: one JSON line per search, answer, upload, delete and document read, saying who got
which documents, chained by SHA-256 so that a removed, edited or reordered line shows.

Each line is one JSON object, keys in this order: ``time`` (UTC, milliseconds, ``Z``), ``seq`` (1, 2, ...
across restarts and rotations), ``request_id``, ``action``, ``key`` (the API key's principal), ``user``,
``role``, ``groups`` (sorted), ``question`` or ``question_sha256`` (absent without a question),
``documents`` (``[{doc_id, sha256}]``), ``chunks``, ``cited_chunks``, ``outcome``, ``missed`` (only when
events before this one could not be written), the caller's extra fields (sorted), and last ``prev``: the
hex SHA-256 of the previous line's exact bytes without its newline, 64 zeros on the first line of a
fresh trail. Document text is never written: events carry ids and hashes only, and a long string in
``extra`` is replaced by its hash (see ``_small``).

Failure policy: recording never raises into the request. A failed write is logged as an error on
``rag.audit`` every time (not once: an audit trail that silently stops is worse than a noisy log), the
request goes on, the partial bytes, if any, are cut off again, and the next line that is written carries
``missed``: how many events were lost before it. Its ``seq`` is not spent, so the chain stays whole.
Problems found at start-up (a target that cannot be opened, a file whose last line is not an audit line)
do raise, from the constructor, so a misconfigured trail stops the server instead of losing events.

Rotation: when a line would take the file past ``max_bytes``, ``audit.log`` becomes ``audit.log.1`` (``.1``
becomes ``.2`` and so on, keeping ``backups`` files) and a new file starts, its first line chaining to the
last line of the old one. A restart reads the last line back and continues the chain.

Limits: the chain shows a line removed or edited *between* two lines, not lines cut from either end of
the kept window. A removed or edited last line, or a removed first line of the oldest kept file (it then
looks as if it had been rotated away; ``verify`` reports where the kept window starts), leave no trace in
the file itself: ship the lines off this machine as they are written (``-`` writes them to stdout for a
log collector) and compare the last ``seq`` with that copy. ``question_sha256`` is a pseudonym, not a
secret: it links repeats of the same question, and anyone can confirm a guessed question by hashing it.
One process writes one file: several server processes must each have their own audit file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import FileIO
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from rag.config import Settings
from rag.labels import printable

logger = logging.getLogger("rag.audit")

ZERO_HASH = "0" * 64
STDOUT = "-"
# Longer strings in `extra` are hashed: extras are meant for small fields (top_k, mode), and a passage or
# a file's content passed there by mistake must not end up in the trail.
EXTRA_STRING_LIMIT = 256
_FIXED_KEYS = frozenset(
    [
        "time",
        "seq",
        "request_id",
        "action",
        "key",
        "user",
        "role",
        "groups",
        "question",
        "question_sha256",
        "documents",
        "chunks",
        "cited_chunks",
        "outcome",
        "missed",
        "prev",
    ]
)


@dataclass(frozen=True)
class AuditDocument:
    doc_id: str
    sha256: str


@dataclass(frozen=True)
class AuditEvent:
    action: str  # "search" | "answer" | "upload" | "delete" | "documents"
    request_id: str
    key: str
    user: str | None
    groups: Sequence[str]
    role: str
    question: str | None = None
    documents: Sequence[AuditDocument] = ()
    chunks: Sequence[str] = ()
    cited_chunks: Sequence[str] = ()
    outcome: str = "ok"  # "ok", "refused", "error:<code>"
    extra: Mapping[str, object] = field(default_factory=dict)


class AuditLog:
    """Writes the trail to a file (rotated) or, for ``-``, to stdout; safe to share between threads."""

    def __init__(
        self,
        target: str | Path,
        questions: Literal["full", "hash"] = "hash",
        max_bytes: int = 100 * 2**20,
        backups: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_bytes < 1 or backups < 1:
            raise ValueError("the audit log needs max_bytes >= 1 and backups >= 1")
        self._path = None if str(target) == STDOUT else Path(target)
        self._questions = questions
        self._max_bytes = max_bytes
        self._backups = backups
        self._clock = clock
        self._lock = threading.Lock()
        self._file: FileIO | None = None
        self._size = 0
        self._seq = 0
        self._prev = ZERO_HASH
        self._missed = 0
        self._closed = False
        # A line cut off by a crash is kept as evidence and ended in the same write as the next line, so
        # the last complete line in the file is always one of ours.
        self._torn = False
        if self._path is not None:
            self._resume(self._path)
            self._open()

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog | None:
        if settings.audit_log is None:
            return None
        return cls(
            settings.audit_log,
            questions=settings.audit_questions,
            max_bytes=settings.audit_max_mb * 2**20,
            backups=settings.audit_backups,
        )

    def record(self, event: AuditEvent) -> None:
        """Append ``event``; never raises (see the module docstring for what happens on failure)."""
        with self._lock:
            try:
                self._record(event)
            except Exception:  # the request must not fail because its audit line could not be made
                self._missed += 1
                logger.exception("audit: could not record %s (request %s)", event.action, _shown(event))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _record(self, event: AuditEvent) -> None:
        if self._closed:
            self._missed += 1
            logger.error("audit: %s (request %s) after the audit log was closed", event.action, _shown(event))
            return
        line = json.dumps(self._fields(event), ensure_ascii=False, separators=(",", ":"), default=str).encode(
            "utf-8"
        )
        try:
            self._write(line + b"\n")
        except (OSError, ValueError) as error:  # ValueError: stdout closed or unable to encode
            self._missed += 1
            logger.error(
                "audit: could not write %s (request %s) to %s: %s; the request goes on, %d event(s) "
                "missing from the trail so far",
                event.action,
                _shown(event),
                self._path or "stdout",
                error,
                self._missed,
            )
            return
        self._seq += 1
        self._prev = hashlib.sha256(line).hexdigest()
        self._missed = 0

    def _fields(self, event: AuditEvent) -> dict[str, object]:
        fields: dict[str, object] = {
            "time": _utc(self._clock()),
            "seq": self._seq + 1,
            "request_id": event.request_id,
            "action": event.action,
            "key": event.key,
            "user": event.user,
            "role": event.role,
            "groups": sorted(_strings(event.groups)),
        }
        if event.question is not None:
            if self._questions == "full":
                fields["question"] = event.question
            else:
                fields["question_sha256"] = hashlib.sha256(event.question.encode("utf-8")).hexdigest()
        fields["documents"] = [{"doc_id": d.doc_id, "sha256": d.sha256} for d in event.documents]
        fields["chunks"] = _strings(event.chunks)
        fields["cited_chunks"] = _strings(event.cited_chunks)
        fields["outcome"] = event.outcome
        if self._missed:
            fields["missed"] = self._missed
        for name in sorted(event.extra):
            # An extra named like a fixed field must not overwrite it (least of all `seq` or `prev`).
            fields[f"extra_{name}" if name in _FIXED_KEYS else name] = _small(event.extra[name])
        fields["prev"] = self._prev
        return fields

    def _write(self, data: bytes) -> None:
        if self._path is None:
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()
            return
        if self._file is None:
            self._open()
        elif self._size > 0 and self._size + len(data) > self._max_bytes:
            self._rotate(self._path)
        assert self._file is not None
        if self._torn:
            data = b"\n" + data
        written = 0
        try:
            # The file is unbuffered: a failed write leaves nothing queued in Python to surface later,
            # out of order. A short write (disk full) is retried until it raises.
            while written < len(data):
                written += self._file.write(data[written:])
        except OSError:
            if written and not self._cut_back():
                self._torn = True
            raise
        self._size += len(data)
        self._torn = False

    def _cut_back(self) -> bool:
        """Drop the bytes of a line that was only partly written, so the file ends as it did before."""
        assert self._file is not None
        try:
            os.ftruncate(self._file.fileno(), self._size)
        except OSError as error:
            logger.error("audit: could not cut a partly written line from %s: %s", self._path, error)
            return False
        return True

    def _open(self) -> None:
        assert self._path is not None
        self._file = FileIO(self._path, "ab")
        self._size = os.fstat(self._file.fileno()).st_size
        self._torn = self._size > 0 and _last_byte(self._path) != b"\n"

    def _rotate(self, path: Path) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        try:
            for number, old in _numbered(path):
                if number >= self._backups:  # also those kept under an earlier, larger `backups`
                    old.unlink()
            for number in range(self._backups - 1, 0, -1):
                if _backup(path, number).exists():
                    os.replace(_backup(path, number), _backup(path, number + 1))
            if path.exists():
                os.replace(path, _backup(path, 1))
        except OSError as error:
            # Writing on past the limit beats losing events; this error repeats with every line.
            logger.error("audit: could not rotate %s: %s; writing on past its size limit", path, error)
        self._open()

    def _resume(self, path: Path) -> None:
        """Continue ``seq`` and ``prev`` from the last line of the trail, if there is one."""
        last = _tail(path)
        if last is None and _backup(path, 1).is_file():
            last = _tail(_backup(path, 1))  # rotated, then stopped before the new file's first whole line
        if last is None:
            return
        fields = _audit_line(last)
        if fields is None:
            raise ValueError(
                f"{path} does not end with an audit line, so the chain cannot go on from it: "
                "move it aside or audit to another file"
            )
        self._seq = fields["seq"]
        self._prev = hashlib.sha256(last).hexdigest()


@dataclass
class AuditVerification:
    ok: bool
    lines: int  # lines that checked out (before the problem, if there is one)
    files: list[Path]  # oldest first
    problem: str | None
    line_number: int | None  # 1-based, within `file`
    file: Path | None
    first_seq: int | None = None
    last_seq: int | None = None
    last_time: str | None = None
    # Non-zero when the oldest kept file starts after lines that were rotated away: their hashes cannot
    # be checked, and a line removed from the start of the window would look the same.
    starts_after_seq: int = 0


def verify(path: Path | str) -> AuditVerification:
    """Check ``path`` with its rotated predecessors, oldest first: every line whole JSON, ``seq`` one more
    than the line before, ``prev`` the SHA-256 of the line before. Stops at the first problem."""
    path = Path(path)
    files = [old for _, old in sorted(_numbered(path), reverse=True)] + ([path] if path.is_file() else [])
    result = AuditVerification(True, 0, files, None, None, None)
    if not files:
        return _broken(result, f"there is no audit file at {path}", None, None)
    before: tuple[bytes, int, Path, int] | None = None  # line, seq, file, line number
    for file in files:
        with file.open("rb") as lines:
            for number, raw in enumerate(lines, start=1):
                where = f"line {number} of {file}"
                if not raw.endswith(b"\n"):
                    return _broken(
                        result,
                        f"{where} is cut off (no newline at its end): a write did not "
                        "finish, or the file was truncated",
                        number,
                        file,
                    )
                line = raw[:-1]
                fields = _audit_line(line)
                if fields is None:
                    return _broken(
                        result,
                        f"{where} is not an audit line (not JSON with `seq` and `prev`): "
                        "it was damaged, or a write was cut off",
                        number,
                        file,
                    )
                seq, prev = fields["seq"], fields["prev"]
                trouble = _link(where, seq, prev, before, file)
                if trouble is not None:
                    return _broken(result, trouble, number, file)
                if before is None:
                    result.first_seq = seq
                    result.starts_after_seq = seq - 1
                result.lines += 1
                result.last_seq = seq
                result.last_time = fields["time"] if isinstance(fields.get("time"), str) else None
                before = (line, seq, file, number)
    return result


def format_verification(v: AuditVerification) -> str:
    """One paragraph for a terminal: ``OK: ...`` or ``BROKEN: ...`` (``MISSING: ...`` with no file)."""
    if not v.files:
        return f"MISSING: {v.problem}."
    checked = f"{_count(v.lines, 'line')} in {_count(len(v.files), 'file')}"
    if not v.ok:
        before = "" if v.lines == 0 else f" The {checked} before it check{'s' if v.lines == 1 else ''} out."
        return f"BROKEN: {v.problem}.{before}"
    if v.lines == 0:
        return f"OK: {v.files[-1]} is empty; there is nothing to check yet."
    text = f"OK: {checked}, chain intact from seq {v.first_seq} to {v.last_seq}."
    if v.starts_after_seq:
        text += (
            f" Lines up to seq {v.starts_after_seq} were rotated away (or removed): the first kept line's "
            "link to them cannot be checked."
        )
    return text + (
        f" The last line is seq {v.last_seq} at {v.last_time}; lines cut from the end leave no trace in the "
        "chain, so compare it with a copy kept off this machine."
    )


def _link(
    where: str, seq: int, prev: str, before: tuple[bytes, int, Path, int] | None, file: Path
) -> str | None:
    """What is wrong with how this line follows the one before it, if anything."""
    if before is None:  # the oldest kept line: a fresh start, or the first line after rotated-away ones
        if (seq == 1) == (prev == ZERO_HASH) and seq >= 1:
            return None
        return (
            f"{where} has seq {seq} and a `prev` of {prev[:12]}...: a trail starts at seq 1 with a `prev` "
            "of zeros, and only then"
        )
    line, last_seq, last_file, last_number = before
    previous = f"line {last_number}" if last_file == file else f"the last line of {last_file}"
    seq_ok, prev_ok = seq == last_seq + 1, prev == hashlib.sha256(line).hexdigest()
    if seq_ok and prev_ok:
        return None
    if seq_ok:
        return f"{where}: its `prev` does not match {previous}: a line was removed or edited between them"
    if prev_ok:
        return f"{where}: its seq is {seq} where {last_seq + 1} should follow {previous}: the line was edited"
    if seq > last_seq:
        return (
            f"{where}: seq jumps from {last_seq} to {seq} and its `prev` does not match {previous}: "
            "lines were removed or reordered"
        )
    return (
        f"{where}: seq goes back from {last_seq} to {seq} and its `prev` does not match {previous}: "
        "lines were reordered or repeated"
    )


def _broken(
    result: AuditVerification, problem: str, number: int | None, file: Path | None
) -> AuditVerification:
    result.ok, result.problem, result.line_number, result.file = False, problem, number, file
    return result


def _audit_line(line: bytes) -> dict[str, Any] | None:
    """The line's fields if it is a JSON object with an integer ``seq`` and a hex SHA-256 ``prev``."""
    try:
        fields: Any = json.loads(line)
    except ValueError:  # also bytes that are not UTF-8
        return None
    if not isinstance(fields, dict):
        return None
    seq, prev = fields.get("seq"), fields.get("prev")
    if not isinstance(seq, int) or isinstance(seq, bool):
        return None
    if not isinstance(prev, str) or re.fullmatch(r"[0-9a-f]{64}", prev) is None:
        return None
    return fields


def _tail(path: Path) -> bytes | None:
    """The last complete line of ``path``, without its newline; None if it has none."""
    if not path.is_file():  # not a device such as /dev/full, whose "content" never ends
        return None
    with path.open("rb") as f:
        pos = f.seek(0, os.SEEK_END)
        data = b""
        while pos > 0:
            step = min(1 << 16, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
            last_newline = data.rfind(b"\n")
            if last_newline < 0:
                continue
            start = data.rfind(b"\n", 0, last_newline)
            if start >= 0 or pos == 0:
                return data[start + 1 : last_newline]
        return None


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def _numbered(path: Path) -> list[tuple[int, Path]]:
    """The rotated files beside ``path``: ``path.1``, ``path.2``, ... with their numbers."""
    prefix = path.name + "."
    if not path.parent.is_dir():
        return []
    return [
        (int(p.name[len(prefix) :]), p)
        for p in path.parent.iterdir()
        if p.name.startswith(prefix) and p.name[len(prefix) :].isdigit() and p.is_file()
    ]


def _backup(path: Path, number: int) -> Path:
    return path.with_name(f"{path.name}.{number}")


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _strings(values: Sequence[str]) -> list[str]:
    # A bare string is a Sequence[str] too: one group called "staff", not five called "s", "t", ...
    return [values] if isinstance(values, str) else list(values)


def _small(value: object) -> object:
    if isinstance(value, str) and len(value) > EXTRA_STRING_LIMIT:
        return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
    if isinstance(value, Mapping):
        return {str(k): _small(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_small(v) for v in value]
    return value


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _shown(event: AuditEvent) -> str:
    return printable(event.request_id, 80)
