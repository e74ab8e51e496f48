"""``make gate NAME=...``: write a working skeleton gate folder.

The skeleton is a real gate (the share of missing values per column against
``max_missing_share``), so it compiles, runs in ``quality-gates check <name>``, passes the
contract suite and shows up on the scorecard before its author replaces the logic. Everything
that lists gates reads the registry, so the folder is the whole gate; the one edit outside it is
the gate's task in ``pipelines/wiring.py`` (printed by :func:`scaffold_gate`), after which
``make compile`` rewrites the pipeline's and the aggregator's YAML.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from quality_gates.shared.contracts.errors import GateInputError

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

_GATE = '''\
"""The {title} gate's declaration in the gate registry (see shared/contracts/gates.py)."""

from quality_gates.components.{folder}.policy import {camel}Policy
from quality_gates.shared.contracts.gates import GateSpec

GATE = GateSpec(
    name="{name}",
    folder="{folder}",
    title="{title}",
    description="share of missing values per column (skeleton: replace with the gate's checks)",
    section={camel}Policy,
    evaluate="quality_gates.components.{folder}.core:evaluate_gate",
    inputs=("data",),
    model_optional=True,
    order=100,
    example={{"max_missing_share": 0.5}},
)
'''

_POLICY = '''"""Policy section of the {title} gate (``gates.{name}``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from quality_gates.shared.policy.base import GateSection, Severity


class {camel}Policy(GateSection):
    """Policy section ``gates.{name}``.

    Attributes:
        columns: Columns to check; every column of the data by default.
        max_missing_share: Largest share of missing values any checked column may hold.
        severity: ``block`` fails the gate, ``warn`` only flags it.
        rationale: Why the rule exists, shown on the scorecard.
    """

    rules_hint: ClassVar[str] = "set max_missing_share (e.g. max_missing_share: 0.05)"

    columns: list[str] | None = None
    max_missing_share: float | None = Field(default=None, ge=0.0, le=1.0)
    severity: Severity = "block"
    rationale: str | None = None

    @property
    def has_rules(self) -> bool:
        """Whether the section sets a threshold."""
        return self.max_missing_share is not None
'''

_CORE = '''"""{title} gate: the share of missing values of each column, against the policy.

A pure evaluation over loaded inputs: the run template (shared/gates/runner.py) parses the policy,
loads and digests the data, times the run and turns any exception into an ``error`` result.
"""

from __future__ import annotations

from quality_gates.components.{folder}.policy import {camel}Policy
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult
from quality_gates.shared.gates.context import Evaluation, GateContext
from quality_gates.shared.gates.decisions import Evidence, judge


def evaluate_gate(ctx: GateContext) -> Evaluation:
    """Judge the worst column's share of missing values (the registry's entry point).

    Args:
        ctx: The run's context: the policy section and the evaluation data.

    Returns:
        One check on the worst column, a metric per column, a table of every share.
    """
    policy: {camel}Policy = ctx.section
    data = ctx.data(require_label=False)
    frame = data.frame
    columns = policy.columns or [str(c) for c in frame.columns]
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise GateInputError(
            f"gates.{name}.columns names {{unknown[:5]}}, which {{data.source}} does not have; "
            "fix the column names or drop gates.{name}.columns to check every column"
        )
    shares = frame.loc[:, columns].isna().mean()  # one vectorised pass over the columns
    worst = str(shares.idxmax())
    value = float(shares.max())
    # Every threshold goes through the one rule engine. The share is measured on every row of
    # the data, not estimated from a sample, so it is judged on its value (no interval).
    verdict = judge(
        Evidence(value, n=len(frame)),
        threshold=policy.max_missing_share,
        operator="<=",
        judge_on="estimate",
        severity=policy.severity,
        on_inconclusive="block",
    )
    status = verdict.status
    check = CheckResult(
        name="max missing share",
        value=value,
        threshold=policy.max_missing_share,
        operator="<=",
        status=status,
        severity=policy.severity,
        rationale=policy.rationale,
        message=f"column {{worst}} is {{value:.1%}} missing",
    )
    table = {{
        "title": "Missing values per column",
        "columns": ["column", "missing share"],
        "rows": [[str(c), round(float(s), 6)] for c, s in shares.items()],
    }}
    return Evaluation(
        checks=[check],
        metrics={{f"missing_share.{{c}}": float(s) for c, s in shares.items()}},
        details={{"tables": [table], "data_uri": ctx.inputs.data_uri}},
    )
'''

_COMPONENT = '''\
"""KFP component wrapper of the {title} gate: inputs in, the run template, outputs out."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("{folder}"), install_kfp_package=False)
def {folder}(
    policy: str,
    verdict: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
    report_md: Output[Markdown],
    data_uri: str = "",
    data: Input[Dataset] = None,
    mlflow_tracking_uri: str = "",
) -> bool:
    """Check the share of missing values per column against ``gates.{name}``.

    Args:
        policy: The policy YAML text; its ``gates.{name}`` section is evaluated.
        verdict: GateResult JSON (also copied into the artifact's metadata).
        metrics: The missing share of every column, for the KFP UI.
        report: Static HTML report.
        report_md: Markdown report.
        data_uri: Evaluation data (CSV or Parquet); leave empty when ``data`` is wired.
        data: The evaluation data as a KFP ``Dataset`` artifact; instead of ``data_uri``.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.gates.outputs import run_component

    return run_component(
        "{name}",
        outputs=dict(verdict=verdict, metrics=metrics, report=report, report_md=report_md),
        artifacts=dict(data=data),
        data_uri=data_uri,
        policy_text=policy,
        tracking_uri=mlflow_tracking_uri,
    )
'''

_README = """# {folder}

