"""KFP component wrapper of the refusal step (runs only under ``dsl.If(all_passed == False)``)."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Markdown, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("refusal"), install_kfp_package=False)
def refusal(
    scorecard: Input[Artifact],
    reasons: Output[Markdown],
    fail_run: bool = True,
) -> str:
    """Name why the candidate was refused and, by default, fail the run with that reason.

    Args:
        scorecard: The aggregator's scorecard JSON.
        reasons: Markdown: the decision and one line per gate that blocked.
        fail_run: Exit non-zero so the run ends FAILED (the default); False records the
            reasons and lets the run end SUCCEEDED.

    Returns:
        The one-line refusal message (only reached when ``fail_run`` is False).
    """
    import sys

    from quality_gates.components.promote.core import load_scorecard
    from quality_gates.components.refusal.core import refusal_markdown, refusal_message

    card = load_scorecard(scorecard.path)
    with open(reasons.path, "w", encoding="utf-8") as fh:
        fh.write(refusal_markdown(card))
    message = refusal_message(card)
    print(message, file=sys.stderr, flush=True)
    if fail_run:
        # SystemExit, not an exception: the pod log ends with the reason, not a traceback.
        raise SystemExit(1)
    return message
