"""Walking a folder: only regular files inside it are read; links out of it, broken links, loops and
special files are not, and say why (issue 13: a link in a watched folder made a secret searchable)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ingest.discover import Found, walk


@pytest.fixture(name="tree")
def tree_fixture(tmp_path: Path) -> Path:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "salaries.txt").write_text("The CEO earns 1.2 million.")
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("# A\n\nText.")
    (root / "sub" / "b.txt").write_text("Text.")
    (root / "notes.bin").write_bytes(b"\x00\x01")
    (root / "~$lock.docx").write_text("editor lock file")
    (root / "inside-link.txt").symlink_to(root / "sub" / "b.txt")
    (root / "secret-link.txt").symlink_to(secret / "salaries.txt")
    (root / "secret-folder").symlink_to(secret, target_is_directory=True)
    (root / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    (root / "loop1.txt").symlink_to(root / "loop2.txt")
    (root / "loop2.txt").symlink_to(root / "loop1.txt")
    os.mkfifo(root / "pipe.txt")
    return root


def by_name(found: list[Found]) -> dict[str, Found]:
    return {f.path.name: f for f in found}


def test_only_regular_files_inside_the_folder_are_read(tree: Path) -> None:
    found = by_name(list(walk(tree)))
    readable = sorted(name for name, f in found.items() if f.problem is None)
    assert readable == ["a.md", "b.txt", "inside-link.txt", "notes.bin", "pipe.txt"]
    assert found["notes.bin"].supported is False and found["a.md"].supported is True
    assert found["pipe.txt"] == Found(tree / "pipe.txt", False)  # skipped: a FIFO is never opened
    assert "~$lock.docx" not in found


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("secret-link.txt", "A link to outside the folder: not followed."),
        ("secret-folder", "A link to outside the folder (or a broken link): not followed."),
        ("broken.txt", "A broken link or a link loop: not followed."),
        ("loop1.txt", "A broken link or a link loop: not followed."),
        ("loop2.txt", "A broken link or a link loop: not followed."),
    ],
)
def test_links_out_broken_and_looping_are_reported_not_followed(tree: Path, name: str, reason: str) -> None:
    found = by_name(list(walk(tree)))
    assert found[name].problem == reason


def test_nothing_of_the_secret_is_ever_yielded_as_readable(tree: Path) -> None:
    secret = (tree.parent / "secret").resolve()
    for found in walk(tree):
        if found.problem is None:
            assert not found.path.resolve().is_relative_to(secret)


NOBODY = 65534
ROOT = Path(__file__).resolve().parents[2]
# Root reads files whatever their mode, so as root (CI) the walk runs in a child as user `nobody`.
WALK_AS_NOBODY = """
import json, sys
from pathlib import Path
from ingest.discover import walk
print(json.dumps({f.path.name: f.problem for f in walk(Path(sys.argv[1]))}))
"""


def walk_problems(root: Path) -> dict[str, str | None]:
    if os.geteuid() != 0:
        return {f.path.name: f.problem for f in walk(root)}
    done = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         sys.executable, "-c", WALK_AS_NOBODY, str(root)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot run the walk as user nobody: {done.stderr.strip()[-300:]}")
    problems: dict[str, str | None] = json.loads(done.stdout)
    return problems


def test_unreadable_files_and_folders_are_reported() -> None:
    # A folder `nobody` may enter (pytest's tmp_path is private to root).
    base = Path(tempfile.mkdtemp(prefix="rag-unreadable-"))
    try:
        base.chmod(0o755)
        (base / "sub").mkdir()
        (base / "a.md").write_text("# A\n\nText.")
        (base / "b.md").write_text("# B\n\nText.")
        (base / "sub" / "c.txt").write_text("Text.")
        (base / "a.md").chmod(0)
        (base / "sub").chmod(0)
        found = walk_problems(base)
        assert found == {
            "a.md": "Permission denied: the service's user cannot read this file.",
            "b.md": None,
            "sub": "Permission denied: this folder cannot be read.",
        }
    finally:
        (base / "sub").chmod(0o755)
        shutil.rmtree(base)


def test_a_name_that_is_not_utf8_is_reported_with_what_to_do(tmp_path: Path) -> None:
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"Menu: soup.")
    [found] = walk(tmp_path)
    assert found.problem == "The file name is not valid UTF-8: rename the file to ingest it."
