"""The policy: what each gate must check, typed and validated, with a digest for lineage.

``policy.yaml`` has one section per gate. Thresholds are data with a direction (``min`` or
``max``), never code; every rule carries a ``severity`` (``block`` or ``warn``) and may carry a
``rationale`` that is shown on the scorecard. Unknown keys and wrong types are rejected with the
path of the offending key, because a typo in a policy silently disabling a rule is exactly the
failure a gate exists to prevent.
"""

from __future__ import annotations

import hashlib
import reprlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, create_model

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.gates import gates as registered_gates
from quality_gates.shared.policy.approval import ApprovalPolicy
from quality_gates.shared.policy.base import StrictModel
from quality_gates.shared.policy.release import ReleasePolicy
from quality_gates.shared.policy.waivers import Waiver


class DataSpec(StrictModel):
    """Which columns of the evaluation data play which role.

    Attributes:
        label: Ground-truth column.
        prediction: Column with precomputed predictions (then no model call is needed).
        score: Column with precomputed scores (probability of the positive class).
        features: Columns passed to the model; default: every column not named elsewhere and not
            in ``exclude``.
        exclude: Columns never passed to the model (ids, sensitive attributes, free text).
        positive_label: The positive class of a binary task; default: the larger of the two
            labels (1, True, or the last in sort order).
    """

    label: str | None = None
    prediction: str | None = None
    score: str | None = None
    features: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    positive_label: int | str | bool | None = None


def _gates_policy() -> type[StrictModel]:
    """Build the ``gates:`` model from the registry: one optional section per registered gate."""
    fields: dict[str, Any] = {s.name: (s.section | None, None) for s in registered_gates()}
    model = create_model("GatesPolicy", __base__=StrictModel, **fields)
    model.__doc__ = "One section per gate; a gate whose section is absent is not configured."
    return model


GatesPolicy = _gates_policy()


class RegistryPolicy(StrictModel):
    """Registry conventions."""

    staging_alias: str = "staging"
    production_alias: str = "production"


class Policy(StrictModel):
    """The whole ``policy.yaml``."""

    version: Literal[1] = 1
    name: str = "default"
    data: DataSpec = Field(default_factory=DataSpec)
    gates: GatesPolicy = Field(default_factory=GatesPolicy)
    registry: RegistryPolicy = Field(default_factory=RegistryPolicy)
    waivers: list[Waiver] = Field(default_factory=list)
    approval: ApprovalPolicy | None = None
    release: ReleasePolicy = Field(default_factory=ReleasePolicy)


# A value quoted in a message is cut short: a policy value can be large (or, through YAML
# aliases, enormous), and a message is one line.
_SHOWN_INPUT_CHARS = 80
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _SHOWN_INPUT_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3


def _shown_input(value: object) -> str:
    """``repr`` of an invalid value, bounded in work and to about 80 characters."""
    text = _REPR.repr(value)
    if len(text) > _SHOWN_INPUT_CHARS:
        text = text[: _SHOWN_INPUT_CHARS - 3] + "..."
    return text


def _format_validation_error(exc: ValidationError, source: str) -> str:
    problems = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key '{path}'")
        elif err["type"] == "missing":
            problems.append(f"missing key '{path}'")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if len(msg) > 2 * _SHOWN_INPUT_CHARS:  # a validator may quote the value it refused
                msg = msg[: 2 * _SHOWN_INPUT_CHARS - 3] + "..."
            problems.append(f"'{path}': {msg} (got {_shown_input(err.get('input'))})")
    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"invalid policy {source}: " + "; ".join(problems[:3]) + more + "; fix the policy file"


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: object, mark: yaml.Mark) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key
        self.problem_mark = mark


class _UniqueKeyLoader(yaml.SafeLoader):
    """``safe_load`` that refuses a key given twice in one mapping.

    Plain YAML keeps the last value, so a second ``performance:`` section would silently replace
    the first, with all its rules: a policy must say each thing once.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` merges; an explicit key may override a merged one
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base constructor reports it
                break
            if duplicate:
                raise _DuplicateKeyError(key, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self.alias_uses = getattr(self, "alias_uses", 0) + 1
            if self.alias_uses > MAX_POLICY_ALIASES:
                raise PolicyLimitError(
                    f"uses more than {MAX_POLICY_ALIASES} YAML aliases (*name); a policy needs "
                    "far fewer, write the values out or reuse fewer anchors"
                )
        return super().compose_node(parent, index)


#: Limits checked before a policy's YAML is built: a policy is a few kilobytes, and nested aliases
#: ("billion laughs": ``b: &b [*a, *a, ...]``) would otherwise expand a small text into billions
#: of values, for minutes, until the process runs out of memory.
MAX_POLICY_BYTES = 1_000_000
MAX_POLICY_ALIASES = 10_000
MAX_POLICY_NODES = 200_000


class PolicyLimitError(yaml.YAMLError):
    """A policy over one of the loader's size limits (the message names the limit)."""


