"""`latentmint serve`: the gallery."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from latentmint.cli.common import app, emit, err, JsonOpt, NetworkOpt, StudioOpt, verb


@app.command()
@verb
def serve(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address to bind; the default keeps the gallery on this machine. Any other address serves it read-only.")] = "127.0.0.1",
    allow_trading_from_network: Annotated[bool, typer.Option("--allow-trading-from-network", help="With --host: let other machines' browsers trade with the studio's unlocked accounts.")] = False,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The gallery: works, certificates, training runs, and a page that verifies any file (Ctrl-C stops)."""
    from latentmint.studio import open_studio
    from latentmint.web.app import LOOPBACK
    from latentmint.web.app import serve as run_server

    opened = open_studio(studio)
    if host not in LOOPBACK:
        if allow_trading_from_network:
            err.print(Text(f"warning: anyone who can reach {host}:{port} can trade with this studio's unlocked accounts; use this only on a network you trust", style="bold yellow"))
        else:
            err.print(Text(f"serving {host}:{port} read-only: trading needs the loopback address or --allow-trading-from-network", style="yellow"))
    if as_json:
        emit({"url": f"http://{host}:{port}/", "studio": str(opened.root)})
    else:
        err.print(Text.assemble("gallery of ", str(opened.root), " at ", (f"http://{host}:{port}/", "bold"), " (Ctrl-C stops)"))
    run_server(opened, host, port, network, allow_trading_from_network)
