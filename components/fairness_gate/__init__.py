"""Fairness gate: group and intersectional disparities (fairlearn-compatible, vectorised)."""
