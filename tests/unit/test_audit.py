"""The audit log's hash chain: building, verifying and naming what was tampered with."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.governance import audit


def _chain(n: int = 5) -> list[dict]:
    records, prev = [], audit.GENESIS
    for i in range(1, n + 1):
        r = audit.make_record(
            seq=i,
            prev_sha256=prev,
            model="credit-risk",
            event="approval" if i % 2 else "promotion",
            version=str(i),
            actor="alice@example.com",
            details={"comment": f"step {i}", "score": 0.9, "nan": float("nan")},
        )
        records.append(r)
        prev = r["sha256"]
    return records


def _text(records: list[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in records)


def test_record_hash_is_sha256_of_canonical_json_without_the_hash():
    r = _chain(1)[0]
    body = {k: v for k, v in r.items() if k != "sha256"}
    expected = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert r["sha256"] == expected
    assert r["prev_sha256"] == "0" * 64 and r["seq"] == 1
    assert r["details"]["nan"] is None  # JSON has no NaN
    assert set(r) == set(audit.FIELDS)


def test_intact_chain_verifies_and_round_trips_through_jsonl(tmp_path):
    records = _chain()
    assert audit.verify(records) == []
    parsed = audit.parse_jsonl(_text(records))
    assert audit.verify(parsed, head=f"5:{records[-1]['sha256']}") == []
    path = tmp_path / "log.jsonl"
    path.write_text(_text(records))
    assert audit.verify_file(path) == []
    shown = audit.render(parsed)
    assert shown.count("\n") == 4 and "approval" in shown and "alice@example.com" in shown


def test_edited_record_is_named():
    records = _chain()
    records[2] = {**records[2], "actor": "mallory"}
    problems = audit.verify(records)
    assert len(problems) == 1
    assert "record seq 3" in problems[0] and "edited" in problems[0]


def test_edited_and_rehashed_record_breaks_the_next_link():
    records = _chain()
    forged = {**records[2], "actor": "mallory"}
    forged["sha256"] = audit.record_hash(forged)
    records[2] = forged
    problems = audit.verify(records)
    assert len(problems) == 1 and "record seq 4" in problems[0]
    assert "prev_sha256 does not match record seq 3" in problems[0]


def test_one_changed_byte_in_the_file_is_detected(tmp_path):
    text = _text(_chain())
    i = text.index("step 2")
    path = tmp_path / "log.jsonl"
    path.write_text(text[:i] + "stop 2" + text[i + 6 :])
    problems = audit.verify_file(path)
    assert problems and "record seq 2" in problems[0] and "edited" in problems[0]


def test_broken_line_is_reported(tmp_path):
    lines = _text(_chain(3)).splitlines()
    lines[1] = lines[1][:-5]
    problems = audit.verify(audit.parse_jsonl("\n".join(lines)))
    assert any("line 2" in p and "not valid JSON" in p for p in problems)
    assert any("record seq 2 missing" in p for p in problems)


@pytest.mark.parametrize(
    "drop, phrase",
    [
        (2, "record seq 3 missing between seq 2 and 4: removed"),
        (0, "record seq 1 missing before record seq 2"),
    ],
)
def test_removed_record_is_named(drop, phrase):
    records = _chain()
    del records[drop]
    problems = audit.verify(records)
    assert problems == [p for p in problems if phrase in p] and len(problems) == 1, problems


def test_removed_tail_is_caught_by_the_head_only():
    records = _chain()
    head = f"5:{records[-1]['sha256']}"
    assert audit.verify(records[:-1]) == []  # a chain prefix is a valid chain...
    problems = audit.verify(records[:-1], head=head)
    assert problems == [
        "the log ends at seq 4 but its head is seq 5: records after it were removed"
    ]


def test_reordered_records_are_named_once():
    records = _chain()
    records[1], records[2] = records[2], records[1]
    problems = audit.verify(records)
    assert problems == ["record seq 2 comes after record seq 3: records reordered"]


def test_duplicated_record_and_unknown_fields():
    records = _chain(3)
    problems = audit.verify([*records, records[-1]])
    assert any("appears twice" in p for p in problems)
    bad = {**records[0], "extra": 1}
    assert any("unexpected extra" in p for p in audit.verify([bad]))


def test_unknown_event_is_refused_when_building():
    with pytest.raises(GateInputError, match="unknown audit event"):
        audit.make_record(seq=1, prev_sha256=audit.GENESIS, model="m", event="deploy")


def test_mirror_location_and_safe_names():
    assert audit.artifact_path("credit-risk") == "audit/credit-risk.jsonl"
    assert audit.artifact_path("team/model x") == "audit/team_model_x.jsonl"
    assert audit.mirror_location("s3://bucket/audit/", "m") == "s3://bucket/audit/m.jsonl"


def test_verify_file_missing_is_one_line(tmp_path):
    with pytest.raises(GateInputError, match="does not exist"):
        audit.verify_file(tmp_path / "nope.jsonl")


def test_tag_lease_gives_exactly_one_holder_at_a_time():
    """The lease over a last-writer-wins store (a dict here, an MLflow tag in production)."""
    store: dict[str, str] = {}
    lock = threading.Lock()  # the store itself is atomic per operation, like a tag write
    inside, max_inside, order = [0], [0], []

    def get():
        with lock:
            return store.get("t")

    def put(v):
        with lock:
            store["t"] = v

    def drop():
        with lock:
            store.pop("t", None)

    def worker(i):
        with audit.tag_lease(get=get, put=put, drop=drop, what="x", owner=f"w{i}", settle_s=0.05):
            inside[0] += 1
            max_inside[0] = max(max_inside[0], inside[0])
            order.append(i)
            inside[0] -= 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max_inside[0] == 1 and sorted(order) == list(range(6)) and "t" not in store


def test_tag_lease_held_too_long_is_a_one_line_refusal_and_stale_one_is_taken_over():
    import time

    store = {"t": f"bob|abc|{time.time():.3f}"}
    kw = dict(get=lambda: store.get("t"), put=lambda v: store.update(t=v), settle_s=0.0)
    with pytest.raises(GateInputError, match="is busy: bob holds its lock"):
        with audit.tag_lease(drop=lambda: None, what="the log", owner="me", wait_s=0.1, **kw):
            pass
    store["t"] = f"bob|abc|{time.time() - 3600:.3f}"
    with audit.tag_lease(drop=lambda: store.pop("t"), what="the log", owner="me", **kw) as token:
        assert store["t"] == token and token.startswith("me|")
    assert "t" not in store
