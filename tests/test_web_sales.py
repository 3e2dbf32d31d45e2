"""The work page sells the ways the market does: a lazy voucher bought (and minted) from the page, a reserve
auction opened, bid on by two accounts with its countdown and bid history, settled, then an offer accepted."""

from __future__ import annotations

import re

import pytest

from latentmint.art.works import list_works, load_work
from latentmint.chain.market import add_wallet, fund_wallet
from latentmint.chain.mint import mint_works
from latentmint.chain.network import connect
from latentmint.chain.sales import sign_lazy_sale
from latentmint.provenance.identity import unlock

from conftest import certified_studio

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
ETH = 10**18


def test_the_work_page_sells_by_voucher_auction_and_offer(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from latentmint.web.app import create_app

    studio = certified_studio(tmp_path, PASSWORD, works=2)
    net = connect(studio)
    keys = unlock(studio, PASSWORD)
    auctioned, lazy = (w.id for w in list_works(studio))
    mint_works(studio, net, keys, [load_work(studio, auctioned)])
    voucher = sign_lazy_sale(studio, net, keys, lazy, ETH // 10, 86_400)
    names = {}
    for name in ("collector", "bidder"):
        names[name] = add_wallet(studio, name, PASSWORD)
        fund_wallet(studio, net, name)
    monkeypatch.setenv("LATENTMINT_PASSWORD", PASSWORD)
    client = TestClient(create_app(studio), base_url="http://127.0.0.1:8000", headers={"Origin": "http://127.0.0.1:8000"})

    def post(wid: str, action: str, **form) -> str:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(f"/works/{wid}").text).group(1)
        done = client.post(f"/works/{wid}/{action}", data={"csrf": csrf, **form})
        assert done.status_code == 200 and "error:" not in done.text, done.text[:2000]
        return done.text

    page = client.get(f"/works/{lazy}").text
    assert "Buy and mint for 0.1 ETH" in page and voucher["voucher_cid"][:16] in page and "Not minted" in page
    post(lazy, "buy", account="collector", price_wei=str(ETH // 10), voucher=voucher["voucher_cid"])
    page = client.get(f"/works/{lazy}").text
    assert f'id="owner">{names["collector"]}' in page and "lazy mint" in page and "Buy and mint" not in page

    post(auctioned, "auction", account="artist", reserve="0.1", hours="1")
    assert "no bid yet" in client.get(f"/works/{auctioned}").text
    post(auctioned, "bid", account="collector", amount="0.1")
    post(auctioned, "bid", account="bidder", amount="0.2")
    page = client.get(f"/works/{auctioned}").text
    assert "highest bid <b>0.2 ETH</b>" in page and "data-end=" in page and "/static/countdown.js" in page
    bids = page.split('id="bids"')[1].split("</table>")[0]
    assert bids.index("<td>0.2 ETH</td>") < bids.index("<td>0.1 ETH</td>")  # the bid history, newest first
    assert client.get("/static/countdown.js").status_code == 200
    other = connect(studio)  # time passes on the chain: the next block is after the end
    other.w3.provider.make_request("testing_timeTravel", [other.w3.eth.get_block("latest")["timestamp"] + 3601])
    fund_wallet(studio, other, "collector", "1")
    post(auctioned, "settle", account="artist")
    page = client.get(f"/works/{auctioned}").text
    assert f'id="owner">{names["bidder"]}' in page and "Reserve auction" not in page

    post(auctioned, "offer", account="collector", amount="0.3", days="7")
    assert "<td>0.3 ETH</td>" in client.get(f"/works/{auctioned}").text.split('id="offers"')[1]
    before = net.w3.eth.get_balance(names["bidder"])
    post(auctioned, "accept", account="bidder", buyer=names["collector"], amount_wei=str(3 * ETH // 10))
    page = client.get(f"/works/{auctioned}").text
    assert f'id="owner">{names["collector"]}' in page and "No open offers" in page
    assert net.w3.eth.get_balance(names["bidder"]) > before + 3 * ETH // 10 * 0.9  # paid less the royalty and gas
