"""`replayflow console`: serve the API and the page for a domain or for history files."""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys

import click

from ..errors import UserError
from .app import cli, handle_errors

TOKEN_VARIABLE = "REPLAYFLOW_CONSOLE_TOKEN"
DEFAULT_PORT = 8642


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@cli.command("console")
@click.option("--domain", envvar="SWF_DOMAIN", help="SWF domain [env: SWF_DOMAIN].")
@click.option("--history-file", "history_files", multiple=True, type=click.Path(dir_okay=False),
              help="Serve this history file, read-only and with no AWS (repeatable).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Beyond loopback needs REPLAYFLOW_CONSOLE_TOKEN.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--read-only", is_flag=True, help="No actions: no terminate, cancel, signal, "
                                                "restart or start.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
@click.option("--poll-interval", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
              help="Seconds between two reads of a watched open run.")
@click.pass_context
@handle_errors
def console(ctx: click.Context, domain: str | None, history_files: tuple[str, ...], host: str,
            port: int, read_only: bool, open_browser: bool, poll_interval: float) -> None:
    """A web console and REST API over the runs of a domain, or of history files.

    \b
      replayflow console --domain D              # runs on SWF; actions need the printed token
      replayflow console --history-file run.json # a saved run, read-only, no AWS at all
    The page is at the printed address (its #token=... part logs the page in); the API is
    described at /openapi.json. Mutating calls need 'Authorization: Bearer <token>': the token is
    REPLAYFLOW_CONSOLE_TOKEN, or a fresh one printed at start-up.
    """
    import uvicorn

    from ..console import FileRuns, SwfRuns, create_app

    env_token = os.environ.get(TOKEN_VARIABLE) or None
    if not _is_loopback(host) and env_token is None:
        raise UserError(f"--host {host} serves the console beyond this machine: set "
                        f"{TOKEN_VARIABLE} to a secret first")
    if history_files and domain:
        if ctx.get_parameter_source("domain") == click.core.ParameterSource.COMMANDLINE:
            raise UserError("give --domain or --history-file, not both")
        domain = None  # SWF_DOMAIN is set, but the files were asked for
    if history_files:
        runs = FileRuns(history_files)
    elif domain:
        runs = SwfRuns(domain)
        runs.check()
    else:
        raise UserError("give --domain D (or SWF_DOMAIN), or --history-file FILE")
    token = env_token or secrets.token_urlsafe(24)
    can_act = not read_only and not runs.read_only
    allowed = None
    if _is_loopback(host):
        allowed = ["127.0.0.1", "localhost", "[::1]", "::1"]
    app = create_app(runs, token=token, read_only=read_only, allowed_hosts=allowed,
                     poll_interval=poll_interval)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=2, lifespan="on")
    server = uvicorn.Server(config)

    shown_host = f"[{host}]" if ":" in host else host

    def announce() -> None:
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        url = f"http://{shown_host}:{bound}/"
        if can_act and env_token is None:
            click.echo(f"replayflow console: {url}#token={token}", nl=True)
            click.echo(f"token for the API: {token}", err=True)
        else:
            click.echo(f"replayflow console: {url}")
        if not can_act:
            click.echo("read-only: no action can be taken from this console", err=True)
        sys.stdout.flush()
        if open_browser:
            import webbrowser

            webbrowser.open(url + (f"#token={token}" if can_act and env_token is None else ""))

    _serve(server, announce)


def _serve(server, announce) -> None:  # noqa: ANN001 - uvicorn types
    """Run uvicorn, announcing the address once it listens (port 0 picks a free one)."""
    import asyncio

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            announce()
        try:
            await task
        except SystemExit:  # uvicorn's answer to a port it cannot bind (logged just before)
            pass

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    if not server.started:
        raise UserError(f"the console could not listen on {server.config.host}:"
                        f"{server.config.port} (is the port taken?)")


__all__ = ["console"]
