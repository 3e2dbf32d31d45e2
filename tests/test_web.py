"""The gallery: pages, the IPFS-style file route, upload limits, CSRF, and end to end in headless Chromium
(open the gallery, open a work, list and buy it, verify an uploaded copy), with screenshots kept in
test-artifacts/screenshots/."""

from __future__ import annotations

import io
import json
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from latentmint.art.works import list_works
from latentmint.chain.market import add_wallet, fund_wallet
from latentmint.chain.mint import mint_works
from latentmint.chain.network import connect
from latentmint.provenance.identity import unlock
from latentmint.studio import Studio

from conftest import certified_studio, free_port

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def gallery_studio(tmp_path_factory: pytest.TempPathFactory) -> Studio:
    studio = certified_studio(tmp_path_factory.mktemp("web"), PASSWORD, works=3)
    net = connect(studio)
    mint_works(studio, net, unlock(studio, PASSWORD), list_works(studio))
    add_wallet(studio, "collector", PASSWORD)
    fund_wallet(studio, net, "collector")
    return studio


@pytest.fixture
def client(gallery_studio: Studio, monkeypatch: pytest.MonkeyPatch):
    from fastapi.testclient import TestClient

    from latentmint.web.app import create_app

    monkeypatch.setenv("LATENTMINT_PASSWORD", PASSWORD)
    return TestClient(create_app(gallery_studio), base_url="http://127.0.0.1:8000", headers={"Origin": "http://127.0.0.1:8000"})


def _copy_of(studio: Studio) -> bytes:
    work = next(w for w in list_works(studio) if w.record.get("tokens"))
    buf = io.BytesIO()
    Image.open(work.root / work.record["certificate"]["file"]).convert("RGB").save(buf, "JPEG", quality=70)
    return buf.getvalue()


def test_pages_render_what_the_studio_holds(client, gallery_studio: Studio) -> None:
    works = list_works(gallery_studio)
    home = client.get("/")
    assert home.status_code == 200 and all(f"/works/{w.id}" in home.text for w in works)
    page = client.get(f"/works/{works[0].id}")
    assert page.status_code == 200 and works[0].record["certificate"]["summary"] in page.text
    assert "trusted signer" in page.text and "List for sale" in page.text and "Ownership history" in page.text
    assert client.get("/works/nope").status_code == 404
    run = client.get("/runs/run")
    assert run.status_code == 200 and "step-" in run.text
    last = json.loads((gallery_studio.runs / "run" / "evaluations.jsonl").read_text().splitlines()[-1])
    assert f"<td>{last['precision_train']}</td><td>{last['recall_train']}</td><td>{last['samples']}</td>" in run.text  # the variety beside KID/FID
    assert client.get("/runs/..%2Fkeys").status_code == 404


def test_files_by_cid_like_a_gateway(client, gallery_studio: Studio) -> None:
    token = list_works(gallery_studio)[0].record["tokens"][0]
    image = client.get(f"/ipfs/{token['image_cid']}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and "immutable" in image.headers["cache-control"]
    meta = client.get(f"/ipfs/{token['metadata_cid']}")
    assert meta.headers["content-type"] == "application/json" and meta.json()["image"] == f"ipfs://{token['image_cid']}"
    assert client.get("/ipfs/bafkreiaaaa").status_code == 404 and client.get("/ipfs/not-a-cid").status_code == 404


def test_verify_answers_pages_and_json_and_refuses_bad_uploads(client, gallery_studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = _copy_of(gallery_studio)
    answer = client.post("/verify", files={"file": ("copy.jpg", copy, "image/jpeg")}, headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.json()["verdict"] == "COPY"
    page = client.post("/verify", files={"file": ("copy.jpg", copy, "image/jpeg")})
    assert "COPY" in page.text and "matched work" in page.text
    assert client.post("/verify", files={"file": ("notes.png", b"just text", "image/png")}).status_code == 415  # the name lies
    import latentmint.web.app as web

    monkeypatch.setattr(web, "UPLOAD_LIMIT", 1000)
    too_big = client.post("/verify", files={"file": ("big.jpg", copy + bytes(2000), "image/jpeg")}, headers={"Accept": "application/json"})
    assert too_big.status_code == 413 and "larger than" in too_big.json()["error"]


def test_trading_forms_need_the_page_csrf_token(client, gallery_studio: Studio) -> None:
    work = list_works(gallery_studio)[1]
    client.get(f"/works/{work.id}")  # sets the cookie
    forged = client.post(f"/works/{work.id}/list", data={"price": "1", "account": "artist", "csrf": "guess"})
    assert forged.status_code == 403
    assert "tokens" in work.record and "listed" not in client.get(f"/works/{work.id}").text.split("price")[1][:60]


@pytest.fixture
def server(gallery_studio: Studio, monkeypatch: pytest.MonkeyPatch):
    import uvicorn

    from latentmint.web.app import create_app

    monkeypatch.setenv("LATENTMINT_PASSWORD", PASSWORD)
    port = free_port()
    app_server = uvicorn.Server(uvicorn.Config(create_app(gallery_studio), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=app_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not app_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    app_server.should_exit = True
    thread.join(10)


def test_end_to_end_in_headless_chromium(server: str, gallery_studio: Studio, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(_copy_of(gallery_studio))
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=flags)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(server + "/")
            assert page.locator("a.card").count() == 3
            page.screenshot(path=str(SCREENSHOTS / "gallery.png"), full_page=True)
            page.locator("a.card").first.click()
            page.wait_for_selector("#summary")
            assert "AI-generated by a model the artist trained" in page.inner_text("#summary")
            page.screenshot(path=str(SCREENSHOTS / "work.png"), full_page=True)
            page.click("#list-form button")
            page.wait_for_selector("#message")
            assert "listed at 0.05 ETH" in page.inner_text("#message") and "0.05 ETH" in page.inner_text("#price")
            page.select_option("#buy-form select", "collector")
            page.click("#buy-form button")
            page.wait_for_selector("#message")
            assert "bought by collector" in page.inner_text("#message"), page.inner_text("#message")
            owner = page.inner_text("#owner")
            assert "sale" in page.inner_text("#history")
            page.screenshot(path=str(SCREENSHOTS / "work-sold.png"), full_page=True)
            from latentmint.chain.market import wallet_addresses

            assert owner == wallet_addresses(gallery_studio)["collector"]
            page.goto(server + "/verify")
            page.set_input_files("input[type=file]", str(copy))
            page.click("#verify-form button")
            page.wait_for_selector("#verdict")
            assert page.inner_text("#verdict") == "COPY" and page.locator("img[alt='matched work']").count() == 1
            page.screenshot(path=str(SCREENSHOTS / "verify.png"), full_page=True)
        finally:
            browser.close()
    assert re.match(r"0x[0-9a-fA-F]{40}", owner)
    shutil.copy(SCREENSHOTS / "gallery.png", tmp_path / "kept.png")  # the artifacts are real PNGs
    assert Image.open(tmp_path / "kept.png").size[0] == 1200
