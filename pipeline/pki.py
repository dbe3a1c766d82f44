"""Headwater's certificate authorities, kept in the data dir.

A root CA issues the MQTTS server certificate (clients trust ``<data-dir>/ca.pem``);
each realm has its own CA that signs its devices' CSRs, whose common name must be
``<realm>/<device_id>``. Keys are EC P-256, as the Astarte SDKs use.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pipeline.errors import ValidationError

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=825)
DEVICE_VALIDITY = dt.timedelta(days=365)


def realm_ca_name(realm: str) -> str:
    """The common name of a realm's CA: device certificates must be issued by it."""
    return f"Headwater realm {realm} CA"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class Authority:
    """One CA: its certificate and key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def name(self) -> str:
        return str(self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    @classmethod
    def load_or_create(cls, folder: Path, common_name: str) -> Authority:
        """The CA in ``folder``, created there (key mode 0600) when missing."""
        cert_path, key_path = folder / "ca.crt", folder / "ca.key"
        if cert_path.exists() and key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return cls(x509.load_pem_x509_certificate(cert_path.read_bytes()), key)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Headwater"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        now = _now()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return cls(certificate, key)

    def issue_server(self, hosts: list[str]) -> tuple[bytes, bytes]:
        """A server certificate for ``hosts`` (names or IP addresses): ``(cert_pem, key_pem)``."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in dict.fromkeys(hosts):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        certificate = self._leaf(
            key.public_key(),
            hosts[0],
            SERVER_VALIDITY,
            ExtendedKeyUsageOID.SERVER_AUTH,
            x509.SubjectAlternativeName(names),
        )
        return certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key)

    def sign_csr(self, csr_pem: str, common_name: str) -> str:
        """A client certificate for a CSR whose common name must be ``common_name``."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError as exc:
            raise ValidationError(f"csr: not a PEM certificate signing request ({exc})") from exc
        if not csr.is_signature_valid:
            raise ValidationError("csr: its signature does not match its key")
        names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if [str(n.value) for n in names] != [common_name]:
            raise ValidationError(f"csr: the common name must be {common_name!r}")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise ValidationError("csr: the key must be EC or RSA")
        certificate = self._leaf(public_key, common_name, DEVICE_VALIDITY, ExtendedKeyUsageOID.CLIENT_AUTH)
        return certificate.public_bytes(serialization.Encoding.PEM).decode()

    def verify(self, cert_pem: str, common_name: str) -> tuple[bool, dt.datetime | None, str | None]:
        """Whether a certificate is one this CA issued for ``common_name`` and still valid."""
        try:
            certificate = x509.load_pem_x509_certificate(cert_pem.encode())
        except ValueError:
            return False, None, "INVALID_CERTIFICATE"
        until = certificate.not_valid_after_utc
        try:
            self.key.public_key().verify(
                certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256())
            )
        except InvalidSignature:
            return False, until, "INVALID_ISSUER"
        names = [str(n.value) for n in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if names != [common_name]:
            return False, until, "INVALID_COMMON_NAME"
        now = _now()
        if not certificate.not_valid_before_utc <= now <= until:
            return False, until, "EXPIRED"
        return True, until, None

    def _leaf(
        self,
        public_key: object,
        common_name: str,
        validity: dt.timedelta,
        usage: x509.ObjectIdentifier,
        *extra: x509.ExtensionType,
    ) -> x509.Certificate:
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        for extension in extra:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(self.key, hashes.SHA256())


class Pki:
    """The data dir's CAs: ``pki/root`` and ``pki/realms/<realm>``; ``ca.pem`` is the root's certificate."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.folder = data_dir / "pki"

    def root(self) -> Authority:
        authority = Authority.load_or_create(self.folder / "root", "Headwater root CA")
        bundle = self.data_dir / "ca.pem"
        if not bundle.exists():
            bundle.write_text(authority.pem)
        return authority

    def realm(self, realm: str) -> Authority:
        return Authority.load_or_create(self.folder / "realms" / realm, realm_ca_name(realm))

    def realm_certificates(self) -> dict[str, str]:
        """Every realm CA certificate that exists, by realm."""
        folder = self.folder / "realms"
        if not folder.exists():
            return {}
        return {path.parent.name: path.read_text() for path in sorted(folder.glob("*/ca.crt"))}

    def server_files(self, hosts: list[str]) -> tuple[Path, Path]:
        """The MQTTS server certificate and key files, issued for ``hosts`` when missing or different."""
        cert_path, key_path = self.folder / "server.crt", self.folder / "server.key"
        wanted = sorted(dict.fromkeys(hosts))
        if cert_path.exists() and key_path.exists():
            current = x509.load_pem_x509_certificate(cert_path.read_bytes())
            san = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            present = sorted(
                [str(n) for n in san.get_values_for_type(x509.DNSName)]
                + [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
            )
            if present == wanted and current.not_valid_after_utc > _now() + dt.timedelta(days=30):
                return cert_path, key_path
        cert_pem, key_pem = self.root().issue_server(hosts)
        _write_private(key_path, key_pem)
        cert_path.write_bytes(cert_pem)
        return cert_path, key_path
