"""A private CA made for a test, with certificates it signs."""

from __future__ import annotations

import datetime
import ipaddress
import os


def _certificate(subject, issuer, key, signing_key, *, ca: bool,
                 client: bool = False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(
                   NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(
                   NameOID.COMMON_NAME, issuer)]))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                              critical=True)
               # key identifiers and the CA's key usage: Python 3.13
               # verifies strictly (VERIFY_X509_STRICT)
               .add_extension(
                   x509.SubjectKeyIdentifier.from_public_key(
                       key.public_key()), critical=False)
               .add_extension(
                   x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       signing_key.public_key()), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False,
            key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    elif client:
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
            critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _write(path: str, data: bytes) -> str:
    with open(path, 'wb') as f:
        f.write(data)
    return path


def write_private_ca(directory: str, *, clients: int = 0,
                     name: str = 'ntcli test CA') -> list[str]:
    """A CA and a certificate for 127.0.0.1 signed by it; return the paths
    of the CA certificate and of the server's certificate and key, then of
    the certificate and key of each of ``clients`` client certificates."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = serialization.Encoding.PEM

    def key_pem(key) -> bytes:
        return key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(name, name, ca_key, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate('127.0.0.1', name, key, ca_key, ca=False)
    paths = [_write(os.path.join(directory, 'ca.pem'),
                    ca_cert.public_bytes(pem)),
             _write(os.path.join(directory, 'server.pem'),
                    cert.public_bytes(pem)),
             _write(os.path.join(directory, 'server.key'), key_pem(key))]
    for n in range(clients):
        client_key = ec.generate_private_key(ec.SECP256R1())
        client = _certificate(f'client {n}', name, client_key, ca_key,
                              ca=False, client=True)
        paths += [_write(os.path.join(directory, f'client-{n}.pem'),
                         client.public_bytes(pem)),
                  _write(os.path.join(directory, f'client-{n}.key'),
                         key_pem(client_key))]
    return paths
