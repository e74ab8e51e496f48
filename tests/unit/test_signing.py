"""Ed25519 signatures of audit records: signed chains verify, any keyless change does not."""

from __future__ import annotations

import os
import stat

import pytest

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.governance import audit, signing


def _chain(n: int, signer=None) -> list[dict]:
    records, prev = [], audit.GENESIS
    for seq in range(1, n + 1):
        r = audit.make_record(
            seq=seq, prev_sha256=prev, model="m", event="gate_result", details={"i": seq},
            signer=signer,
        )  # fmt: skip
        records.append(r)
        prev = r["sha256"]
    return records


@pytest.fixture
def keys(tmp_path):
    private, public, kid = signing.generate(tmp_path)
    return signing.load_signer(str(private)), signing.trusted_keys([str(public)]), kid, tmp_path


def test_generate_writes_a_private_key_only_its_owner_reads(keys):
    signer, trusted, kid, folder = keys
    mode = stat.S_IMODE(os.stat(folder / "audit-key.pem").st_mode)
    assert mode == 0o600
    assert signer.key_id == kid and list(trusted) == [kid]
    with pytest.raises(GateInputError, match="already exists"):
        signing.generate(folder)


def test_a_signed_chain_verifies_and_an_unsigned_one_does_not(keys):
    signer, trusted, kid, _ = keys
    signed = _chain(3, signer)
    assert all(r["key_id"] == kid and r["signature"] for r in signed)
    assert audit.verify(signed, trusted=trusted) == []
    # The same history re-hashed by someone without the key: a valid chain, no valid signatures.
    forged = _chain(3)
    assert audit.verify(forged) == []
    problems = audit.verify(forged, trusted=trusted)
    assert len(problems) == 3 and all("unsigned" in p for p in problems)


def test_a_signature_moved_edited_or_from_another_key_is_rejected(keys, tmp_path):
    signer, trusted, _, _ = keys
    records = _chain(2, signer)
    swapped = [dict(records[0]), dict(records[1])]
    swapped[0]["signature"], swapped[1]["signature"] = (
        records[1]["signature"],
        records[0]["signature"],
    )
    assert sum("does not match" in p for p in audit.verify(swapped, trusted=trusted)) == 2
    other_private, _, _ = signing.generate(tmp_path / "other")
    stranger = signing.load_signer(str(other_private))
    problems = audit.verify(_chain(1, stranger), trusted=trusted)
    assert problems and "not trusted" in problems[0]
    # The signature is outside the hash: dropping it keeps the hash valid but not the trust.
    bare = [{k: v for k, v in r.items() if k != "signature"} for r in records]
    assert audit.verify(bare) == []
    assert all("unsigned" in p for p in audit.verify(bare, trusted=trusted))


def test_bad_key_files_are_one_line_errors(tmp_path, monkeypatch):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key", encoding="utf-8")
    with pytest.raises(GateInputError, match="not an unencrypted Ed25519 private key"):
        signing.load_signer(str(junk))
    with pytest.raises(GateInputError, match="not an Ed25519 public key"):
        signing.trusted_keys([str(junk)])
    with pytest.raises(GateInputError, match="cannot read the audit signing key"):
        signing.load_signer(str(tmp_path / "missing.pem"))
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    monkeypatch.delenv(signing.PUBLIC_KEYS_ENV, raising=False)
    assert signing.load_signer() is None and signing.trusted_keys() == {}
