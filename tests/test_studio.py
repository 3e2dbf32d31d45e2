from pathlib import Path

import pytest

from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_text
from latentmint.studio import FOLDERS, find_studio_root, init_studio, open_studio


def test_init_creates_settings_and_folders(tmp_path: Path) -> None:
    studio = init_studio(tmp_path / "s", name="Ada's studio")
    assert (studio.root / "latentmint.toml").is_file()
    assert all((studio.root / f).is_dir() for f in FOLDERS)
    assert open_studio(studio.root).setting("studio", "name") == "Ada's studio"
    assert studio.setting("chain", "network") == "embedded"


def test_init_keeps_existing_settings(tmp_path: Path) -> None:
    root = tmp_path / "s"
    init_studio(root, name="first")
    text = (root / "latentmint.toml").read_text().replace('network = "embedded"', 'network = "http://127.0.0.1:8545"')
    (root / "latentmint.toml").write_text(text)
    again = init_studio(root, name="second")
    assert again.setting("studio", "name") == "first"
    assert again.setting("chain", "network") == "http://127.0.0.1:8545"


def test_studio_is_found_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    studio = init_studio(tmp_path / "s")
    monkeypatch.chdir(studio.datasets)
    assert find_studio_root(Path.cwd()) == studio.root
    assert open_studio().root == studio.root


def test_open_outside_a_studio_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(LatentmintError, match="latentmint init"):
        open_studio(tmp_path)


def test_broken_settings_name_the_file(tmp_path: Path) -> None:
    studio = init_studio(tmp_path / "s")
    (studio.root / "latentmint.toml").write_text("[chain\n")
    with pytest.raises(LatentmintError, match="latentmint.toml"):
        open_studio(studio.root)


def test_atomic_writes_get_the_mode_open_would_give_and_keep_a_replaced_files_mode(tmp_path: Path) -> None:
    import os

    umask = os.umask(0o022)
    os.umask(umask)
    page = tmp_path / "gallery" / "index.html"
    atomic_write_text(page, "<p>one</p>")
    assert page.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600, which hides pages from a web server
    page.chmod(0o640)
    atomic_write_text(page, "<p>two</p>")
    assert page.stat().st_mode & 0o777 == 0o640 and page.read_text() == "<p>two</p>"
    assert [p.name for p in page.parent.iterdir()] == ["index.html"]  # no temp file left behind
