"""The Dask cluster's doors, without starting one: certificates, the executor keys of the config,
where processes listen, the warning for an open cluster (test_dask.py runs a real TLS cluster)."""

from __future__ import annotations

import dataclasses
import logging
import ssl
import stat
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="the [dask] extra is not installed")
x509 = pytest.importorskip("cryptography.x509", reason="the [dask] extra is not installed")

from cryptography.x509.oid import ExtendedKeyUsageOID  # noqa: E402

from daemon.cli import main  # noqa: E402
from daemon.config import TlsFiles, load_config  # noqa: E402
from daemon.errors import ConfigError  # noqa: E402
from daemon.synth.dask_security import address_towards, cluster_security, listen_on, warn_if_unencrypted  # noqa: E402

PAIRS = ("ca", "scheduler", "pc-study", "pc-den")


def _certs(folder: Path, *names: str) -> int:
    return main(["cluster-certs", "--dir", str(folder), "--address", "tls://nas.lan:8786", *names])


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


# --------------------------------------------------------------------------- kokoro-inbox cluster-certs

def test_cluster_certs_makes_a_ca_and_a_certificate_per_machine_with_private_keys(tmp_path, capsys):
    assert _certs(tmp_path / "cluster", "pc-study", "pc-den") == 0
    out = capsys.readouterr().out
    folder = tmp_path / "cluster"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}{s}" for n in PAIRS for s in (".pem", "-key.pem"))
    for name in PAIRS:
        assert stat.S_IMODE((folder / f"{name}-key.pem").stat().st_mode) == 0o600, name
        assert not stat.S_IMODE((folder / f"{name}.pem").stat().st_mode) & 0o022, name
    ca = _load(folder / "ca.pem")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for name in PAIRS[1:]:
        member = _load(folder / f"{name}.pem")
        member.verify_directly_issued_by(ca)
        uses = member.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert set(uses) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}, "Dask serves and connects"
        assert not member.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # every pair loads into a TLS context as Python's ssl (and so Dask) will use it
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(folder / "ca.pem"))
    context.load_cert_chain(folder / "pc-study.pem", folder / "pc-study-key.pem")
    # what to copy where, and which keys to set
    assert "scp ca.pem pc-study.pem pc-study-key.pem root@pc-study:/etc/kokoro-inbox/cluster/" in out
    assert "    address: tls://nas.lan:8786" in out
    assert (f"    tls: {{ca: /etc/kokoro-inbox/cluster/ca.pem, cert: /etc/kokoro-inbox/cluster/pc-den.pem, "
            f"key: /etc/kokoro-inbox/cluster/pc-den-key.pem}}") in out
    assert f"cert: {folder}/scheduler.pem, key: {folder}/scheduler-key.pem" in out


def test_cluster_certs_never_overwrites_and_adds_new_machines(tmp_path, capsys):
    folder = tmp_path / "cluster"
    _certs(folder, "pc-study")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert _certs(folder, "pc-study", "pc-den") == 0
    out = capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before} == before
    assert "pc-study.pem, pc-study-key.pem: kept" in out and "pc-den.pem, pc-den-key.pem: made" in out
    _load(folder / "pc-den.pem").verify_directly_issued_by(_load(folder / "ca.pem"))  # the same CA signs


def test_cluster_certs_refuses_half_pairs_a_ca_without_its_key_and_odd_names(tmp_path, capsys):
    folder = tmp_path / "cluster"
    _certs(folder, "pc-study")
    (folder / "pc-study.pem").unlink()
    assert _certs(folder, "pc-study") == 2
    assert "pc-study-key.pem is there but pc-study.pem is not" in capsys.readouterr().err
    assert not (folder / "pc-study.pem").exists(), "nothing made over a half pair"

    copy = tmp_path / "copied"  # the CA's certificate alone, as copied to a worker
    copy.mkdir()
    (copy / "ca.pem").write_bytes((folder / "ca.pem").read_bytes())
    assert _certs(copy, "pc-den") == 2
    assert "ca-key.pem is not here, so no new certificate can be signed" in capsys.readouterr().err

    for name, why in (("ca", "is taken"), ("scheduler", "is taken"), ("../etc", "is not a machine name"),
                      (".hidden", "is not a machine name"), ("a b", "is not a machine name")):
        assert _certs(folder, name) == 2, name
        assert why in capsys.readouterr().err, name


