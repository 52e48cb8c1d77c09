"""Who may talk to the Dask cluster, and where its processes listen.

A Dask scheduler runs whatever code its clients send, on itself and on every
worker, and a client unpickles whatever results come back: reaching the port
is the same as running code as those processes' users.  So:

- **TLS with the cluster's own certificates** (``tls://`` addresses and
  ``executor.tls``, made by ``kokoro-inbox cluster-certs``): every connection
  is encrypted, and both ends must show a certificate signed by the cluster's
  CA (distributed's ``Security``, which checks the CA, not host names).  A
  client, worker or scheduler without one is refused at the handshake.
- **A listening address, never all of them**: workers and nannies listen on
  ``executor.interface``, else on the local address that reaches the
  scheduler; the scheduler on ``executor.interface``, else on the host of its
  own address.  Dask's default is 0.0.0.0.
- **No HTTP pages**: distributed starts an HTTP server in every scheduler
  (port 8787, even with ``--no-dashboard``) and worker, with metrics, state
  as JSON and a proxy to the workers' pages.  ``WithoutHttpPages`` starts none
  unless an address for them is given (``kokoro-inbox scheduler --dashboard``).
- An unencrypted ``tcp://`` address still works (one machine, tests), with one
  warning at start-up when it is not a loopback address.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from pathlib import Path
from typing import Any

from distributed import Security
from distributed.comm import parse_address, parse_host_port

from daemon.config import Config
from daemon.errors import ConfigError, StartupError

log = logging.getLogger(__name__)


def cluster_security(config: Config) -> Security | None:
    """This machine's TLS for the cluster from ``executor.tls``, checked now (files readable, the key
    the certificate's); None for an unencrypted cluster."""
    files = config.executor_tls
    if files is None:
        return None
    for name in ("ca", "cert", "key"):
        _check_readable(f"executor.tls.{name}", getattr(files, name))
    ca, cert, key = str(files.ca), str(files.cert), str(files.key)
    # one certificate for every role: each Dask process both listens and connects
    security = Security(require_encryption=True, tls_ca_file=ca, tls_min_version=ssl.TLSVersion.TLSv1_3,
                        tls_client_cert=cert, tls_client_key=key, tls_scheduler_cert=cert,
                        tls_scheduler_key=key, tls_worker_cert=cert, tls_worker_key=key)
    try:
        security.get_connection_args("client")  # loads the three files: a mistake shows here, not as a hang
    except (ssl.SSLError, ValueError) as error:
        raise ConfigError(f"executor.tls: {files.cert}, {files.key} and {files.ca} are not a certificate, "
                          f"its key and the cluster's CA ({error}); make them with 'kokoro-inbox "
                          "cluster-certs'") from None
    return security


def _check_readable(key: str, path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {path} ({error.strerror or error})") from None


def listen_on(interface: str | None) -> dict[str, str]:
    """Nanny/Worker/Scheduler keywords for where ``executor.interface`` says to listen: an address,
    or the name of a network interface such as eth0; none when it is not set."""
    if interface is None:
        return {}
    if interface in {name for _, name in socket.if_nameindex()}:
        return {"interface": interface}
    return {"host": interface}


def address_towards(scheduler: str) -> str:
    """The local address by which this machine reaches the scheduler (where its workers listen)."""
    host, port = parse_host_port(parse_address(scheduler)[1], 8786)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, port))  # UDP: chooses the route, sends nothing
            local = probe.getsockname()[0]
    except OSError as error:
        raise StartupError(f"cannot find a way to the scheduler {scheduler} ({error.strerror or error}); "
                           "check its address, or set executor.interface") from None
    if ipaddress.ip_address(local).is_unspecified:
        raise StartupError(f"no network route to the scheduler {scheduler}; set executor.interface")
    return local


def scheduler_host(address: str) -> str:
    return parse_host_port(parse_address(address)[1], 8786)[0]


def warn_if_unencrypted(address: str) -> None:
    """One warning for a tcp:// cluster beyond this machine: what that leaves open."""
    if not address.startswith("tcp://") or _is_loopback(scheduler_host(address)):
        return
    log.warning("the Dask cluster at %s is not encrypted: anyone who can reach that port can run "
                "programs as the user of the scheduler and of every worker, and send this machine "
                "data it unpickles. Use tls:// with certificates from 'kokoro-inbox cluster-certs' "
                "(README: \"What an open scheduler means\")", address)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reached over the network


class WithoutHttpPages:
    """For a distributed Scheduler or Worker: no HTTP server, unless given an address for it.

    distributed calls ``start_http_server`` from every Scheduler and Worker (a public
    method of its ``ServerNode``, unchanged since 2019); tests/test_dask.py checks that a
    scheduler and its workers listen on nothing else than their own ports."""

    def start_http_server(self, routes: Any, dashboard_address: Any, default_port: int = 0,
                          ssl_options: Any = None) -> None:
        if dashboard_address is None:
            return
        super().start_http_server(routes, dashboard_address, default_port, ssl_options)  # type: ignore[misc]
