"""Explainability gate: SHAP attributions judged against the policy (its image carries shap)."""
