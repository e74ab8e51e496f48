"""The gate registry: every gate folder declares itself once, everything else is derived.

A gate is one folder ``components/<folder>/`` holding a ``gate.py`` that defines ``GATE``, a
:class:`GateSpec`. The CLI's ``check`` choices and dispatch, the policy's ``gates:`` sections, the
aggregator's inputs and expected gates, the compile list, the image names and the packaged module
list are all read from here, so adding a gate edits no list elsewhere (docs/ARCHITECTURE.md,
"Adding a gate").

Discovery imports ``quality_gates.components.<folder>.gate`` of every folder that has one. The
declaration must stay light (its policy section model and strings, no numpy/pandas work): the
gate's ``evaluate`` function is named by its dotted path and imported only when the gate runs, so
shap or fairlearn load only in the gate that needs them.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from quality_gates.shared.contracts.errors import GateInputError

COMPONENTS_PACKAGE = "quality_gates.components"

#: What a gate reads, as its declaration's ``inputs`` say. ``model``: loads the candidate;
#: ``predictions``: scores it on the data (so a feature mismatch is its error); ``labels``: needs
#: the label column; the others are the extra tables and files of the CLI and the pipeline.
GateInput = str
KNOWN_INPUTS = frozenset(
    {
        "model",
        "predictions",
        "labels",
        "data",
        "train_data",
        "reference_data",
        "production_data",
        "request_log",
        "sensitive_data",
        "champion",
        "artifacts",
    }
)


#: The scorecard's top-level groups, in the order a reviewer reads them.
AREAS = ("data", "quality", "fairness", "privacy", "operations", "business")


@dataclass(frozen=True)
class GateSpec:
    """What one gate folder declares about itself.

    Attributes:
        name: The gate's name: its ``gates.<name>`` policy section, ``GateResult.gate``, the CLI
            ``check`` choice and the aggregator's input (e.g. ``fairness``).
        folder: The folder under ``components/`` (e.g. ``fairness_gate``); also the name of the
            KFP component function in its ``component.py`` and of its image.
        title: Short heading for tables (``Fairness``).
        description: One sentence saying what the gate blocks, for help and tables.
        section: The pydantic model of its policy section (a ``GateSection``).
        evaluate: ``module:function`` of its evaluation, called with a ``GateContext``.
        inputs: Which of :data:`KNOWN_INPUTS` it reads; the CLI needs ``--model`` only for gates
            whose inputs hold ``model`` and the pipeline wires the rest.
        model_optional: The model may be absent (precomputed predictions, a data-only scan).
        extra: The pip extra holding its dependencies (``pip install 'kfp-quality-gates[X]'``)
            and the image's build argument; ``None`` when the core suffices.
        requires: The extra's requirements (read by ``setup.py`` without importing anything).
        report_packages: Distributions whose versions go into every result of the gate.
        order: Position on the scorecard and in the pipeline (lower first).
        area: The scorecard's top-level group its verdict belongs to (:data:`AREAS`): ``data``,
            ``quality``, ``fairness``, ``privacy``, ``operations`` or ``business``. Checks of the
            family ``business`` (expected-value rules) count for ``business`` whichever gate
            made them.
        example: A policy section that evaluates (and passes) on the embedded demo's data and
            candidate; the contract tests run every gate with it, the scaffold writes one.
    """

    name: str
    folder: str
    title: str
    description: str
    section: type
    evaluate: str
    inputs: tuple[GateInput, ...] = ("model", "data")
    model_optional: bool = False
    extra: str | None = None
    requires: tuple[str, ...] = ()
    report_packages: tuple[str, ...] = ()
    order: int = 100
    area: str = "quality"
    example: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.inputs) - KNOWN_INPUTS)
        if unknown:
            known = sorted(KNOWN_INPUTS)
            raise ValueError(f"gate {self.name}: unknown inputs {unknown}; use {known}")
        if self.area not in AREAS:
            raise ValueError(f"gate {self.name}: area must be one of {list(AREAS)}")
        if ":" not in self.evaluate:
            raise ValueError(f"gate {self.name}: evaluate must be 'module:function'")

    def evaluate_function(self) -> Callable[[Any], Any]:
        """Import and return the gate's evaluate function.

        Returns:
            The callable named by :attr:`evaluate`.

        Raises:
            GateInputError: When the gate's extra is not installed, naming the pip command.
        """
        module, _, name = self.evaluate.partition(":")
        try:
            return getattr(importlib.import_module(module), name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == "quality_gates":
                raise
            raise self.missing_module(exc) from None

    def missing_module(self, exc: ModuleNotFoundError) -> GateInputError:
        """The one-line error for a package the gate imports that is not installed.

        Args:
            exc: The import failure (its ``name`` is the missing module).

        Returns:
            An error naming the gate's extra and its pip command, or, for a gate without an
            extra, the missing package (then a broken install of the core).
        """
        if self.extra:
            return GateInputError(
                f"the {self.name} gate needs the '{self.extra}' extra: pip install "
                f"'kfp-quality-gates[{self.extra}]' (Python package '{exc.name}' is not "
                "installed here)"
            )
        return GateInputError(
            f"the {self.name} gate needs the Python package '{exc.name}', which is not "
            "installed here; reinstall kfp-quality-gates (pip install kfp-quality-gates)"
        )

    @property
    def component_function(self) -> str:
        """``module:function`` of the gate's KFP component."""
        return f"{COMPONENTS_PACKAGE}.{self.folder}.component:{self.folder}"


def _folders() -> list[str]:
    package = importlib.import_module(COMPONENTS_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.ispkg)


@cache
def gates() -> tuple[GateSpec, ...]:
    """Return every registered gate, in scorecard order.

    Returns:
        The ``GATE`` of each ``components/<folder>/gate.py``, sorted by ``order`` then name.

    Raises:
        ValueError: When a folder's ``gate.py`` defines no ``GATE``, names another folder, or
            two gates share a name: broken wiring, which must not pass silently.
    """
    specs: list[GateSpec] = []
    for folder in _folders():
        dotted = f"{COMPONENTS_PACKAGE}.{folder}.gate"
        if importlib.util.find_spec(dotted) is None:
            continue
        spec = getattr(importlib.import_module(dotted), "GATE", None)
        if not isinstance(spec, GateSpec):
            raise ValueError(f"{dotted} must define GATE = GateSpec(...)")
        if spec.folder != folder:
            raise ValueError(f"{dotted}: GATE.folder is '{spec.folder}', expected '{folder}'")
        specs.append(spec)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"two gate folders declare the same gate name: {sorted(names)}")
    return tuple(sorted(specs, key=lambda s: (s.order, s.name)))


def gate_names() -> tuple[str, ...]:
    """Return the names of every registered gate, in scorecard order."""
    return tuple(s.name for s in gates())


def gate(name: str) -> GateSpec:
    """Return the registered gate called ``name``.

    Args:
        name: A gate name, e.g. ``pii``.

    Returns:
        Its declaration.

    Raises:
        GateInputError: For a name no folder declares, listing the known ones.
    """
    for spec in gates():
        if spec.name == name:
            return spec
    raise GateInputError(f"unknown gate '{name}'; choose one of {', '.join(gate_names())}")


def component_folders() -> tuple[str, ...]:
    """Return every folder under ``components/`` that holds a KFP component (gates and others).

    Returns:
        Folder names whose ``component.py`` defines a component of the same name.
    """
    return tuple(
        f
        for f in _folders()
        if importlib.util.find_spec(f"{COMPONENTS_PACKAGE}.{f}.component") is not None
    )
