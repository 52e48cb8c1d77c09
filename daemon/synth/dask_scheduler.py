"""The Dask scheduler the daemon and its workers meet at: ``kokoro-inbox scheduler``.

distributed's own ``Scheduler``, started with the cluster's TLS (``executor.tls``)
at the address the others use (``executor.address``), listening only there (or
on ``executor.interface``), and without the HTTP server that ``dask scheduler``
always starts (dask_security.py says why each).  Dask's HTTP pages are served only
when asked for, at the address given to ``--dashboard``.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import dask
from distributed import Scheduler
from distributed.comm import parse_address, parse_host_port

from daemon.config import Config
from daemon.errors import StartupError

from .dask_security import WithoutHttpPages, cluster_security, listen_on, warn_if_unencrypted
from .dask_worker import unless_stopped

log = logging.getLogger(__name__)


class QuietScheduler(WithoutHttpPages, Scheduler):
    """A Scheduler with no HTTP server unless it is given a dashboard address."""


def serve_scheduler(config: Config, dashboard: str | None = None) -> int:
    """Run the scheduler at ``executor.address`` until SIGTERM or Ctrl-C."""
    assert config.executor_address is not None
    protocol, location = parse_address(config.executor_address)
    host, port = parse_host_port(location, 8786)
    security = cluster_security(config)
    warn_if_unencrypted(config.executor_address)
    if dashboard is None:  # no server (WithoutHttpPages), and no pages prepared for one
        dask.config.set({"distributed.scheduler.http.routes": []})
    settings = dict(listen_on(config.executor_interface) or {"host": host}, port=port, protocol=protocol,
                    security=security, dashboard=dashboard is not None, dashboard_address=dashboard)
    return asyncio.run(_run(config.executor_address, settings))


async def _run(address: str, settings: dict) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    scheduler = QuietScheduler(**settings)
    try:
        await scheduler
    except (OSError, RuntimeError) as error:  # distributed wraps the OSError in "failed to start"
        cause = error.__cause__ if isinstance(error.__cause__, OSError) else error
        await scheduler.close(reason="kokoro-inbox-scheduler-failed")
        raise StartupError(f"the Dask scheduler cannot listen at {address} ({cause}); is another one "
                           "running there, or is executor.interface wrong?") from None
    log.info("the Dask scheduler listens at %s%s%s", scheduler.address,
             " (TLS: only machines with a certificate of the cluster's CA)" if settings["security"] else "",
             f"; its HTTP pages at {settings['dashboard_address']}" if settings["dashboard"] else "")
    await unless_stopped(scheduler.finished(), stop)
    await scheduler.close(reason="kokoro-inbox-scheduler-stopped")
    return 0
