"""Safe file writes and content hashes: the one home for both, so every stage writes the same way."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

_UMASK = os.umask(0o022)  # there is no getter: set and restore once, at import, before any threads start
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half of one.

    The file gets the mode a plain `open` would give it (0666 less the umask), or keeps the mode of the file
    it replaces: mkstemp's private 0600 would hide works and pages from a web server or a shared folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


_MISSING = object()


def read_json(path: Path, what: str, default: Any = _MISSING) -> Any:
    """A JSON file the studio wrote; `default` when it does not exist. Damage is a one-line error naming the file."""
    from latentmint.errors import LatentmintError

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if default is _MISSING:
            raise LatentmintError(f"{path}: no {what}") from None
        return default
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LatentmintError(f"{path}: damaged {what} ({type(exc).__name__}: {str(exc)[:120]}); restore it from a backup or move it aside") from exc
