"""Ed25519 signatures of audit records: a rewrite without the signing key is detected.

A hash chain alone proves that nothing was edited in place; someone with write access to the
registry can still rewrite a whole tail consistently (re-hash every record and move the head).
Signing each record's ``sha256`` with a key the registry's writers do not hold closes that gap:
:func:`quality_gates.shared.governance.audit.verify` rejects a record that is unsigned, signed by
a key the verifier does not trust, or whose signature does not match.

Keys (PEM files, e.g. a Kubernetes Secret mounted read-only):

* ``QUALITY_GATES_AUDIT_KEY``: path of the Ed25519 private key the writing process signs with
  (the pipeline's tasks and the approvers' CLI may have different keys).
* ``QUALITY_GATES_AUDIT_PUBLIC_KEYS``: paths of the public keys a verifier trusts, separated by
  ``os.pathsep``. When unset, the public key of ``QUALITY_GATES_AUDIT_KEY`` is trusted.

A key is named by its id: the first 16 hex digits of the sha256 of its raw public bytes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quality_gates.shared.contracts.errors import GateInputError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

KEY_ENV = "QUALITY_GATES_AUDIT_KEY"
PUBLIC_KEYS_ENV = "QUALITY_GATES_AUDIT_PUBLIC_KEYS"


@dataclass(frozen=True)
class Signer:
    """A private key and its id."""

    key_id: str
    key: Ed25519PrivateKey

    def sign(self, digest_hex: str) -> str:
        """Return the base64 signature of a record's ``sha256`` (its hex text, UTF-8)."""
        return base64.b64encode(self.key.sign(digest_hex.encode("ascii"))).decode("ascii")


def key_id(public: Ed25519PublicKey) -> str:
    """Return the id of a public key: 16 hex digits of the sha256 of its raw bytes."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _read_pem(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise GateInputError(
            f"cannot read the audit {what} at {path}: {exc.strerror or exc}; check the path"
        ) from None


def load_signer(path: str | None = None) -> Signer | None:
    """Return the signer of this process, or None when no key is configured.

    Args:
        path: PEM private key file; default ``QUALITY_GATES_AUDIT_KEY``.

    Returns:
        The signer, or None.

    Raises:
        GateInputError: When the file cannot be read or is not an Ed25519 private key.
    """
    path = path or os.environ.get(KEY_ENV, "").strip() or None
    if not path:
        return None
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = _read_pem(path, "signing key")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise GateInputError(
            f"the audit signing key at {path} is not an unencrypted Ed25519 private key (PEM); "
            "create one with `quality-gates audit keygen`"
        )
    return Signer(key_id=key_id(key.public_key()), key=key)


def trusted_keys(paths: list[str] | None = None) -> dict[str, Ed25519PublicKey]:
    """Return the public keys a verifier trusts, by key id (empty when none is configured).

    Args:
        paths: PEM public key files; default ``QUALITY_GATES_AUDIT_PUBLIC_KEYS``, else the public
            half of ``QUALITY_GATES_AUDIT_KEY``.

    Returns:
        Key id to public key.

    Raises:
        GateInputError: When a file cannot be read or is not an Ed25519 public key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if paths is None:
        env = os.environ.get(PUBLIC_KEYS_ENV, "").strip()
        paths = [p for p in env.split(os.pathsep) if p.strip()] if env else []
    if not paths:
        signer = load_signer()
        return {signer.key_id: signer.key.public_key()} if signer else {}
    out: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        pem = _read_pem(path, "public key")
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            key = None
        if not isinstance(key, Ed25519PublicKey):
            raise GateInputError(
                f"the audit public key at {path} is not an Ed25519 public key (PEM); use the "
                "audit-public.pem that `quality-gates audit keygen` wrote"
            )
        out[key_id(key)] = key
    return out


def check_signature(record: dict[str, Any], trusted: dict[str, Ed25519PublicKey]) -> str | None:
    """Return why a record's signature is not acceptable, or None when it is.

    Args:
        record: A sealed audit record (its ``sha256`` already checked by the caller).
        trusted: Key id to public key.

    Returns:
        A short reason (unsigned, unknown key, bad signature), or None.
    """
    from cryptography.exceptions import InvalidSignature

    kid, signature = record.get("key_id"), record.get("signature")
    if not kid or not signature:
        return "unsigned"
    key = trusted.get(str(kid))
    if key is None:
        return f"signed by key {kid}, which is not trusted"
    try:
        key.verify(base64.b64decode(str(signature), validate=True), str(record["sha256"]).encode())
    except (InvalidSignature, ValueError):
        return f"signature does not match (key {kid})"
    return None


def generate(folder: str | Path) -> tuple[Path, Path, str]:
    """Write a new Ed25519 key pair: ``audit-key.pem`` (mode 0600) and ``audit-public.pem``.

    Args:
        folder: Where to write them (created when missing); existing files are not overwritten.

    Returns:
        ``(private path, public path, key id)``.

    Raises:
        GateInputError: When a key file already exists there.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    private, public = out / "audit-key.pem", out / "audit-public.pem"
    for path in (private, public):
        if path.exists():
            raise GateInputError(f"{path} already exists; keys are never overwritten")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public, key_id(key.public_key())
