"""Fixtures of the shadow gate's tests (component folders do not see tests/conftest.py)."""

import pytest

from quality_gates.components.shadow_gate.tests.traffic import Traffic, make_traffic


@pytest.fixture(scope="module")
def traffic(tmp_path_factory) -> Traffic:
    """Models and 6000 logged requests on disk, shared by a module's tests."""
    return make_traffic(tmp_path_factory.mktemp("shadow"))
