"""Release safety: shadow evaluation, canary rollout, traffic routers and live metrics."""
