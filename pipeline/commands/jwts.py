"""``headwater utils gen-keypair`` and ``gen-jwt``: a realm's key pair and Astarte JWTs signed with it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pipeline.api import tokens
from pipeline.commands.common import console, fail

SERVICES = {
    "appengine": "a_aea",
    "realm-management": "a_rma",
    "pairing": "a_pa",
    "housekeeping": "a_ha",
    "channels": "a_ch",
}


def gen_keypair(
    name: Annotated[str, typer.Argument(help="Files are NAME_private.pem and NAME_public.pem.")],
    out_dir: Annotated[Path, typer.Option(help="Where to write them.")] = Path(),
    ec_key: Annotated[bool, typer.Option("--ec", help="An EC P-256 key instead of RSA 2048.")] = False,
) -> None:
    """Make a key pair: give the public key to the realm (jwt_public_key_pem), sign JWTs with the private."""
    key = ec.generate_private_key(ec.SECP256R1()) if ec_key else rsa.generate_private_key(65537, 2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path = out_dir / f"{name}_private.pem"
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    (out_dir / f"{name}_public.pem").write_bytes(public)
    console.print(f"wrote {private_path} and {out_dir / f'{name}_public.pem'}", highlight=False)


def gen_jwt(
    services: Annotated[list[str], typer.Argument(help=f"Any of {', '.join(SERVICES)}, or all.")],
    private_key: Annotated[Path, typer.Option("--private-key", "-k", help="The realm's private key (PEM).")],
    claims: Annotated[
        list[str] | None, typer.Option("--claim", "-c", help="VERB::pathregex grants (default .*::.*).")
    ] = None,
    expiry: Annotated[int, typer.Option(help="Lifetime in seconds (0: none).")] = 28_800,
    subject: Annotated[str | None, typer.Option("--sub", help="The token's subject.")] = None,
) -> None:
    """Print an Astarte JWT granting CLAIMs on the SERVICES, signed with the private key."""
    wanted = list(SERVICES) if services == ["all"] else services
    unknown = [service for service in wanted if service not in SERVICES]
    if unknown:
        raise fail(f"unknown service {', '.join(unknown)}; use {', '.join(SERVICES)} or all")
    try:
        pem = private_key.read_text()
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise fail(f"{private_key}: not a readable unencrypted PEM private key ({exc})") from exc
    body: dict[str, Any] = {SERVICES[service]: claims or [".*::.*"] for service in wanted}
    now = int(time.time())
    body["iat"] = now
    if expiry:
        body["exp"] = now + expiry
    if subject:
        body["sub"] = subject
    algorithm = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    console.print(tokens.make(pem, body, algorithm), highlight=False, soft_wrap=True)
