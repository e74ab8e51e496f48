"""The champion is looked up once per process, whichever gates compare with it."""

from __future__ import annotations

from quality_gates.shared.gates import session as session_module
from quality_gates.shared.gates.session import Session


def test_gates_comparing_with_one_alias_share_one_lookup(monkeypatch):
    calls = []

    def fake(**lookup):
        calls.append(lookup)
        return None, {"model_name": lookup["registered_model_name"], "alias": lookup["alias"]}

    monkeypatch.setattr(session_module, "load_champion", fake)
    session = Session()
    common = dict(model_name=None, registered_model_name="credit-risk", tracking_uri="sqlite://")
    for section in ("gates.performance", "gates.explainability"):
        assert session.champion(**common, alias="production", section=section)[0] is None
    assert len(calls) == 1
    session.champion(**common, alias="staging", section="gates.performance")
    assert len(calls) == 2
