"""A CA of the user's own, a broker certificate and a client certificate it signed, made by
the tests.

By default the CA is made as OpenSSL's strict verification wants it (Python 3.13 and later
verify so): key usage, and key identifiers linking each certificate to its issuer. `strict=
False` makes one as many home CAs were made, without them.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def certificate(subject: str, key: Key, issuer: x509.Name, signer: Key, *, ca: bool,
                strict: bool = True, alt_name: x509.GeneralName | None = None,
                client: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(name(subject)).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if alt_name is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([alt_name]), critical=False)
    if strict:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False)
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=not ca, key_cert_sign=ca, crl_sign=ca, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        if not ca:
            builder = builder.add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
                critical=False)
    return builder.sign(signer, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def pem_key(key: Key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def home_ca(folder: Path, *, strict: bool = True, server_name: str = "127.0.0.1"
            ) -> dict[str, Path]:
    """A CA of the user's own, a broker certificate for `server_name` and a client
    certificate it signed, as PEM files: ca, cert, key, client_cert, client_key."""
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1())
                                      for _ in range(3))
    ca_name = name("Home CA")
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(server_name))
    except ValueError:
        alt = x509.DNSName(server_name)
    files = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "key.pem",
             "client_cert": folder / "client.pem", "client_key": folder / "client-key.pem"}
    files["ca"].write_bytes(pem(certificate("Home CA", ca_key, ca_name, ca_key, ca=True,
                                            strict=strict)))
    files["cert"].write_bytes(pem(certificate("broker", server_key, ca_name, ca_key, ca=False,
                                              strict=strict, alt_name=alt)))
    files["key"].write_bytes(pem_key(server_key))
    files["client_cert"].write_bytes(pem(certificate(
        "sensorbot", client_key, ca_name, ca_key, ca=False, strict=strict, client=True)))
    files["client_key"].write_bytes(pem_key(client_key))
    return files
