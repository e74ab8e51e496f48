"""A tamper-evident audit log per registered model: JSON records in a sha256 hash chain.

Every decision about a model (gate results, aggregation, promotion, approval requests,
approvals, rejections, waiver use, rollbacks, timeouts) is one JSON record::

    {"seq": 3, "ts": "...Z", "event": "approval", "model": "credit-risk", "version": "2",
     "actor": "risk-officer@example.com", "details": {...},
     "prev_sha256": "<sha256 of record 2>", "sha256": "<sha256 of this record>"}

``sha256`` is the hex sha256 of the record's canonical JSON without the ``sha256`` field
(:func:`canonical`: sorted keys, ``(",", ":")`` separators, UTF-8, no NaN) and ``prev_sha256``
is the ``sha256`` of the record before it (``"0" * 64`` for the first). Changing any byte of a
record breaks its own hash; removing or reordering records breaks the sequence numbers or the
chain; :func:`verify` names the record.

Storage: the log is the JSON Lines artifact ``audit/<model>.jsonl`` of one MLflow run per
registered model in experiment ``quality-gates-audit`` (found by the run tag
``quality_gates.audit_model``), and optionally a mirror file ``<mirror>/<model>.jsonl`` (a local
folder or an fsspec URI such as ``s3://bucket/audit``). The run tag ``quality_gates.audit_head``
holds ``<seq>:<sha256>`` of the last record, so that dropping records from the end (which leaves
a valid chain) is detected too.

Limits, stated plainly:

* Appending is read-modify-write of one artifact (artifact stores have no conditional write).
  Writers using this module serialise through a lease held in the run tag
  ``quality_gates.audit_lock`` (write a token, wait :data:`SETTLE_S`, read it back: the last
  writer wins the lease) and check after writing that their record is the new tail with the
  expected predecessor. A writer that stalls for longer than :data:`STALE_S` while holding the
  lease, or one that bypasses this module, can still overwrite a concurrent record.
* A hash chain proves integrity against editing, not against someone who rewrites the whole
  tail, re-hashes it and also moves the head tag and the mirror. Put the mirror on storage the
  writers of the MLflow server cannot rewrite (an object-locked bucket) to close that gap.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quality_gates.shared.contracts.errors import GateInputError, one_line
from quality_gates.shared.contracts.results import utc_now
from quality_gates.shared.governance.signing import Signer, check_signature, load_signer
from quality_gates.shared.tracking.client import (
    TAG_PREFIX,
    connect,
    ensure_experiment,
    ensure_reachable,
    mlflow_call,
    resolve_tracking_uri,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mlflow import MlflowClient

EXPERIMENT = "quality-gates-audit"
MODEL_TAG = f"{TAG_PREFIX}audit_model"
HEAD_TAG = f"{TAG_PREFIX}audit_head"
LOCK_TAG = f"{TAG_PREFIX}audit_lock"
GENESIS = "0" * 64
EVENTS = (
    "gate_result",
    "aggregation",
    "promotion",
    "approval_requested",
    "approval",
    "rejection",
    "waiver_used",
    "waiver_refused",
    "revocation",
    "adoption",
    "rollback",
    "timeout",
    "canary_promotion",
    "canary_rollback",
    "canary_hold",
)
FIELDS = (
    "seq",
    "ts",
    "event",
    "model",
    "version",
    "actor",
    "details",
    "prev_sha256",
    "sha256",
)
# Present on signed records only (signing.py): the signing key's id (hashed with the record) and
# the Ed25519 signature of ``sha256`` (outside the hash, since it signs it).
SIGNATURE_FIELDS = ("key_id", "signature")
# Lease timing: a writer waits SETTLE_S after writing its token before reading it back, so that
# every writer that read "free" before has written by then; a lease older than STALE_S is taken
# over (its holder crashed).
SETTLE_S = 0.25
STALE_S = 60.0
WAIT_S = 60.0
_APPEND_ATTEMPTS = 3
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Run ids per (tracking URI, model): the audit run never changes once found.
_RUNS: dict[tuple[str, str], str] = {}


# --------------------------------------------------------------------------------------------
# Records and the chain
# --------------------------------------------------------------------------------------------


def canonical(record: dict[str, Any]) -> bytes:
    """Return the canonical JSON bytes of a record without its ``sha256`` and ``signature``.

    Args:
        record: An audit record.

    Returns:
        UTF-8 JSON with sorted keys and no whitespace; what ``sha256`` is computed over.
    """
    body = {k: v for k, v in record.items() if k not in ("sha256", "signature")}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def record_hash(record: dict[str, Any]) -> str:
    """Return the hex sha256 of :func:`canonical` of a record."""
    return hashlib.sha256(canonical(record)).hexdigest()


def _jsonable(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become null, unknown objects their ``str``."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def make_record(
    *,
    seq: int,
    prev_sha256: str,
    model: str,
    event: str,
    version: str | None = None,
    actor: str | None = None,
    details: dict[str, Any] | None = None,
    ts: str | None = None,
    signer: Signer | None = None,
) -> dict[str, Any]:
    """Build a sealed record (``sha256`` filled in, and signed when a signer is given).

    Args:
        seq: Position in the log, from 1.
        prev_sha256: ``sha256`` of the record before, or :data:`GENESIS` for the first.
        model: Registered model name.
        event: One of :data:`EVENTS`.
        version: Model version the event is about, if any.
        actor: Identity that caused the event, if known.
        details: Event-specific data (JSON-serialisable; other objects are stored as text).
        ts: UTC timestamp; now by default.
        signer: Signs the record's ``sha256`` (adds ``key_id`` and ``signature``).

    Returns:
        The record.

    Raises:
        GateInputError: For an unknown event or an empty model name.
    """
    if event not in EVENTS:
        raise GateInputError(f"unknown audit event '{event}'; use one of {', '.join(EVENTS)}")
    if not model or not str(model).strip():
        raise GateInputError("no model name given for the audit record; pass model")
    record: dict[str, Any] = {
        "seq": int(seq),
        "ts": ts or utc_now(),
        "event": event,
        "model": str(model),
        "version": None if version is None else str(version),
        "actor": None if actor is None else str(actor),
        "details": _jsonable(details or {}),
        "prev_sha256": prev_sha256,
    }
    if signer is not None:
        record["key_id"] = signer.key_id
    record["sha256"] = record_hash(record)
    if signer is not None:
        record["signature"] = signer.sign(record["sha256"])
    return record


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    """Parse JSON Lines; a line that is not a JSON object becomes a marker :func:`verify` reports.

    Args:
        text: The log's text.

    Returns:
        One dict per non-empty line; unparseable lines are ``{"_line": n, "_error": ...}``.
    """
    out: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            out.append({"_line": n, "_error": f"not valid JSON ({exc.msg})"})
            continue
        if not isinstance(value, dict):
            out.append({"_line": n, "_error": "not a JSON object"})
            continue
        value.setdefault("_line", n)
        out.append(value)
    return out


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "_line"}


def _name(record: dict[str, Any]) -> str:
    seq = record.get("seq")
    line = record.get("_line")
    where = f" (line {line})" if line is not None else ""
    return f"record seq {seq}{where}" if isinstance(seq, int) else f"record{where or ' ?'}"


def verify(
    records: list[dict[str, Any]], *, head: str | None = None, trusted: dict | None = None
) -> list[str]:
    """Check a log's records; report every problem, one line each, naming the record.

    Detects an edited record (its hash no longer matches), a removed record (a gap in ``seq``,
    a first record that is not seq 1, a ``prev_sha256`` that does not match its predecessor, or
    a tail shorter than ``head``), reordered records (``seq`` not increasing in file order),
    duplicated records and lines that are not records.

    Args:
        records: Records in file order (from :func:`read` or :func:`parse_jsonl`).
        head: ``<seq>:<sha256>`` of the last record as recorded by the writer (the run tag
            :data:`HEAD_TAG`); detects records removed from the end.
        trusted: Key id to Ed25519 public key (signing.trusted_keys). When given, every record
            must carry a valid signature by one of them: a log rewritten and re-hashed by
            someone without the signing key is rejected record by record.

    Returns:
        Problems; an empty list means the log is intact.
    """
    problems: list[str] = []
    good = _check_records(records, problems)
    if trusted:
        _check_signatures(good, trusted, problems)
    _check_file_order(good, problems)
    # Chain order (by seq, so a reordering is reported once, above, and not as a broken chain).
    ordered = sorted(good, key=lambda r: r["seq"])
    _check_chain(ordered, problems)
    if head:
        _check_head(head, ordered, problems)
    return problems


def _check_records(records: list[dict[str, Any]], problems: list[str]) -> list[dict[str, Any]]:
    """Check each record on its own; return those well-formed enough to check the chain."""
    good: list[dict[str, Any]] = []
    for r in records:
        if "_error" in r:
            problems.append(f"line {r.get('_line')}: {r['_error']}: a record was damaged")
            continue
        body = _clean(r)
        missing = [f for f in FIELDS if f not in body]
        extra = sorted(set(body) - set(FIELDS) - set(SIGNATURE_FIELDS))
        if missing or extra or not isinstance(body.get("seq"), int):
            what = []
            if missing:
                what.append(f"missing {', '.join(missing)}")
            if extra:
                what.append(f"unexpected {', '.join(extra)}")
            if not isinstance(body.get("seq"), int):
                what.append("seq is not an integer")
            problems.append(f"{_name(r)}: malformed ({'; '.join(what)}): edited")
            continue
        try:
            actual = record_hash(body)
        except ValueError:
            actual = ""
        if actual != body["sha256"]:
            problems.append(
                f"{_name(r)}: hash mismatch (stored {str(body['sha256'])[:12]}..., computed "
                f"{actual[:12]}...): the record was edited"
            )
        if body["event"] not in EVENTS:
            problems.append(f"{_name(r)}: unknown event '{body['event']}'")
        good.append(r)
    return good


def _check_signatures(good: list[dict[str, Any]], trusted: dict, problems: list[str]) -> None:
    bad = [(r, why) for r in good if (why := check_signature(_clean(r), trusted))]
    for r, why in bad[:20]:
        problems.append(f"{_name(r)}: {why}: written or rewritten without a trusted signing key")
    if len(bad) > 20:
        problems.append(f"... and {len(bad) - 20} more records without a trusted signature")


def _check_file_order(good: list[dict[str, Any]], problems: list[str]) -> None:
    # File order: seq must strictly increase.
    for before, after in zip(good, good[1:], strict=False):
        if after["seq"] == before["seq"]:
            problems.append(f"{_name(after)}: seq {after['seq']} appears twice: duplicated")
        elif after["seq"] < before["seq"]:
            problems.append(
                f"{_name(after)} comes after record seq {before['seq']}: records reordered"
            )


def _check_chain(ordered: list[dict[str, Any]], problems: list[str]) -> None:
    if ordered and ordered[0]["seq"] != 1:
        first = ordered[0]["seq"]
        gone = "seq 1" if first == 2 else f"seq 1..{first - 1}"
        problems.append(f"record {gone} missing before {_name(ordered[0])}: removed")
    elif ordered and ordered[0]["prev_sha256"] != GENESIS:
        problems.append(f"{_name(ordered[0])}: first record does not start the chain: replaced")
    for before, after in zip(ordered, ordered[1:], strict=False):
        gap = after["seq"] - before["seq"]
        if gap > 1:
            gone = (
                f"seq {before['seq'] + 1}"
                if gap == 2
                else f"seq {before['seq'] + 1}..{after['seq'] - 1}"
            )
            problems.append(
                f"record {gone} missing between seq {before['seq']} and {after['seq']}: removed"
            )
        elif gap == 1 and after["prev_sha256"] != before["sha256"]:
            problems.append(
                f"{_name(after)}: prev_sha256 does not match record seq {before['seq']}: a "
                "record was removed, replaced or edited and re-hashed"
            )


def _check_head(head: str, ordered: list[dict[str, Any]], problems: list[str]) -> None:
    seq_text, _, sha = head.partition(":")
    last = ordered[-1] if ordered else None
    if not seq_text.isdigit() or not _HEX64.fullmatch(sha):
        problems.append(f"head '{head}' is malformed: expected <seq>:<sha256>")
    elif last is None or last["seq"] < int(seq_text):
        have = f"seq {last['seq']}" if last else "no record"
        problems.append(
            f"the log ends at {have} but its head is seq {seq_text}: records after it were removed"
        )
    elif last["seq"] == int(seq_text) and last["sha256"] != sha:
        problems.append(f"{_name(last)}: differs from the head recorded when it was written")


def verify_file(path: str | Path, *, head: str | None = None) -> list[str]:
    """Verify an audit log file (e.g. the mirror copy, or a downloaded artifact).

    Args:
        path: Local path or fsspec URI of a ``.jsonl`` audit log.
        head: Optional ``<seq>:<sha256>`` of the last record.

    Returns:
        Problems, as :func:`verify`.

    Raises:
        GateInputError: When the file cannot be read.
    """
    return verify(parse_jsonl(_read_location(str(path))), head=head)


def render(records: list[dict[str, Any]]) -> str:
    """Return the history as text, one line per record, oldest first.

    Args:
        records: Records from :func:`read`.

    Returns:
        Lines ``seq  time  event  version  actor  details``.
    """
    lines = []
    for r in records:
        if "_error" in r:
            lines.append(f"{'?':>4}  line {r.get('_line')}: {r['_error']}")
            continue
        version = f"v{r.get('version')}" if r.get("version") else "-"
        details = json.dumps(r.get("details") or {}, sort_keys=True, ensure_ascii=False)
        lines.append(
            f"{r.get('seq', '?'):>4}  {r.get('ts', '?')}  {str(r.get('event')):<18}  "
            f"{version:<6}  {r.get('actor') or '-'}  {details}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# A lease in an MLflow tag (no compare-and-swap exists in MLflow)
# --------------------------------------------------------------------------------------------


def _lease_age(token: str) -> float:
    try:
        return time.time() - float(token.rsplit("|", 1)[1])
    except (IndexError, ValueError):
        return math.inf  # unreadable: treat as abandoned


def _lease_holder(token: str) -> str:
    return token.split("|", 1)[0] or "unknown"


@contextmanager
def tag_lease(
    *,
    get: Callable[[], str | None],
    put: Callable[[str], None],
    drop: Callable[[], None],
    what: str,
    owner: str,
    wait_s: float = WAIT_S,
    settle_s: float = SETTLE_S,
    stale_s: float = STALE_S,
) -> Iterator[str]:
    """Hold a lease stored in one MLflow tag while the block runs.

    MLflow tags are last-writer-wins, so the lease is claimed by writing a unique token, waiting
    ``settle_s`` for every concurrent claimant to write theirs, and reading it back: exactly
    the claimant whose token survived holds it. A held lease is waited for up to ``wait_s``; a
    lease older than ``stale_s`` (its holder died) is taken over.

    Args:
        get: Reads the tag (None when unset).
        put: Writes the tag.
        drop: Deletes the tag.
        what: What is locked, for the message when waiting gives up.
        owner: Who claims it (shown to others).
        wait_s: How long to wait for a held lease.
        settle_s: Delay between writing the token and reading it back.
        stale_s: Age after which a lease is considered abandoned.

    Yields:
        The token held.

    Raises:
        GateInputError: When the lease stays held by someone else for ``wait_s``.
    """
    token = f"{owner.replace('|', '/')}|{uuid.uuid4().hex}|{time.time():.3f}"
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        current = get()
        if current and current != token and _lease_age(current) < stale_s:
            if time.monotonic() >= deadline:
                raise GateInputError(
                    f"{what} is busy: {_lease_holder(current)} holds its lock since "
                    f"{_lease_age(current):.0f} s; retry in a minute"
                )
            time.sleep(delay * (1.0 + random.random()))
            delay = min(delay * 2, 1.0)
            continue
        try:
            put(token)
        except Exception:
            # Two claimants writing the same new tag at once: MLflow's SQL stores insert and
            # one of them fails on the unique key. That claimant lost; anything else is real.
            if not get():
                raise
        time.sleep(settle_s)
        if get() == token:
            break
    try:
        yield token
    finally:
        try:
            if get() == token:
                drop()
        except Exception:  # noqa: BLE001 - a lease left behind expires after stale_s
            pass


# --------------------------------------------------------------------------------------------
# MLflow storage
# --------------------------------------------------------------------------------------------


def artifact_path(model: str) -> str:
    """Return the artifact path of a model's log: ``audit/<model>.jsonl``."""
    return f"audit/{_SAFE.sub('_', model)}.jsonl"


