"""The studio: one folder holding latentmint.toml and everything each stage writes (see DESIGN.md)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_text

SETTINGS_FILE = "latentmint.toml"
FOLDERS = ("datasets", "runs", "works", "store", "chain", "keys")

DEFAULT_SETTINGS: dict[str, Any] = {
    "studio": {"format": 1},
    "identity": {"name": ""},
    # "embedded" keeps a py-evm chain in chain/; any http(s) URL selects a JSON-RPC network.
    "chain": {"network": "embedded"},
    # "local" keeps blocks in store/; set kubo_url to also push and pin to a Kubo RPC API.
    "storage": {"backend": "local", "kubo_url": ""},
    "ingest": {"resolution": 256},
    # Inception-v3 weights for FID/KID; LATENTMINT_INCEPTION overrides.
    "metrics": {"inception_weights": ""},
    # Whether others may train on or mine certified works (cawg.training-mining): notAllowed, allowed, constrained.
    # trust_anchors: extra root certificates (PEM files) whose signatures `inspect` reports as trusted.
    "provenance": {"training_mining": "notAllowed", "trust_anchors": []},
}


# Settings read elsewhere that have no default, with the types they may take.
OPTIONAL_SETTINGS: dict[tuple[str, str], tuple[type, ...]] = {
    ("studio", "name"): (str,),
    ("studio", "public_url"): (str,),  # where the gallery is published: token metadata links there (external_url)
    ("chain", "royalty"): (str, int, float),
    ("chain", "chain_id"): (int,),
    ("storage", "gateway"): (str,),  # an IPFS HTTP gateway to fetch missing blocks from (each checked against its CID)
}
_TYPE_NAMES = {str: "a string", int: "a number", float: "a number", list: "a list", dict: "a table", bool: "true or false"}


def _check_types(path: Path, settings: dict[str, Any]) -> None:
    """A wrong-typed value is named here, once, instead of failing later wherever it is read."""
    for section, value in settings.items():
        if section in DEFAULT_SETTINGS and not isinstance(value, dict):
            raise LatentmintError(f"{path}: [{section}] must be a table of settings, not {value!r}")
    for section, defaults in DEFAULT_SETTINGS.items():
        given = settings.get(section, {})
        for key, value in given.items():
            allowed = (type(defaults[key]),) if key in defaults else OPTIONAL_SETTINGS.get((section, key))
            if allowed and (not isinstance(value, allowed) or isinstance(value, bool) and bool not in allowed):
                raise LatentmintError(f"{path}: {section}.{key} must be {' or '.join(dict.fromkeys(_TYPE_NAMES[t] for t in allowed))}, not {value!r}")
        if section == "provenance" and not all(isinstance(a, str) for a in given.get("trust_anchors", [])):
            raise LatentmintError(f"{path}: provenance.trust_anchors must be a list of file paths")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@dataclass(frozen=True)
class Studio:
    root: Path
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def works(self) -> Path:
        return self.root / "works"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def chain(self) -> Path:
        return self.root / "chain"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    def setting(self, section: str, key: str, default: Any = None) -> Any:
        return self.settings.get(section, {}).get(key, default)

    def artist_name(self) -> str | None:
        """The artist's name: latentmint.toml's identity.name, else the name on the studio's identity."""
        import json

        if name := self.setting("identity", "name"):
            return name
        try:
            return json.loads((self.keys / "identity.json").read_text())["name"]
        except (OSError, ValueError, KeyError):
            return None


def init_studio(root: Path, name: str | None = None) -> Studio:
    """Create a studio at `root` (or complete an existing one; settings already there are kept)."""
    root = Path(root).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise LatentmintError(f"{root}: exists and is not a folder")
    settings_path = root / SETTINGS_FILE
    if settings_path.exists():
        studio = open_studio(root)
    else:
        settings = _merge(DEFAULT_SETTINGS, {"studio": {"name": name or root.name}})
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(settings_path, tomli_w.dumps(settings))
        studio = Studio(root, settings)
    for folder in FOLDERS:
        (root / folder).mkdir(exist_ok=True)
    (root / "keys").chmod(0o700)  # the keystores are encrypted, but nobody else need see them
    return studio


def set_settings(studio: Studio, changes: dict[str, dict[str, Any]]) -> Studio:
    """Write `changes` (section -> key -> value) into the studio's latentmint.toml; the updated studio."""
    settings = _merge(studio.settings, changes)
    _check_types(studio.root / SETTINGS_FILE, settings)
    atomic_write_text(studio.root / SETTINGS_FILE, tomli_w.dumps(settings))
    return Studio(studio.root, settings)


def find_studio_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` that holds latentmint.toml."""
    start = Path(start).expanduser().resolve()
    for folder in (start, *start.parents):
        if (folder / SETTINGS_FILE).is_file():
            return folder
    return None


def open_studio(path: Path | None = None) -> Studio:
    """Open the studio at `path`, or the one containing the current folder."""
    if path is not None:
        root = Path(path).expanduser().resolve()
        if not (root / SETTINGS_FILE).is_file():
            raise LatentmintError(f"{root}: not a studio (no {SETTINGS_FILE}); create one with `latentmint init {path}`")
    else:
        found = find_studio_root(Path.cwd())
        if found is None:
            raise LatentmintError(
                f"{Path.cwd()}: not inside a studio; run `latentmint init DIR` or pass --studio DIR"
            )
        root = found
    settings_path = root / SETTINGS_FILE
    try:
        settings = tomllib.loads(settings_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LatentmintError(f"{settings_path}: cannot read settings ({exc})") from exc
    _check_types(settings_path, settings)
    return Studio(root, _merge(DEFAULT_SETTINGS, settings))
