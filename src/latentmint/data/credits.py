"""Photo credits from a CSV: who took each photo, under which licence, from where."""

from __future__ import annotations

import csv
from pathlib import Path

from latentmint.errors import LatentmintError

_FILE_COLUMNS = ("file", "filename", "path", "image")
_ALIASES = {"artist": "author", "creator": "author", "photographer": "author", "credit": "author", "licence": "license", "url": "source_url", "source": "source_url", "wallet": "eth_address", "address": "eth_address", "ethereum": "eth_address"}


class Credits:
    """Look up a photo's credit by its path relative to the photos folder, or by its file name."""

    def __init__(self, rows: dict[str, dict[str, str]]) -> None:
        self._rows = rows

    @classmethod
    def from_csv(cls, path: Path) -> Credits:
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                header = [h.strip().lower() for h in reader.fieldnames or []]
                file_col = next((h for h in header if h in _FILE_COLUMNS), None)
                if file_col is None:
                    raise LatentmintError(f"{path}: no file column (expected one of {', '.join(_FILE_COLUMNS)})")
                rows = {}
                for raw in reader:
                    row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
                    key = row.pop(file_col, "")
                    if key:
                        rows[key.replace("\\", "/")] = {_ALIASES.get(k, k): v for k, v in row.items() if v}
        except OSError as exc:
            raise LatentmintError(f"{path}: cannot read credits ({exc.strerror or exc})") from exc
        except (UnicodeDecodeError, csv.Error) as exc:
            raise LatentmintError(f"{path}: not a UTF-8 CSV file ({exc})") from exc
        return cls(rows)

    def lookup(self, relative: str) -> dict[str, str]:
        relative = relative.replace("\\", "/")
        return dict(self._rows.get(relative) or self._rows.get(relative.rsplit("/", 1)[-1]) or {})
