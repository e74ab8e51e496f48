"""The embedded demo: synthetic credit-risk data, a champion in production, a gated candidate.

Everything lives in one folder (default ``.demo/``): the data, the trained models, a sqlite MLflow
registry (``mlflow.db``) with its artifacts, and each pipeline run's outputs. Running it again
reuses the data and models, so the same candidate bytes meet the same registry and no duplicate
version is created.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.tracking.client import connect

if TYPE_CHECKING:
    from quality_gates.shared.kfp_glue.local_run import LocalRun

REGISTERED_MODEL = "credit-risk"
EXPERIMENT = "quality-gates-demo"
# The pipeline submits as a bot; a named person from the policy approves (never the submitter).
SUBMITTER = "ci-bot@example.com"
APPROVER = "risk-officer@example.com"


def demo_policy_text() -> str:
    """Return the text of the demo policy shipped with the package."""
    return (
        resources.files("quality_gates.shared.demo.policies")
        .joinpath("demo.yaml")
        .read_text("utf-8")
    )


def say(msg: str) -> None:
    """Print one line of the demo's narration."""
    print(f"[demo] {msg}", flush=True)


def prepare_data(home: Path, *, rows: int) -> tuple[Path, Path, Path]:
    """Generate the training and evaluation sets once.

    Args:
        home: Demo folder.
        rows: Total rows; 60 % train, 40 % evaluation.

    Returns:
        Paths of the training, evaluation and "leaky" evaluation Parquet files; the leaky set
        is the same rows with e-mail addresses and phone numbers typed into ``notes``.
    """
    from quality_gates.shared.demo.data import make_credit_data

    data_dir = home / "data"
    train_path, eval_path = data_dir / "train.parquet", data_dir / "eval.parquet"
    leaky_path = data_dir / "eval_leaky.parquet"
    if not (train_path.exists() and eval_path.exists() and leaky_path.exists()):
        data_dir.mkdir(parents=True, exist_ok=True)
        df = make_credit_data(n_rows=rows, seed=0)
        cut = int(len(df) * 0.6)
        df.iloc[:cut].reset_index(drop=True).to_parquet(train_path, index=False)
        df.iloc[cut:].reset_index(drop=True).to_parquet(eval_path, index=False)
        leaky = make_credit_data(n_rows=rows, seed=0, pii_rate=0.05)
        leaky.iloc[cut:].reset_index(drop=True).to_parquet(leaky_path, index=False)
        say(f"generated {len(df)} rows of synthetic credit-risk data in {data_dir}")
    return train_path, eval_path, leaky_path


def prepare_drifted(eval_path: Path) -> Path:
    """Write the evaluation set as a broken, drifted feed would deliver it (once).

    ``income`` arrives all null (a join that lost its source), ``loan_amount`` in the wrong unit
    (x1000) and ``credit_score`` shifted by half a standard deviation (a new scoring vendor).

    Args:
        eval_path: The clean evaluation set.

    Returns:
        Path of the drifted copy beside it.
    """
    import numpy as np
    import pandas as pd

    path = eval_path.with_name("eval_drifted.parquet")
    if not path.exists():
        df = pd.read_parquet(eval_path)
        df["income"] = np.nan
        df["loan_amount"] = df["loan_amount"] * 1000
        df["credit_score"] = df["credit_score"] + 0.5 * df["credit_score"].std()
        df.to_parquet(path, index=False)
    return path


def prepare_models(home: Path, train_path: Path) -> dict[str, Path]:
    """Train champion, candidate and weak models once and save them as joblib files.

    Args:
        home: Demo folder.
        train_path: Training data.

    Returns:
        Path of each model file by role.
    """
    import joblib
    import pandas as pd

    from quality_gates.shared.demo.data import FEATURES, make_credit_data, train_models

    model_dir = home / "models"
    roles = ("champion", "candidate", "weak", "biased")
    paths = {role: model_dir / f"{role}.joblib" for role in roles}
    if not all(p.exists() for p in paths.values()):
        model_dir.mkdir(parents=True, exist_ok=True)
        train = pd.read_parquet(train_path)
        models = train_models(train, seed=0)
        # The biased variant learns from labels that penalise women and is given `sex` as an
        # input: the failure the fairness gate exists to catch.
        biased_train = make_credit_data(n_rows=len(train), seed=0, bias=1.0)
        models["biased"] = train_models(biased_train, seed=0, features=[*FEATURES, "sex"])[
            "candidate"
        ]
        for role, path in paths.items():
            joblib.dump(models[role], path)
        say(f"trained {', '.join(roles)} models into {model_dir}")
    return paths