def _expanded_nodes(root: yaml.Node) -> int:
    """Values the document has once every alias is expanded, counting at most past the limit."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            open_.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), MAX_POLICY_NODES + 1)
            continue
        if id(node) in open_:
            raise PolicyLimitError("has a YAML alias that refers to itself; remove the cycle")
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def load_policy_yaml(text: str) -> Any:
    """Load policy YAML safely, refusing a key given twice in one mapping.

    The document is composed first and its size checked before any value is built: at most
    :data:`MAX_POLICY_BYTES` of text, :data:`MAX_POLICY_ALIASES` alias uses and
    :data:`MAX_POLICY_NODES` values with every alias expanded.

    Args:
        text: YAML document (empty or blank gives ``None``).

    Returns:
        The loaded document.

    Raises:
        PolicyLimitError: When the document is over one of the limits (the message names it).
        yaml.YAMLError: On a syntax error or a duplicate key (its message names the key).
    """
    if not text or not text.strip():
        return None
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_POLICY_BYTES:
        raise PolicyLimitError(
            f"is {size} bytes, over the limit of {MAX_POLICY_BYTES} bytes for a policy; a policy "
            "holds rules, not data"
        )
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_nodes(node) > MAX_POLICY_NODES:
            raise PolicyLimitError(
                f"expands through YAML aliases to more than {MAX_POLICY_NODES} values, over the "
                "limit for a policy (nested aliases, a 'billion laughs' document?); write the "
                "values out"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def parse_policy(text: str, *, source: str = "<text>") -> Policy:
    """Parse and validate policy YAML text.

    Args:
        text: YAML document.
        source: Where the text came from, for error messages.

    Returns:
        The validated policy.

    Raises:
        GateInputError: On YAML syntax errors, unknown keys or wrong types, naming the key path.
    """
    try:
        data = load_policy_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if isinstance(exc, PolicyLimitError):
            raise GateInputError(f"policy {source} {exc}") from None
        if isinstance(exc, _DuplicateKeyError):
            raise GateInputError(
                f"policy {source} gives key '{exc.key}' twice in one section{where}; keep one "
                "(YAML would silently use only the last)"
            ) from None
        raise GateInputError(f"policy {source} is not valid YAML{where}; fix its syntax") from None
    if data is None:
        raise GateInputError(
            f"policy {source} is empty; a policy needs at least one gate section with rules"
        )
    if not isinstance(data, dict):
        raise GateInputError(
            f"policy {source} must be a YAML mapping with keys like 'gates', "
            f"got a {type(data).__name__}"
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise GateInputError(_format_validation_error(exc, source)) from None


def load_policy(path: str | Path) -> tuple[Policy, str]:
    """Read, validate and digest a policy file.

    Args:
        path: Path to ``policy.yaml``.

    Returns:
        The policy and its text (the text is what gets digested and recorded).

    Raises:
        GateInputError: If the file cannot be read or is invalid.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GateInputError(f"policy file {p} does not exist; pass --policy PATH") from None
    except IsADirectoryError:
        raise GateInputError(
            f"policy {p} is a directory; pass the path of the policy YAML file"
        ) from None
    except UnicodeDecodeError as exc:
        raise GateInputError(
            f"policy file {p} is not UTF-8 text (byte {exc.start}); save the policy YAML as UTF-8"
        ) from None
    except OSError as exc:
        raise GateInputError(
            f"policy file {p} cannot be read: {exc.strerror or exc}; check its permissions"
        ) from None
    return parse_policy(text, source=str(p)), text


def policy_digest(text: str) -> str:
    """Return ``sha256:<hex>`` of the policy text exactly as given."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def configured_gates(policy: Policy) -> list[str]:
    """Return the gates whose section is present in the policy, in declaration order."""
    return [name for name in GatesPolicy.model_fields if getattr(policy.gates, name) is not None]
