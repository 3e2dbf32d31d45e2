"""The gallery under attack: forged forms, other hosts and origins, key unlocking, read-only network serving,
oversized and bomb uploads refused early, verification off the event loop, security headers, and no 500s
for damaged records, hostile paths or lying file types."""

from __future__ import annotations

import json
import re
import shutil
import struct
import threading
import time
import zlib
from pathlib import Path

import httpx
import pytest

from latentmint.art.works import list_works
from latentmint.chain.mint import mint_works
from latentmint.chain.network import connect
from latentmint.provenance.identity import unlock
from latentmint.studio import Studio, init_studio

from conftest import certified_studio, free_port

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    studio = certified_studio(tmp_path_factory.mktemp("websec"), PASSWORD, works=2)
    mint_works(studio, connect(studio), unlock(studio, PASSWORD), list_works(studio))
    return studio.root


@pytest.fixture
def studio(template: Path, tmp_path: Path) -> Studio:
    shutil.copytree(template, tmp_path / "studio")
    return init_studio(tmp_path / "studio")


def _client(studio: Studio, monkeypatch: pytest.MonkeyPatch, **options):
    from fastapi.testclient import TestClient

    from latentmint.web.app import create_app

    monkeypatch.setenv("LATENTMINT_PASSWORD", PASSWORD)
    return TestClient(create_app(studio, **options), base_url=BASE, headers={"Origin": BASE})


def _csrf(client, wid: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(f"/works/{wid}").text).group(1)