def prepare_slow_model(home: Path, train_path: Path) -> Path:
    """Train the huge forest of the ``slow`` scenario once (only when that scenario runs).

    Args:
        home: Demo folder.
        train_path: Training data.

    Returns:
        Path of its joblib file.
    """
    import joblib
    import pandas as pd

    from quality_gates.shared.demo.data import train_huge_forest

    path = home / "models" / "slow.joblib"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(train_huge_forest(pd.read_parquet(train_path), seed=0), path)
        size_mb = path.stat().st_size / 1e6
        say(f"trained the huge forest (800 deep trees, {size_mb:.0f} MB) into {path}")
    return path


def ensure_champion(
    home: Path, champion_path: Path, tracking_uri: str, *, name: str = REGISTERED_MODEL
) -> str:
    """Register the champion and give it the ``production`` alias, once.

    Args:
        home: Demo folder (holds the artifact store).
        champion_path: The champion's joblib file.
        tracking_uri: The sqlite tracking URI.
        name: Registered model name.

    Returns:
        The champion's ``models:/`` URI.
    """
    import joblib
    import mlflow
    from mlflow.exceptions import MlflowException

    client = connect(tracking_uri)
    try:
        mv = client.get_model_version_by_alias(name, "production")
        return f"models:/{name}/{mv.version}"
    except MlflowException:
        pass
    mlflow.set_tracking_uri(tracking_uri)
    exp = _experiment(client, home)
    model = joblib.load(champion_path)
    with mlflow.start_run(experiment_id=exp, run_name="champion-training") as run:
        log_sklearn_model(model)
    try:
        client.create_registered_model(name)
    except MlflowException:
        pass
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(name, "production", mv.version)
    client.set_model_version_tag(name, mv.version, "quality_gates.note", "demo bootstrap champion")
    # The bytes of the registered champion, so that a rollback to it is digest-checked.
    from quality_gates.shared.io.models import model_digest

    digest = model_digest(f"models:/{name}/{mv.version}", tracking_uri=tracking_uri)
    client.set_model_version_tag(name, mv.version, "quality_gates.artifact_digest", digest)
    # A production model that predates the gates is adopted in the audit log, so that
    # `audit verify` can tell this alias holder from one moved without a record.
    from quality_gates.shared.governance import audit

    audit.append(
        model=name,
        event="adoption",
        version=str(mv.version),
        actor="demo-bootstrap",
        details={"alias": "production", "artifact_digest": digest, "note": "registered by hand"},
        tracking_uri=tracking_uri,
    )
    say(f"registered the champion as {name} v{mv.version} @production")
    return f"models:/{name}/{mv.version}"


def log_sklearn_model(model, *, name: str = "model") -> None:
    """Log an sklearn model to the active MLflow run in skops format (no pickle).

    MLflow 3 refuses skops types it was not told to trust; the trusted list is exactly the
    types this estimator contains, computed from the estimator we just trained ourselves.

    Args:
        model: A fitted scikit-learn estimator.
        name: Artifact name of the model in the run.
    """
    import mlflow
    import skops.io

    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    mlflow.sklearn.log_model(
        model, name=name, serialization_format="skops", skops_trusted_types=trusted
    )


def _experiment(client, home: Path) -> str:
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is not None:
        return exp.experiment_id
    # An explicit artifact location keeps artifacts inside the demo folder whatever the cwd.
    return client.create_experiment(EXPERIMENT, artifact_location=(home / "artifacts").as_uri())


SCENARIOS = {
    "candidate": "the good candidate: every gate passes, promoted to staging",
    "weak": "a weak model: fails performance thresholds and non-inferiority, not promoted",
    "biased": "a model trained on biased labels that uses `sex`: fails fairness, not promoted",
    "leaky": "the good candidate on data whose notes hold e-mails and phones: fails the PII scan",
    "drift": "the good candidate on a broken feed (income all null, loan_amount x1000) and a "
    "shifted credit_score: fails the data contract and the drift gate, columns named",
    "slow": "a huge forest, as accurate as the champion but many times slower and larger: "
    "refused by the operational gate with its p95 latency, size and memory",
}


