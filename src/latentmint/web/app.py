"""`latentmint serve`: the gallery, work, training and verify pages (FastAPI, server-rendered Jinja2).

The pages only present what the other packages compute: works and records (art/), credentials
(provenance/), tokens, listings and history (chain/), verdicts (verify.py). On the embedded chain the work
page also lists, buys and transfers with the studio's accounts; against any other network it shows data and
links, and never holds a private key.

Trading is guarded as a bank's page would be: a form carries a token that is an HMAC of the browser's session
under a secret only this server process knows (a page elsewhere can neither read nor plant one), every
request must name this server as Host (no DNS rebinding) and a POST must come from this origin. Keys are
unlocked once per account for the server's life, only after those checks pass. Bound to anything but
loopback, the gallery is read-only unless started with --allow-trading-from-network.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import mimetypes
import os
import secrets
from pathlib import Path
from typing import Any

# At module level: FastAPI reads the route annotations (postponed by the __future__ import) from these globals.
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from latentmint.errors import LatentmintError
from latentmint.studio import Studio

UPLOAD_LIMIT = 25 * 1024 * 1024
UPLOAD_TYPES = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"GIF8": ".gif"}
SESSION_COOKIE = "latentmint_session"
VERIFY_WORKERS = 2  # verifications at once, each in a worker thread (the event loop keeps serving pages)
VERIFY_QUEUE = 8  # waiting beyond this: 503, try again
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
SECURITY_HEADERS = {
    # no inline script anywhere (the one script is /static/scrub.js); inline style attributes only
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _upload_suffix(data: bytes) -> str | None:
    """The type an upload really is, from its first bytes (never trust the name or the browser)."""
    for magic, suffix in UPLOAD_TYPES.items():
        if data.startswith(magic):
            return suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":  # RIFF alone is also WAV, AVI, ...
        return ".webp"
    if data[4:8] == b"ftyp":
        return ".mp4"
    return None


class BodyLimit:
    """ASGI middleware: refuse a request body above `limit` bytes while it streams in (Content-Length first),
    not after the whole of it has been received and spooled."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(send)
        received, over, refused = 0, False, False

        async def limited_receive() -> dict:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:  # stop reading: the app sees the client gone, whatever it answers becomes a 413
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal refused
            if not over:
                await send(message)
            elif not refused:
                refused = True
                await self._refuse(send)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not over:
                raise
            if not refused:
                await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"error": f"upload larger than {self.limit // (1024 * 1024)} MB; refused"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def svg_chart(points: list[tuple[float, float]], width: int = 560, height: int = 160) -> str:
    """A small line chart as inline SVG (no plotting library in the page)."""
    if len(points) < 2:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (width - 60) / ((x1 - x0) or 1)
    sy = (height - 30) / ((y1 - y0) or 1)
    path = " ".join(f"{50 + (x - x0) * sx:.1f},{height - 20 - (y - y0) * sy:.1f}" for x, y in points)
    return (
        f'<svg viewBox="0 0 {width} {height}" class="chart"><polyline fill="none" stroke="#7b5cff" stroke-width="2" points="{path}"/>'
        f'<text x="4" y="14">{y1:.3g}</text><text x="4" y="{height - 20}">{y0:.3g}</text>'
        f'<text x="50" y="{height - 4}">step {x0:g}</text><text x="{width - 90}" y="{height - 4}">step {x1:g}</text></svg>'
    )


def _host_name(value: str) -> str:
    """'127.0.0.1:8000' -> '127.0.0.1'; '[::1]:8000' -> '[::1]'."""
    return value.rsplit(":", 1)[0] if value.count(":") == 1 or value.startswith("[") and "]:" in value else value


