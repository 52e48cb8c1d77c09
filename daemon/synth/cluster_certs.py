"""The Dask cluster's certificates: ``kokoro-inbox cluster-certs [NAME ...]``.

Every machine of a cluster with TLS proves itself with a certificate signed by the
cluster's own certificate authority (CA), and accepts only certificates signed by
it: mutual TLS, in which distributed checks the signature, not host names
(dask_security.py).  This makes, in one folder, the CA once, a certificate for the
machine it runs on (``scheduler``: the scheduler and the daemon beside it), and one
for each name given (a worker's machine, or a daemon elsewhere).  Nothing there is
ever overwritten: run again, it makes only what is missing, so new workers are
added by naming them.

ECDSA P-256 keys and SHA-256 signatures (small, fast, and what every OpenSSL a
worker might run accepts); certificates valid VALID_DAYS from a day back (machines'
clocks differ), usable to serve and to connect (every Dask process does both).
Private keys are written with mode 0600, created exclusively.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from daemon.errors import InvalidSetting

CA = "ca"
THIS_MACHINE = "scheduler"
VALID_DAYS = 3650
CLOCK_SKEW = datetime.timedelta(days=1)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
KEY_MODE, CERT_MODE = 0o600, 0o644


@dataclass(frozen=True)
class Member:
    """A certificate and its private key in the folder; ``made`` is False when they were kept."""

    name: str
    cert: Path
    key: Path
    made: bool
    expires: datetime.date


def make_cluster_certs(folder: Path, names: Sequence[str]) -> list[Member]:
    """The CA, this machine's certificate and one for each of ``names``, each made where missing and
    kept where present; the CA first, then this machine, then ``names`` in order."""
    wanted = [THIS_MACHINE, *_check_names(names)]
    folder.mkdir(parents=True, exist_ok=True)
    present = {name: _present(folder, name) for name in wanted}
    ca = _present(folder, CA) or _make_ca(folder)
    members = [ca]
    if any(member is None for member in present.values()):
        signer = _signer(ca)
        members += [present[name] or _make_member(folder, name, *signer) for name in wanted]
    else:
        members += [member for member in present.values() if member is not None]
    return members


def _check_names(names: Sequence[str]) -> list[str]:
    for name in names:
        if not NAME.fullmatch(name):
            raise InvalidSetting(f"{name[:70]!r} is not a machine name for a certificate: use letters, "
                                 "digits, '.', '-' and '_' (at most 63), e.g. pc-study")
        if name in (CA, THIS_MACHINE):
            raise InvalidSetting(f"{name!r} is taken (the cluster's CA, and this machine's own "
                                 "certificate); name the worker's machine instead")
    return list(dict.fromkeys(names))


def _paths(folder: Path, name: str) -> tuple[Path, Path]:
    return folder / f"{name}.pem", folder / f"{name}-key.pem"


def _present(folder: Path, name: str) -> Member | None:
    """The pair already in the folder, or None when neither file is; half a pair is refused (the CA's
    certificate alone is a CA that signs nothing here: a copy from the machine that made it)."""
    cert, key = _paths(folder, name)
    if cert.exists() and (key.exists() or name == CA):
        loaded = x509.load_pem_x509_certificate(cert.read_bytes())
        return Member(name, cert, key, False, loaded.not_valid_after_utc.date())
    if cert.exists() or key.exists():
        there, gone = (cert, key) if cert.exists() else (key, cert)
        raise InvalidSetting(f"{there} is there but {gone.name} is not; move {there.name} away to "
                             f"make {name} anew (nothing here is overwritten)")
    return None


def _signer(ca: Member) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    if not ca.key.exists():
        raise InvalidSetting(f"{ca.key} is not here, so no new certificate can be signed: run this "
                             "where the cluster's CA was made")
    certificate = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidSetting(f"{ca.key} is not a key that 'kokoro-inbox cluster-certs' made")
    return certificate, key


def _make_ca(folder: Path) -> Member:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kokoro Inbox cluster CA")])
    certificate = (
        _builder(subject, subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _write_pair(folder, CA, certificate, key)


def _make_member(folder: Path, name: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> Member:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_id = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        _builder(subject, ca.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_id), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _write_pair(folder, name, certificate, key)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _write_pair(folder: Path, name: str, certificate: x509.Certificate,
                key: ec.EllipticCurvePrivateKey) -> Member:
    cert_path, key_path = _paths(folder, name)
    _write_new(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()), KEY_MODE)
    _write_new(cert_path, certificate.public_bytes(serialization.Encoding.PEM), CERT_MODE)
    return Member(name, cert_path, key_path, True, certificate.not_valid_after_utc.date())


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (a key is never readable by others, not even for
    an instant), and never over an existing file."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def instructions(members: Sequence[Member], address: str) -> str:
    """What was made, and what to copy to each machine and which config keys to set there."""
    ca, here, others = members[0], members[1], members[2:]
    lines = [f"The cluster's certificates, in {ca.cert.parent}:"]
    for member in members:
        what = {CA: "the cluster's certificate authority: every machine needs ca.pem",
                THIS_MACHINE: "this machine: the scheduler, and the daemon beside it"}.get(member.name, "")
        done = "made" if member.made else "kept (there already; never overwritten)"
        files = f"{member.cert.name}, {member.key.name}" if member.key.exists() else member.cert.name
        lines.append(f"  {files}: {done}; valid until {member.expires}"
                     + (f"; {what}" if what else ""))
    lines += ["", f"Keep {ca.key.name} on this machine only, readable by you alone (it signs new members; "
              "'kokoro-inbox cluster-certs NAME' here adds one).", "",
              "On this machine, in the config of the daemon and of 'kokoro-inbox scheduler':",
              *_config_lines(address, ca.cert, here.cert, here.key),
              f"  and let their user read the key: chown kokoro-inbox: {here.key}"]
    for member in others:
        remote = Path("/etc/kokoro-inbox/cluster")
        files = f"{ca.cert.name} {member.cert.name} {member.key.name}"
        lines += ["", f"On {member.name}: copy {files} into {remote}/, the key readable by the worker's "
                  "user alone:",
                  f"  cd {ca.cert.parent} && scp {files} root@{member.name}:{remote}/",
                  f"  ssh root@{member.name} 'chown kokoro-inbox: {remote / member.key.name} && "
                  f"chmod 600 {remote / member.key.name}'",
                  "and in its worker config (/etc/kokoro-inbox/worker.yaml):",
                  *_config_lines(address, remote / ca.cert.name, remote / member.cert.name,
                                 remote / member.key.name)]
    lines += ["", "A certificate lets its machine run programs on every other: give one only to a machine "
              "you trust as much as this one."]
    return "\n".join(lines)


def _config_lines(address: str, ca: Path, cert: Path, key: Path) -> list[str]:
    return ["  executor:", f"    address: {address}", f"    tls: {{ca: {ca}, cert: {cert}, key: {key}}}"]