def _check_model(model: str) -> str:
    if not model or not str(model).strip():
        raise GateInputError("no registered model name given; pass --model NAME")
    if "'" in model or "`" in model:
        raise GateInputError(f"model name {model!r} contains a quote; use another name")
    return str(model)


def _find_runs(
    client: MlflowClient, experiment_id: str, model: str, *, deleted: bool = False
) -> list:
    from mlflow.entities import ViewType

    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{MODEL_TAG}` = '{model}'",
        run_view_type=ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY,
        max_results=50,
    )
    runs = [r for r in runs if r.data.tags.get(MODEL_TAG) == model]
    return sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id))


def _audit_run(client: MlflowClient, model: str, *, tracking: str, create: bool) -> str | None:
    cached = _RUNS.get((tracking, model))
    if cached:
        return cached
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None and not create:
        return None
    experiment_id = ensure_experiment(client, EXPERIMENT, tracking_uri=tracking)
    runs = _find_runs(client, experiment_id, model)
    if not runs:
        if not create:
            return None
        # Creation is serialised by a lease on the experiment, so that concurrent first writers
        # of one model end up in one run.
        lock = f"{LOCK_TAG}.{_SAFE.sub('_', model)}"[:250]
        with tag_lease(
            get=lambda: client.get_experiment(experiment_id).tags.get(lock),
            put=lambda token: client.set_experiment_tag(experiment_id, lock, token),
            drop=lambda: client.delete_experiment_tag(experiment_id, lock),
            what=f"creating the audit log of '{model}'",
            owner="quality-gates",
        ):
            runs = _find_runs(client, experiment_id, model)
            if not runs:
                run_id = client.create_run(
                    experiment_id,
                    run_name=f"audit-{_SAFE.sub('_', model)}",
                    tags={MODEL_TAG: model, f"{TAG_PREFIX}kind": "audit"},
                ).info.run_id
                client.set_terminated(run_id, "FINISHED")
                runs = _find_runs(client, experiment_id, model)
    if not runs:
        raise GateInputError(
            f"the audit run of '{model}' was created but cannot be found in experiment "
            f"'{EXPERIMENT}' at {tracking}; check the MLflow server's search"
        )
    if len(runs) > 1:
        # Creation is serialised, so a second run was planted or made outside quality-gates:
        # neither is trusted until an administrator removes the one that is not the log.
        ids = ", ".join(r.info.run_id for r in runs[:5])
        raise GateInputError(
            f"'{model}' has {len(runs)} audit runs in experiment '{EXPERIMENT}' ({ids}): one was "
            "planted or created outside quality-gates; run `quality-gates audit verify` and have "
            "an administrator delete the one that fails"
        )
    _RUNS[(tracking, model)] = runs[0].info.run_id
    return runs[0].info.run_id


def _read_artifact(client: MlflowClient, run_id: str, path: str) -> str | None:
    folder = path.rsplit("/", 1)[0]
    if path not in {a.path for a in client.list_artifacts(run_id, folder)}:
        return None
    with tempfile.TemporaryDirectory(prefix="qg-audit-") as tmp:
        local = client.download_artifacts(run_id, path, tmp)
        return Path(local).read_text(encoding="utf-8")


def _read_location(location: str) -> str:
    try:
        if "://" in location and not location.startswith("file://"):
            try:
                import fsspec
            except ImportError:
                raise GateInputError(
                    f"reading {location} needs fsspec: pip install 'kfp-quality-gates[remote]'"
                ) from None
            with fsspec.open(location, "r", encoding="utf-8") as fh:
                return fh.read()
        return Path(location.removeprefix("file://")).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GateInputError(f"audit log {location} does not exist; check the path") from None
    except GateInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any storage failure is one line
        raise GateInputError(f"cannot read audit log {location}: {one_line(exc)}") from None


def mirror_location(mirror: str, model: str) -> str:
    """Return where the mirror copy of ``model``'s log lives under the folder ``mirror``."""
    return f"{mirror.rstrip('/')}/{artifact_path(model).split('/', 1)[1]}"


def _write_mirror(mirror: str, model: str, text: str) -> None:
    location = mirror_location(mirror, model)
    if "://" in location and not location.startswith("file://"):
        try:
            import fsspec
        except ImportError:
            raise GateInputError(
                f"mirroring the audit log to {mirror} needs fsspec: pip install "
                "'kfp-quality-gates[remote]'"
            ) from None
        with fsspec.open(location, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    path = Path(location.removeprefix("file://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Whole file replaced atomically: a reader never sees half a log.
    fd, tmp = tempfile.mkstemp(prefix=".audit-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _run_tag(client: MlflowClient, run_id: str, key: str) -> str | None:
    return client.get_run(run_id).data.tags.get(key)


def append(
    *,
    model: str,
    event: str,
    version: str | None = None,
    actor: str | None = None,
    details: dict[str, Any] | None = None,
    tracking_uri: str | None = None,
    mirror: str | None = None,
) -> dict[str, Any]:
    """Append one record to a model's audit log (and its mirror) and return it.

    Args:
        model: Registered model name.
        event: One of :data:`EVENTS`.
        version: Model version the event is about.
        actor: Identity that caused the event.
        details: Event-specific data.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        mirror: Folder (local or fsspec URI) to copy the whole log to after the append.

    Returns:
        The sealed record as stored.

    Raises:
        GateInputError: When MLflow is unreachable, the lease cannot be had, the record did not
            stick after retries, or the mirror cannot be written (the record is then in MLflow
            and the next append re-copies the log).
    """
    model = _check_model(model)
    make_record(seq=1, prev_sha256=GENESIS, model=model, event=event)  # validate early
    signer = load_signer()  # a bad key refuses before anything is written
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    path = artifact_path(model)
    with mlflow_call(doing=f"appending to the audit log of '{model}'", tracking_uri=tracking):
        client = connect(tracking)
        run_id = _audit_run(client, model, tracking=tracking, create=True)
        assert run_id is not None  # noqa: S101 - create=True returns a run or raises
        with tag_lease(
            get=lambda: _run_tag(client, run_id, LOCK_TAG),
            put=lambda token: client.set_tag(run_id, LOCK_TAG, token),
            drop=lambda: client.delete_tag(run_id, LOCK_TAG),
            what=f"the audit log of '{model}'",
            owner=actor or "quality-gates",
        ):
            record, text = _append_locked(
                client, run_id, path, model, event, version, actor, details, signer
            )
    if mirror:
        try:
            _write_mirror(mirror, model, text)
        except GateInputError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise GateInputError(
                f"audit record seq {record['seq']} of '{model}' is in MLflow but the mirror "
                f"{mirror} could not be written ({one_line(exc)}); the next append copies it again"
            ) from None
    return record


def _append_locked(
    client: MlflowClient,
    run_id: str,
    path: str,
    model: str,
    event: str,
    version: str | None,
    actor: str | None,
    details: dict[str, Any] | None,
    signer: Signer | None,
) -> tuple[dict[str, Any], str]:
    for _attempt in range(_APPEND_ATTEMPTS):
        existing = _read_artifact(client, run_id, path) or ""
        records = parse_jsonl(existing)
        seqs = [r["seq"] for r in records if isinstance(r.get("seq"), int)]
        last = records[-1] if records else None
        prev = GENESIS
        if last is not None:
            stored = last.get("sha256")
            prev = stored if isinstance(stored, str) else hashlib.sha256(b"damaged").hexdigest()
        record = make_record(
            seq=(max(seqs) + 1) if seqs else 1,
            prev_sha256=prev,
            model=model,
            event=event,
            version=version,
            actor=actor,
            details=details,
            signer=signer,
        )
        line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        # Existing bytes are kept exactly as they are: re-serialising would hide an edit.
        text = existing if not existing or existing.endswith("\n") else existing + "\n"
        text += line + "\n"
        client.log_text(run_id, text, path)
        client.set_tag(run_id, HEAD_TAG, f"{record['seq']}:{record['sha256']}")
        check = parse_jsonl(_read_artifact(client, run_id, path) or "")
        if (
            check
            and check[-1].get("sha256") == record["sha256"]
            and (len(check) == 1 or check[-2].get("sha256") == prev)
        ):
            return record, text
    raise GateInputError(
        f"the audit record for '{model}' ({event}) did not persist after {_APPEND_ATTEMPTS} "
        "attempts (another writer bypassing the lock?); run `quality-gates audit verify`"
    )


def read(*, model: str, tracking_uri: str | None = None) -> list[dict[str, Any]]:
    """Return a model's audit records in file order (empty when it has no log yet).

    Args:
        model: Registered model name.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.

    Returns:
        Records as stored, each with ``_line`` (its line number) added; unparseable lines are
        markers that :func:`verify` reports.

    Raises:
        GateInputError: When MLflow is unreachable.
    """
    return _read_with_head(model=model, tracking_uri=tracking_uri)[0]


def head(*, model: str, tracking_uri: str | None = None) -> str | None:
    """Return ``<seq>:<sha256>`` of the last record the writers recorded, or None."""
    return _read_with_head(model=model, tracking_uri=tracking_uri)[1]


def _read_with_head(
    *, model: str, tracking_uri: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    model = _check_model(model)
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    with mlflow_call(doing=f"reading the audit log of '{model}'", tracking_uri=tracking):
        client = connect(tracking)
        run_id = _audit_run(client, model, tracking=tracking, create=False)
        if run_id is None:
            return [], None
        text = _read_artifact(client, run_id, artifact_path(model)) or ""
        return parse_jsonl(text), _run_tag(client, run_id, HEAD_TAG)


def _runs_of(model: str, tracking: str) -> tuple[list, list]:
    """Active and deleted audit runs of a model (no cache: verification looks afresh)."""
    client = connect(tracking)
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return [], []
    active = _find_runs(client, exp.experiment_id, model)
    return active, _find_runs(client, exp.experiment_id, model, deleted=True)


def _run_log(run_id: str, model: str, tracking: str) -> tuple[list[dict[str, Any]], str | None]:
    client = connect(tracking)
    text = _read_artifact(client, run_id, artifact_path(model)) or ""
    return parse_jsonl(text), _run_tag(client, run_id, HEAD_TAG)


def verify_model(
    *,
    model: str,
    tracking_uri: str | None = None,
    mirror: str | None = None,
    trusted: dict | None = None,
) -> list[str]:
    """Verify a model's log in MLflow against its chain, head and signatures, and the mirror.

    Also reports a deleted audit run and more than one audit run (a planted log), verifying
    each so the one that fails is named.

    Args:
        model: Registered model name.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        mirror: Mirror folder; when given, its copy is verified too and must equal MLflow's.
        trusted: Key id to public key; when given, every record must be signed by one of them.

    Returns:
        Problems, one line each (prefixed ``mirror:`` for the mirror copy); empty when intact.

    Raises:
        GateInputError: When MLflow or the mirror cannot be read.
    """
    model = _check_model(model)
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    with mlflow_call(doing=f"verifying the audit log of '{model}'", tracking_uri=tracking):
        active, deleted = _runs_of(model, tracking)
        problems = [
            f"audit run {r.info.run_id} of '{model}' was deleted: its records are not in the log"
            for r in deleted
        ]
        if not active:
            return [*problems, f"'{model}' has no audit log in experiment '{EXPERIMENT}'"]
        logs = [(r.info.run_id, *_run_log(r.info.run_id, model, tracking)) for r in active]
    if len(logs) > 1:
        problems.append(f"'{model}' has {len(logs)} audit runs: all but one were planted")
        for run_id, records, top in logs:
            found = verify(records, head=top, trusted=trusted)
            verdict = f"fails ({found[0]})" if found else "verifies"
            problems.append(f"audit run {run_id}: {len(records)} records, {verdict}")
        return problems
    _, records, top = logs[0]
    problems += verify(records, head=top, trusted=trusted)
    if mirror:
        problems += _compare_mirror(mirror, model, records, top, trusted)
    return problems


def _compare_mirror(
    mirror: str,
    model: str,
    records: list[dict[str, Any]],
    top: str | None,
    trusted: dict | None,
) -> list[str]:
    copy = parse_jsonl(_read_location(mirror_location(mirror, model)))
    problems = [f"mirror: {p}" for p in verify(copy, head=top, trusted=trusted)]
    mine = [_clean(r) for r in records]
    theirs = [_clean(r) for r in copy]
    if mine != theirs:
        at = next(
            (i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
            min(len(mine), len(theirs)),
        )
        problems.append(
            f"mirror: differs from the MLflow copy from record {at + 1} on "
            f"({len(theirs)} records in the mirror, {len(mine)} in MLflow)"
        )
    return problems


def _reset_cache() -> None:
    """Forget cached audit run ids (tests that restart a server on a new store)."""
    _RUNS.clear()


__all__ = [
    "EVENTS",
    "EXPERIMENT",
    "GENESIS",
    "append",
    "artifact_path",
    "canonical",
    "head",
    "make_record",
    "mirror_location",
    "parse_jsonl",
    "read",
    "record_hash",
    "render",
    "tag_lease",
    "verify",
    "verify_file",
    "verify_model",
]