def test_forms_need_a_token_only_this_server_can_make_and_keys_unlock_once(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    import latentmint.chain.market as market

    unlocks = []
    real = market.account_key
    monkeypatch.setattr(market, "account_key", lambda *a, **k: unlocks.append(a) or real(*a, **k))
    client = _client(studio, monkeypatch)
    first, second = [w.id for w in list_works(studio)]
    # a planted session cookie with a token of the attacker's choosing (a double-submit pair) is refused
    client.cookies.set("latentmint_session", "planted")
    for _ in range(16):
        forged = client.post(f"/works/{first}/list", data={"price": "1", "account": "artist", "csrf": "planted"}, follow_redirects=False)
        assert forged.status_code == 403
    assert unlocks == []  # forged requests cost no scrypt
    client.cookies.clear()
    token = _csrf(client, first)
    other = _client(studio, monkeypatch)
    other.get("/")
    assert other.post(f"/works/{first}/list", data={"price": "1", "account": "artist", "csrf": token}, follow_redirects=False).status_code == 403  # another session's token
    for wid in (first, second):
        done = client.post(f"/works/{wid}/list", data={"price": "0.2", "account": "artist", "csrf": _csrf(client, wid)}, follow_redirects=False)
        assert done.status_code == 303 and "listed" in done.headers["location"]
    assert len(unlocks) == 1  # once per account, not per request


def test_other_hosts_and_origins_are_refused(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(studio, monkeypatch)
    wid = list_works(studio)[0].id
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400  # DNS rebinding
    token = _csrf(client, wid)
    assert client.post(f"/works/{wid}/list", data={"price": "1", "account": "artist", "csrf": token}, headers={"Origin": "http://attacker.example"}, follow_redirects=False).status_code == 403
    no_origin = httpx.Client(transport=client._transport, base_url=BASE, cookies=client.cookies)
    assert no_origin.post(f"/works/{wid}/list", data={"price": "1", "account": "artist", "csrf": token}, follow_redirects=False).status_code == 403


def test_served_to_the_network_the_gallery_is_read_only(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(studio, monkeypatch, host="0.0.0.0")
    wid = list_works(studio)[0].id
    page = client.get(f"/works/{wid}")
    assert page.status_code == 200 and "List for sale" not in page.text
    refused = client.post(f"/works/{wid}/list", data={"price": "1", "account": "artist", "csrf": "x"}, follow_redirects=False)
    assert refused.status_code == 403
    allowed = _client(studio, monkeypatch, host="0.0.0.0", allow_trading_from_network=True)
    assert "List for sale" in allowed.get(f"/works/{wid}").text


def _png_header_only(width: int, height: int) -> bytes:
    """A valid little PNG that claims width x height pixels (one zero row compressed: a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = zlib.compress(b"\x00" * (width * 3 + 1) * 8, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_no_500s_for_damaged_records_hostile_paths_bombs_and_lying_types(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(studio, monkeypatch)
    works = list_works(studio)
    (works[1].root / "work.json").write_text('{"format": "latentmint.work/1", "id": ')  # damaged
    home = client.get("/")
    assert home.status_code == 200 and f"/works/{works[0].id}" in home.text and "content-security-policy" in home.headers
    damaged = client.get(f"/works/{works[1].id}")
    assert damaged.status_code == 422 and "damaged" in damaged.text
    image = (works[0].root / works[0].record["certificate"]["file"]).read_bytes()
    verified = client.post("/verify", files={"file": ("w.png", image, "image/png")}, headers={"Accept": "application/json"})
    assert verified.status_code == 200 and verified.json()["verdict"] == "AUTHENTIC"
    assert client.get("/ipfs/" + "b" * 300).status_code == 404
    assert client.get("/runs/%2E%2E/file/plot/x.png").status_code == 404 and client.get("/runs/%2E%2E").status_code == 404
    riff = b"RIFF" + struct.pack("<I", 100) + b"WAVEfmt " + bytes(100)
    assert client.post("/verify", files={"file": ("a.webp", riff, "image/webp")}).status_code == 415
    bomb = _png_header_only(13000, 13000)
    assert len(bomb) < 64 * 1024
    refused = client.post("/verify", files={"file": ("bomb.png", bomb, "image/png")}, headers={"Accept": "application/json"})
    assert refused.status_code == 413 and "13000 x 13000" in refused.json()["error"]
    import latentmint.web.app as web

    monkeypatch.setattr(web, "VERIFY_QUEUE", 0)  # every verification slot taken: answer at once, do not queue without bound
    busy = client.post("/verify", files={"file": ("w.png", image, "image/png")}, headers={"Accept": "application/json"})
    assert busy.status_code == 503 and "busy" in busy.json()["error"]
    for response in (home, damaged, refused, client.get("/nope")):
        assert response.headers["x-content-type-options"] == "nosniff" and response.headers["x-frame-options"] == "DENY"


@pytest.fixture
def live(studio: Studio, monkeypatch: pytest.MonkeyPatch):
    """The gallery as `latentmint serve` runs it (body limit included), on a real socket."""
    import uvicorn

    import latentmint.web.app as web

    monkeypatch.setenv("LATENTMINT_PASSWORD", PASSWORD)
    monkeypatch.setattr(web, "UPLOAD_LIMIT", 200_000)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(web.BodyLimit(web.create_app(studio), web.UPLOAD_LIMIT), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_big_uploads_are_refused_while_streaming(live: str) -> None:
    sent = []

    def body():
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n'
        for _ in range(400):  # 400 x 64 KiB = 25 MiB offered; refused after about 200 KB
            sent.append(1)
            yield bytes(64 * 1024)

    with httpx.Client(timeout=30) as client:
        declared = client.post(live + "/verify", content=b"x" * 300_000, headers={"Content-Type": "multipart/form-data; boundary=x"})
        assert declared.status_code == 413
        try:
            streamed = client.post(live + "/verify", content=body(), headers={"Content-Type": "multipart/form-data; boundary=x"})
            assert streamed.status_code == 413 and "larger than" in streamed.json()["error"]
        except httpx.TransportError:
            pass  # the server may close the connection on the sender: also a refusal
    assert len(sent) < 400


def test_verification_runs_off_the_event_loop(live: str, monkeypatch: pytest.MonkeyPatch, studio: Studio) -> None:
    import latentmint.verify as verify

    release, entered = threading.Event(), threading.Event()
    real = verify.verify_bytes

    def slow(*args, **kwargs):
        entered.set()
        release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(verify, "verify_bytes", slow)
    work = list_works(studio)[0]
    image = (work.root / work.record["certificate"]["file"]).read_bytes()
    answers = []
    upload = threading.Thread(target=lambda: answers.append(httpx.post(live + "/verify", files={"file": ("w.png", image, "image/png")}, headers={"Accept": "application/json"}, timeout=120)))
    upload.start()
    assert entered.wait(60)
    page = httpx.get(live + "/", timeout=20)  # served while the verification is still running
    assert page.status_code == 200 and not release.is_set()
    release.set()
    upload.join(120)
    assert answers[0].status_code == 200 and json.loads(answers[0].text)["verdict"] == "AUTHENTIC"


def test_a_visitor_gets_unknown_when_the_studio_has_minted_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from PIL import Image

    empty = init_studio(tmp_path / "empty")
    client = _client(empty, monkeypatch)
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(buf, "PNG")
    answer = client.post("/verify", files={"file": ("a.png", buf.getvalue(), "image/png")}, headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.json()["verdict"] == "UNKNOWN" and "minted nothing yet" in answer.json()["reason"]
    page = client.post("/verify", files={"file": ("a.png", buf.getvalue(), "image/png")})
    assert page.status_code == 200 and "UNKNOWN" in page.text