def _report(run: LocalRun, *, role: str, home: Path, tracking_uri: str) -> None:
    """Say what the run decided, where its evidence is and which aliases moved."""
    card = run.scorecard
    say(f"decision: {card.decision.value} — {card.summary}")
    for gate, check, message in card.failing_checks():
        say(f"  blocked by {gate} / {check}: {message}")
    say(f"scorecard: {run.scorecard_dir / 'scorecard.html'}")
    say(f"           {run.scorecard_dir / 'scorecard.md'}")
    client = connect(tracking_uri)
    aliases = client.get_registered_model(REGISTERED_MODEL).aliases
    held = {a: v for a, v in aliases.items()}
    if run.promoted_version:
        mine = sorted(a for a, v in held.items() if str(v) == str(run.promoted_version))
        say(
            f"the {role} is {REGISTERED_MODEL} version {run.promoted_version}, holding alias(es): "
            f"{', '.join(mine)}"
        )
    else:
        say(
            f"the {role} model was NOT promoted; aliases unchanged: "
            + ", ".join(f"{a}=v{v}" for a, v in sorted(held.items()))
        )
    if run.refusal_reasons:
        # On a cluster the run ends FAILED in this step, so a refusal never looks like a success.
        say(f"the run ended FAILED in its 'candidate refused' step: {run.refusal_reasons}")
    _say_next_steps(run, home=home, tracking_uri=tracking_uri)


def _say_next_steps(run: LocalRun, *, home: Path, tracking_uri: str) -> None:
    """Write the demo policy into the demo folder and print the commands that come next."""
    policy_path = home / "policy.yaml"
    policy_path.write_text(demo_policy_text(), encoding="utf-8")
    if run.promoted_version:
        say(f"approval: {run.approval_state} (submitted by {SUBMITTER}); next steps:")
        common = f"--model {REGISTERED_MODEL} --policy {policy_path} --tracking-uri {tracking_uri}"
        say(
            f"  quality-gates approve {common} --version {run.promoted_version} "
            f'--as {APPROVER} --comment "reviewed the scorecard"'
        )
        say(f'  quality-gates rollback {common} --as {APPROVER} --reason "incident"')
        say(f"  quality-gates status --model {REGISTERED_MODEL} --tracking-uri {tracking_uri}")
        say(
            f"  quality-gates audit verify --model {REGISTERED_MODEL} --tracking-uri {tracking_uri}"
        )
    say(f"browse the registry: mlflow ui --backend-store-uri {tracking_uri}")


def run_demo(*, home: str | Path, scenario: str = "candidate", rows: int = 20000) -> int:
    """Run the whole gated-promotion flow locally and report where the evidence is.

    Args:
        home: Demo folder.
        scenario: Which model to gate (see :data:`SCENARIOS`); every one but ``candidate`` must
            be refused.
        rows: Rows of synthetic data (first run only).

    Returns:
        0 when the demo showed what it is meant to (promotion, or a refused weak candidate).
    """
    from quality_gates.shared.kfp_glue.local_run import run_pipeline

    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    tracking_uri = f"sqlite:///{home / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    say(f"demo folder: {home} (MLflow registry: {tracking_uri})")
    train_path, eval_path, leaky_path = prepare_data(home, rows=rows)
    models = prepare_models(home, train_path)
    champion_uri = ensure_champion(home, models["champion"], tracking_uri)
    _experiment(connect(tracking_uri), home)
    if scenario not in SCENARIOS:
        raise GateInputError(f"unknown demo scenario '{scenario}'; choose {', '.join(SCENARIOS)}")
    role = "candidate" if scenario in ("leaky", "drift") else scenario
    if scenario == "slow":
        models["slow"] = prepare_slow_model(home, train_path)
    data_path = {"leaky": leaky_path, "drift": prepare_drifted(eval_path)}.get(scenario, eval_path)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = home / "runs" / f"{stamp}-{scenario}"
    say(f"champion {champion_uri} holds 'production'; gating the {role} model {models[role]}")
    say(f"scenario '{scenario}': {SCENARIOS[scenario]}")
    run = run_pipeline(
        model_uri=str(models[role]),
        data_uri=str(data_path),
        train_data_uri=str(train_path),
        reference_data_uri=str(train_path),
        submitted_by=SUBMITTER,
        policy_text=demo_policy_text(),
        registered_model_name=REGISTERED_MODEL,
        output_dir=out,
        experiment_name=EXPERIMENT,
        tracking_uri=tracking_uri,
    )
    _report(run, role=role, home=home, tracking_uri=tracking_uri)
    expect_promotion = scenario == "candidate"
    ok = (run.promoted_version is not None) == expect_promotion
    if not ok:
        print(
            f"[demo] unexpected outcome for the {role} model; see {run.log_path}", file=sys.stderr
        )
    return 0 if ok else 1
