"""A keys file (RAG_API_KEYS_FILE, TOML) for tests: each key stored as its SHA-256, as an admin would."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def write_keys_file(path: Path, keys: dict[str, tuple[str, str, list[str]]]) -> Path:
    """``keys``: principal name -> (the plain key, role, groups)."""
    path.write_text(
        "".join(
            f'[[keys]]\nname = "{name}"\nsha256 = "{hashlib.sha256(key.encode()).hexdigest()}"\n'
            f'role = "{role}"\ngroups = {json.dumps(groups)}\n\n'
            for name, (key, role, groups) in keys.items()
        ),
        encoding="utf-8",
    )
    return path
