"""The cluster's own certificate authority and the etcd peer certificates it signs.

``cluster init`` makes one CA per cluster (EC P-256, 10 years) and, for every manager, a peer
certificate (EC P-256, 2 years, server + client use, the manager's address as IP or DNS subject
alternative name). etcd's peers accept each other only with a certificate from that CA
(``--peer-client-cert-auth``). As in swarm mode, the CA key lives on the managers
(``/etc/stackctl/pki/ca.key``, 0600), so that ``cluster init`` can run again from any machine.

Keys travel as PEM bytes in memory and over SSH standard input; nothing here prints or logs them.
The clock comes in as an argument (``now``).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stackctl.errors import ClusterError

CA_DAYS = 3650
PEER_DAYS = 730
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Pem:
    """A certificate and its private key, PEM-encoded (the key is secret: never print it)."""

    cert: bytes
    key: bytes

    def __repr__(self) -> str:  # keep the key out of tracebacks and debug output
        return f"Pem(cert={len(self.cert)} bytes, key=<secret>)"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stackctl"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(cluster: str, *, now: datetime.datetime) -> Pem:
    """A new self-signed CA for ``cluster``."""
    key = _key()
    name = _name(f"stackctl cluster CA {cluster}")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Pem(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _subject_alt_names(address: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(address)))
    except ValueError:
        names.append(x509.DNSName(address))
    return names


def issue_peer(ca: Pem, *, node: str, address: str, now: datetime.datetime) -> Pem:
    """A peer certificate for the manager ``node`` reachable at ``address``, signed by ``ca``."""
    ca_cert, ca_key = load_ca(ca)
    key = _key()
    cert = (x509.CertificateBuilder().subject_name(_name(node)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=PEER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(_subject_alt_names(address)), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return Pem(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def load_ca(ca: Pem) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(ca.cert)
        key = serialization.load_pem_private_key(ca.key, password=None)
    except ValueError as exc:
        raise ClusterError(f"the cluster CA on the managers is unreadable ({type(exc).__name__})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise ClusterError("the cluster CA on the managers does not match its key")
    return cert, key


def ca_usable(ca: Pem, *, now: datetime.datetime) -> bool:
    """A CA read back from a manager: parses, matches its key, valid well beyond ``now``."""
    try:
        cert, _ = load_ca(ca)
    except ClusterError:
        return False
    return cert.not_valid_after_utc > now + RENEW_BEFORE


def peer_cert_valid(cert_pem: bytes | None, ca_cert_pem: bytes, *, address: str,
                    now: datetime.datetime) -> bool:
    """Whether a manager's existing peer certificate can stay: signed by this CA, names ``address``,
    not close to expiry. Anything else (absent, unreadable, another CA) means: issue a new one."""
    if not cert_pem:
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        ca = x509.load_pem_x509_certificate(ca_cert_pem)
        cert.verify_directly_issued_by(ca)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    wanted = _subject_alt_names(address)[1]
    return wanted in list(sans) and cert.not_valid_after_utc > now + RENEW_BEFORE


def make_ssh_key(comment: str) -> tuple[bytes, str]:
    """A new ed25519 SSH key: (private key in OpenSSH format, ``authorized_keys`` line)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}"


def ssh_public_line(private: bytes, comment: str) -> str | None:
    """The ``authorized_keys`` line of an existing OpenSSH private key (None when it is unreadable)."""
    try:
        key = serialization.load_ssh_private_key(private, password=None)
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH)
    except (ValueError, TypeError):
        return None
    return f"{public.decode()} {comment}"