def create_app(studio: Studio, network: str | None = None, host: str = "127.0.0.1", allow_trading_from_network: bool = False) -> FastAPI:
    from urllib.parse import urlsplit

    from starlette.concurrency import run_in_threadpool

    from latentmint.art.works import list_works, load_work
    from latentmint.chain.network import EMBEDDED, connect

    loopback = host in LOOPBACK
    trading = loopback or allow_trading_from_network
    app = FastAPI(title="latentmint gallery", docs_url=None, redoc_url=None)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    state: dict[str, Any] = {}
    secret = secrets.token_bytes(32)  # this process's: sessions end when the server stops
    unlocked: dict[str, bytes] = {}  # account name -> key, unlocked once (scrypt is costly by design)
    verify_slots = asyncio.Semaphore(VERIFY_WORKERS)
    waiting = [0]

    @app.middleware("http")
    async def guard(request: Request, call_next):
        hostname = _host_name(request.headers.get("host", ""))
        if loopback and hostname not in LOOPBACK:  # a page on another name reaching 127.0.0.1 (DNS rebinding)
            response = JSONResponse({"error": f"Host {hostname[:80]!r} is not this gallery; open it at http://127.0.0.1"}, status_code=400)
        elif request.method not in ("GET", "HEAD") and request.url.path != "/verify" and not _same_origin(request):  # verify changes nothing: scripts may post files
            response = JSONResponse({"error": "a form may only be sent from this gallery's own pages"}, status_code=403)
        else:
            response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    def _same_origin(request: Request) -> bool:
        origin = request.headers.get("origin") or request.headers.get("referer")
        if not origin or origin == "null":
            return False
        return urlsplit(origin).netloc == request.headers.get("host", "")

    def csrf_for(session: str) -> str:
        return hmac.new(secret, session.encode(), "sha256").hexdigest()

    def net():
        if "net" not in state:
            state["net"] = connect(studio, network)
        return state["net"]

    def local() -> bool:
        return trading and net().name == EMBEDDED

    def page(request: Request, template: str, **context: Any) -> HTMLResponse:
        session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(32)
        response = templates.TemplateResponse(request, template, {"studio": studio, "local": local(), "csrf": csrf_for(session), "network": net().name, **context})
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
        return response

    def check_csrf(request: Request, sent: str) -> None:
        session = request.cookies.get(SESSION_COOKIE, "")
        if not session or not hmac.compare_digest(csrf_for(session), sent):
            raise HTTPException(403, "the form expired or came from another site; reload the page and try again")

    def token_of(work) -> dict[str, Any] | None:
        from latentmint.chain.mint import token_of as find

        return find(work, net())

    def work_or_404(wid: str):
        if not wid.isalnum() or len(wid) > 64:
            raise HTTPException(404, f"{wid[:64]}: no such work")
        try:
            return load_work(studio, wid)
        except LatentmintError as exc:
            if "no such work" in str(exc):
                raise HTTPException(404, f"{wid}: no such work") from exc
            raise HTTPException(422, f"{wid}: damaged work record; restore works/{wid}/work.json from a backup") from exc

    @app.get("/static/{name}")
    def static(name: str):
        path = STATIC / name
        if name not in {p.name for p in STATIC.glob("*.js")}:
            raise HTTPException(404, f"{name}: no such file")
        return Response(path.read_bytes(), media_type="text/javascript")

    @app.get("/", response_class=HTMLResponse)
    def gallery(request: Request):
        works = [w for w in list_works(studio, skip_damaged=True) if w.record.get("certificate") or w.record.get("human_actions")]
        cards = [{"work": w, "token": token_of(w)} for w in works]
        cards.sort(key=lambda c: (c["token"] is None, "certificate" not in c["work"].record, c["work"].id))
        return page(request, "gallery.html", cards=cards)

    @app.get("/works/{wid}", response_class=HTMLResponse)
    def work_page(request: Request, wid: str, message: str = ""):
        from latentmint.chain.market import show, wallet_addresses
        from latentmint.chain.mint import history
        from latentmint.provenance.certify import trust_anchors
        from latentmint.provenance.credentials import inspect_file

        work = work_or_404(wid)
        cert = work.record.get("certificate")
        inspection = inspect_file(work.root / cert["file"], trust_anchors(studio)) if cert else None
        token = token_of(work)
        market = hist = sale = None
        if token:
            token_id = int(token["token_id"])
            market = show(studio, net(), token_id)
            hist = history(studio, net(), token_id)
        if cert:  # auctions, bids, offers; for a work not minted yet, its lazy vouchers
            from latentmint.chain.sales import market_state

            sale = market_state(studio, net(), int(cert["sha256"], 16))
            sale["now"] = net().w3.eth.get_block("latest")["timestamp"]
        try:
            record = json.loads((work.root / "creativity.json").read_text()) if (work.root / "creativity.json").exists() else None
        except (OSError, ValueError):
            record = None  # shown as absent; the certificate itself carries the record
        accounts = wallet_addresses(studio) if local() and (studio.keys / "identity.json").exists() else {}
        return page(request, "work.html", work=work, cert=cert, inspection=inspection, token=token, market=market, history=hist, record=record, accounts=accounts, message=message, sale=sale)

    @app.get("/works/{wid}/file/{name}")
    def work_file(wid: str, name: str):
        work = work_or_404(wid)
        path = (work.root / name).resolve()
        if path.parent != work.root.resolve() or not path.is_file() or name.endswith(".json"):
            raise HTTPException(404, f"{wid}/{name}: no such file")
        return Response(path.read_bytes(), media_type=mimetypes.guess_type(name)[0] or "application/octet-stream")

    @app.get("/faces/{dataset}/{name}")
    def training_face(dataset: str, name: str):
        from latentmint.data.dataset import dataset_dir

        try:
            folder = (dataset_dir(studio.datasets, dataset) / "faces").resolve()
        except LatentmintError as exc:
            raise HTTPException(404, str(exc)) from exc
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file():
            raise HTTPException(404, f"{dataset}/{name}: no such face")
        return Response(path.read_bytes(), media_type="image/png")

    def key_of(account: str) -> bytes:
        """The account's key, unlocked on its first trade and kept for the server's life."""
        from latentmint.chain.market import account_key

        if account not in unlocked:
            password = os.environ.get("LATENTMINT_PASSWORD")
            if password is None:
                raise HTTPException(403, "start `latentmint serve` with LATENTMINT_PASSWORD set to trade from the page")
            unlocked[account] = account_key(studio, password, account)
        return unlocked[account]

    def _act(request_form: dict[str, str], wid: str, action) -> RedirectResponse:
        if not trading:
            raise HTTPException(403, "this gallery is served to the network read-only; trade from the studio's own machine")
        if not local():
            raise HTTPException(403, "this page only trades on the embedded chain; use your wallet on a real network")
        work = work_or_404(wid)
        cert = work.record.get("certificate")
        if cert is None:
            raise HTTPException(400, f"{wid}: not certified")
        try:  # the token id is the certified file's sha256, minted or not (a voucher mints it)
            message = action(key_of(request_form["account"]), int(cert["sha256"], 16))
        except LatentmintError as exc:
            message = f"error: {exc}"
        from urllib.parse import quote

        return RedirectResponse(f"/works/{wid}?message={quote(message)}", status_code=303)

    @app.post("/works/{wid}/list")
    def list_form(request: Request, wid: str, price: str = Form(...), account: str = Form("artist"), csrf: str = Form(...)):
        from latentmint.chain.market import list_token, parse_eth

        check_csrf(request, csrf)
        return _act({"account": account}, wid, lambda key, t: f"listed at {price} ETH (tx {list_token(studio, net(), key, t, parse_eth(price))['tx']})")

    @app.post("/works/{wid}/buy")
    def buy_form(request: Request, wid: str, account: str = Form(...), price_wei: int = Form(...), voucher: str = Form(""), csrf: str = Form(...)):
        from latentmint.chain.market import buy
        from latentmint.chain.sales import load_voucher, redeem

        check_csrf(request, csrf)  # price_wei: the price the page showed; a changed listing is refused, not paid
        if voucher:  # not minted yet: the purchase mints it to the buyer
            return _act({"account": account}, wid, lambda key, t: f"bought and minted for {account} (tx {redeem(studio, net(), key, load_voucher(studio, voucher), price_wei)['tx']})")
        return _act({"account": account}, wid, lambda key, t: f"bought by {account} (tx {buy(studio, net(), key, t, price_wei)['tx']})")

    @app.post("/works/{wid}/auction")
    def auction_form(request: Request, wid: str, account: str = Form(...), reserve: str = Form(...), hours: float = Form(24), csrf: str = Form(...)):
        from latentmint.chain.market import parse_eth
        from latentmint.chain.sales import create_auction

        check_csrf(request, csrf)
        return _act({"account": account}, wid, lambda key, t: f"auction opened, reserve {reserve} ETH (tx {create_auction(studio, net(), key, t, parse_eth(reserve), int(hours * 3600))['tx']})")

    @app.post("/works/{wid}/bid")
    def bid_form(request: Request, wid: str, account: str = Form(...), amount: str = Form(...), csrf: str = Form(...)):
        from latentmint.chain.market import parse_eth
        from latentmint.chain.sales import bid

        check_csrf(request, csrf)
        return _act({"account": account}, wid, lambda key, t: f"{account} bid {amount} ETH (tx {bid(studio, net(), key, t, parse_eth(amount))['tx']})")

    @app.post("/works/{wid}/settle")
    def settle_form(request: Request, wid: str, account: str = Form(...), csrf: str = Form(...)):
        from latentmint.chain.sales import settle

        check_csrf(request, csrf)
        return _act({"account": account}, wid, lambda key, t: f"settled (tx {settle(studio, net(), key, t)['tx']})")

    @app.post("/works/{wid}/offer")
    def offer_form(request: Request, wid: str, account: str = Form(...), amount: str = Form(...), days: float = Form(7), csrf: str = Form(...)):
        from latentmint.chain.market import parse_eth
        from latentmint.chain.sales import make_offer

        check_csrf(request, csrf)
        return _act({"account": account}, wid, lambda key, t: f"{account} offered {amount} ETH (tx {make_offer(studio, net(), key, t, parse_eth(amount), days * 86_400)['tx']})")

    @app.post("/works/{wid}/accept")
    def accept_form(request: Request, wid: str, account: str = Form(...), buyer: str = Form(...), amount_wei: int = Form(...), csrf: str = Form(...)):
        from latentmint.chain.sales import accept_offer

        check_csrf(request, csrf)  # amount_wei: the offer the page showed; a changed offer is refused
        return _act({"account": account}, wid, lambda key, t: f"sold to {buyer} (tx {accept_offer(studio, net(), key, t, buyer, amount_wei)['tx']})")

    @app.post("/works/{wid}/transfer")
    def transfer_form(request: Request, wid: str, to: str = Form(...), account: str = Form(...), csrf: str = Form(...)):
        from latentmint.chain.market import transfer, wallet_addresses

        check_csrf(request, csrf)
        address = wallet_addresses(studio).get(to, to)
        return _act({"account": account}, wid, lambda key, t: f"transferred to {address} (tx {transfer(studio, net(), key, t, address)['tx']})")

    def run_folder(name: str) -> Path:
        folder = (studio.runs / name).resolve()
        if name.startswith(".") or folder.parent != studio.runs.resolve() or not (folder / "run.json").is_file():
            raise HTTPException(404, f"{name[:64]}: no such run")
        return folder

    @app.get("/runs/{name}", response_class=HTMLResponse)
    def run_page(request: Request, name: str):
        folder = run_folder(name)
        try:
            run = json.loads((folder / "run.json").read_text())
            evaluations = [json.loads(line) for line in (folder / "evaluations.jsonl").read_text().splitlines() if line.strip()] if (folder / "evaluations.jsonl").exists() else []
        except (OSError, ValueError) as exc:
            raise HTTPException(422, f"{name}: damaged run record ({exc})") from exc
        grids = sorted(p.name for p in (folder / "samples").glob("step-*.png"))
        samples = [g for g in grids if not g.endswith("px.png")]  # the generator's own grids, step by step
        final = [g for g in grids if g.endswith("px.png")]  # a cascade's samples at the works' size
        charts = {key: svg_chart([(e["step"], e[key]) for e in evaluations if e.get(key) is not None]) for key in ("swd_train", "kid_train", "fid_train", "recall_train")}
        return page(request, "run.html", name=name, run=run, samples=samples, final=final[-1] if final else None, charts={k: v for k, v in charts.items() if v}, evaluations=evaluations, loss=(folder / "loss.png").exists())

    @app.get("/runs/{name}/file/{kind}/{file}")
    def run_file(name: str, kind: str, file: str):
        folder = (run_folder(name) / ("samples" if kind == "samples" else "")).resolve()
        path = (folder / file).resolve()
        if kind not in ("samples", "plot") or path.parent != folder or path.suffix != ".png" or not path.is_file():
            raise HTTPException(404, f"{name}/{file}: no such image")
        return Response(path.read_bytes(), media_type="image/png")

    @app.get("/verify", response_class=HTMLResponse)
    def verify_form(request: Request):
        return page(request, "verify.html", result=None)

    @app.post("/verify")
    async def verify_upload(request: Request, file: UploadFile = File(...), collection: str = Form("")):
        from web3 import Web3

        from latentmint.provenance.certify import trust_anchors
        from latentmint.verify import verify_bytes

        data = await file.read(UPLOAD_LIMIT + 1)
        wants_json = "application/json" in request.headers.get("accept", "")
        others = [collection.strip()] if collection.strip() else []  # another collection on this chain, e.g. a collector's
        if others and not Web3.is_address(others[0]):
            error, status = f"{collection.strip()[:64]!r}: not a collection address (0x and 40 hex digits)", 422
        elif len(data) > UPLOAD_LIMIT:
            error, status = f"{file.filename}: larger than {UPLOAD_LIMIT // (1024 * 1024)} MB", 413
        elif (suffix := _upload_suffix(data)) is None:
            error, status = f"{file.filename}: not a PNG, JPEG, GIF, WebP or MP4 file", 415
        elif waiting[0] >= VERIFY_QUEUE:
            error, status = "the gallery is busy verifying other files; try again in a minute", 503
        else:
            waiting[0] += 1
            try:
                async with verify_slots:  # decoding and fingerprinting run in worker threads, at most VERIFY_WORKERS at once
                    result = await run_in_threadpool(functools.partial(verify_bytes, studio, net(), data, f"upload{suffix}", trust_anchors(studio), others, nothing_minted_is_unknown=True))
            except LatentmintError as exc:
                error, status = f"{file.filename}: {str(exc).removeprefix(f'upload{suffix}: ')}", (413 if "pixels" in str(exc) else 422)
            else:
                if wants_json:
                    return JSONResponse(result.to_json())
                match = None
                if result.token_id is not None:
                    match = next((w for w in list_works(studio, skip_damaged=True) if (t := token_of(w)) and int(t["token_id"]) == result.token_id), None)
                return page(request, "verify.html", result=result, match=match, filename=file.filename)
            finally:
                waiting[0] -= 1
        if wants_json:
            return JSONResponse({"error": error}, status_code=status)
        response = page(request, "verify.html", result=None, error=error)
        response.status_code = status
        return response

    @app.get("/ipfs/{cid}")
    def ipfs(request: Request, cid: str, format: str = ""):
        """The file a CID names, or (`?format=raw`, or Accept: application/vnd.ipld.raw) the block itself, as a
        trustless gateway serves it: the reader checks it against the CID and trusts this server for nothing."""
        from latentmint.storage.cid import check_cid
        from latentmint.storage.store import RAW_BLOCK, open_store

        raw = format == "raw" or RAW_BLOCK in request.headers.get("accept", "")
        try:
            check_cid(cid)
            data = open_store(studio).block(cid) if raw else open_store(studio).cat(cid)
        except (ValueError, LatentmintError) as exc:
            raise HTTPException(404, f"{cid}: not in this studio's store") from exc
        if raw:
            return Response(data, media_type=RAW_BLOCK, headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"})
        suffix = _upload_suffix(data)
        media = mimetypes.guess_type(f"x{suffix}")[0] if suffix else ("application/json" if data[:1] in b"{[" else "application/octet-stream")
        return Response(data, media_type=media, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    return app


def serve(studio: Studio, host: str = "127.0.0.1", port: int = 8000, network: str | None = None, allow_trading_from_network: bool = False) -> None:
    import uvicorn

    app = BodyLimit(create_app(studio, network, host, allow_trading_from_network), UPLOAD_LIMIT + 64 * 1024)
    uvicorn.run(app, host=host, port=port, log_level="warning")