Blocks evaluation data in which a column has more missing values than the policy allows.
(Skeleton written by `make gate NAME={name}`: replace the check in `core.py` with this gate's own.)

## Policy (`gates.{name}`)
| key | meaning |
|---|---|
| `max_missing_share` | largest share of missing values any checked column may hold (0-1) |
| `columns` | columns to check; all by default |
| `severity` | `block` (default) or `warn` |
| `rationale` | why, shown on the scorecard |

## Inputs and outputs
`policy`, `data_uri` or `data` (a `Dataset` artifact), `mlflow_tracking_uri`; `verdict`
(GateResult JSON), `metrics`, `report` (HTML), `report_md`; returns `True` when the gate passed
or warned.

## Example
```yaml
gates:
  {name}:
    max_missing_share: 0.05
    rationale: A feed with many gaps is broken upstream.
```
`quality-gates check {name} --data eval.parquet --policy policy.yaml`
"""

_TEST = '''\
"""The {title} gate's own behaviour (the contract suite in tests/contract covers bad input)."""

import pandas as pd
import yaml

from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.runner import check


def _run(tmp_path, frame, **section):
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    policy = yaml.safe_dump({{"gates": {{"{name}": section}}}})
    return check("{name}", data_uri=str(path), policy_text=policy)


def test_a_column_over_the_limit_fails_and_one_under_it_passes(tmp_path):
    frame = pd.DataFrame({{"a": [1.0, None, None, 4.0], "b": [1, 2, 3, 4]}})
    failed = _run(tmp_path, frame, max_missing_share=0.25)
    assert failed.status == Status.FAILED
    assert failed.checks[0].value == 0.5 and "column a" in failed.checks[0].message
    assert _run(tmp_path, frame, max_missing_share=0.5).status == Status.PASSED
    warned = _run(tmp_path, frame, max_missing_share=0.25, severity="warn")
    assert warned.status == Status.WARNED and warned.passed


def test_unknown_columns_are_an_error(tmp_path):
    frame = pd.DataFrame({{"a": [1, 2]}})
    result = _run(tmp_path, frame, max_missing_share=0.1, columns=["nope"])
    assert result.status == Status.ERROR and "nope" in result.error
'''


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def files_for(name: str) -> dict[str, str]:
    """Return the skeleton's files, relative to the gate folder.

    Args:
        name: The gate's name (``gates.<name>``), lower-case with underscores.

    Returns:
        Relative path → text.
    """
    fields = dict(
        name=name, folder=f"{name}_gate", camel=_camel(name), title=name.replace("_", " ")
    )
    return {
        "__init__.py": "",
        "gate.py": _GATE.format(**fields),
        "policy.py": _POLICY.format(**fields),
        "core.py": _CORE.format(**fields),
        "component.py": _COMPONENT.format(**fields),
        "README.md": _README.format(**fields),
        "tests/__init__.py": "",
        f"tests/test_{name}_gate.py": _TEST.format(**fields),
    }


def pipeline_lines(name: str) -> list[str]:
    """Return the lines that wire the gate into ``pipelines/wiring.py``."""
    folder = f"{name}_gate"
    return [
        f"from quality_gates.components.{folder}.component import {folder}",
        f'        "{name}": {folder}(\n'
        '            policy=policy, **_source("data", data),\n'
        "            mlflow_tracking_uri=mlflow_tracking_uri,\n"
        "        ),",
    ]


def scaffold_gate(name: str, *, root: str | Path) -> Path:
    """Write ``components/<name>_gate/`` under ``root`` and its Dockerfile.

    Args:
        name: The new gate's name.
        root: The repository root.

    Returns:
        The new folder.

    Raises:
        GateInputError: For an invalid name or a folder that exists already.
    """
    if not _NAME_RE.match(name) or name.endswith("_gate"):
        raise GateInputError(
            f"gate name '{name}' must be 2-31 lower-case letters, digits or underscores, start "
            "with a letter and not end in _gate (the folder gets that suffix), e.g. drift"
        )
    root = Path(root)
    folder = root / "components" / f"{name}_gate"
    if folder.exists():
        raise GateInputError(f"{folder} exists already; choose another name")
    for rel, text in files_for(name).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    generator = root / "docker" / "dockerfiles.py"
    if generator.exists():
        # The image recipe comes from the one template, like every other component's.
        subprocess.run([sys.executable, str(generator)], cwd=root, check=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m quality_gates.shared.cli.scaffold NAME [--root DIR]`` (``make gate NAME=``).

    Args:
        argv: Arguments without the program name.

    Returns:
        0 when written, 2 for a bad name or an existing folder.
    """
    import argparse

    parser = argparse.ArgumentParser(description="Write a skeleton gate folder.")
    parser.add_argument("name", help="the gate's name, e.g. drift (folder components/drift_gate)")
    parser.add_argument("--root", default=".", help="repository root (default: here)")
    args = parser.parse_args(argv)
    try:
        folder = scaffold_gate(args.name, root=args.root)
    except GateInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = pipeline_lines(args.name)
    print(
        f"wrote {folder}\n"
        "Wire it into pipelines/wiring.py (the import, and its task in `gates`):\n"
        f"    {lines[0]}\n{lines[1]}\n"
        "then run `make compile` (rewrites the pipeline's and the aggregator's YAML) and "
        "`make test`."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