# --------------------------------------------------------------------------- the executor keys

def test_a_tls_address_needs_the_three_files_and_certificates_need_a_tls_address(tmp_path):
    def config(**keys: object):
        return load_config(None, {f"executor.{k}": v for k, v in keys.items()}, environ={})

    files = {"ca": "ca.pem", "cert": "pc.pem", "key": "pc-key.pem"}
    with pytest.raises(ConfigError, match=r"executor.address: tls://nas:8786 needs executor.tls"):
        config(address="tls://nas")
    with pytest.raises(ConfigError, match=r"executor.tls: key missing; give ca, cert and key together"):
        config(address="tls://nas", tls={"ca": "ca.pem", "cert": "pc.pem"})
    with pytest.raises(ConfigError, match=r"executor.tls.crt: unknown key"):
        config(address="tls://nas", tls={**files, "crt": "x"})
    with pytest.raises(ConfigError, match=r"tcp://nas:8786 is unencrypted, but executor.tls gives "
                                          r"certificates; write tls://nas:8786"):
        config(address="tcp://nas", tls=files)
    assert config(address="tcp://127.0.0.1:8786").executor_tls is None
    assert config(tls={"ca": None, "cert": None, "key": None}).executor_tls is None

    path = tmp_path / "etc" / "config.yaml"  # relative to the config file's folder
    path.parent.mkdir()
    path.write_text("executor:\n  address: tls://nas.lan:8786\n  interface: eth1\n"
                    "  tls: {ca: cluster/ca.pem, cert: cluster/pc.pem, key: /keys/pc-key.pem}\n")
    loaded = load_config(path, environ={})
    assert loaded.executor_tls == TlsFiles(path.parent / "cluster/ca.pem", path.parent / "cluster/pc.pem",
                                           Path("/keys/pc-key.pem"))
    assert loaded.executor_interface == "eth1"
    environ = {"KOKORO_INBOX_EXECUTOR_INTERFACE": "192.168.1.5", "KOKORO_INBOX_EXECUTOR_ADDRESS": "tcp://h"}
    assert load_config(None, environ=environ).executor_interface == "192.168.1.5"


def test_the_certificate_files_are_read_at_start_up_and_must_belong_together(tmp_path):
    folder = tmp_path / "cluster"
    main(["cluster-certs", "--dir", str(folder), "pc-study"])

    def security(cert: str, key: str):
        files = TlsFiles(folder / "ca.pem", folder / cert, folder / key)
        return cluster_security(dataclasses.replace(load_config(None, environ={}), executor_tls=files))

    good = security("pc-study.pem", "pc-study-key.pem")
    assert good.require_encryption and good.tls_min_version == ssl.TLSVersion.TLSv1_3
    assert good.tls_client_cert == good.tls_worker_cert == good.tls_scheduler_cert == str(folder / "pc-study.pem")
    with pytest.raises(ConfigError, match=r"executor.tls.key: cannot read .*gone-key.pem \(No such file"):
        security("pc-study.pem", "gone-key.pem")
    with pytest.raises(ConfigError, match=r"are not a certificate, its key and the cluster's CA"):
        security("pc-study.pem", "scheduler-key.pem")


# --------------------------------------------------------------------------- where, and the warning

def test_workers_listen_where_the_interface_says_else_on_the_way_to_the_scheduler():
    assert listen_on(None) == {}
    assert listen_on("lo") == {"interface": "lo"}
    assert listen_on("192.168.1.5") == {"host": "192.168.1.5"}
    assert address_towards("tls://127.0.0.1:8786") == "127.0.0.1"  # a UDP route lookup: nothing is sent


def test_an_unencrypted_cluster_beyond_this_machine_is_warned_about_once(caplog):
    with caplog.at_level(logging.WARNING, logger="daemon.synth.dask_security"):
        for address in ("tcp://127.0.0.1:8786", "tcp://localhost:8786", "tcp://[::1]:8786", "tls://nas.lan:8786"):
            warn_if_unencrypted(address)
        assert not caplog.records
        warn_if_unencrypted("tcp://nas.lan:8786")
    [record] = caplog.records
    assert "tcp://nas.lan:8786 is not encrypted: anyone who can reach that port can run programs" in record.message
    assert "kokoro-inbox cluster-certs" in record.message
