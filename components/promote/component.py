"""KFP component wrapper of the promotion step (runs only under ``dsl.If(all_passed == True)``)."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Model, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("promote"), install_kfp_package=False)
def promote(
    scorecard: Input[Artifact],
    registered_model_name: str,
    promotion: Output[Artifact],
    model_uri: str = "",
    model: Input[Model] = None,
    alias: str = "staging",
    mlflow_tracking_uri: str = "",
) -> str:
    """Register the candidate with lineage tags and set the alias; refuse changed bytes.

    Args:
        scorecard: The aggregator's scorecard JSON.
        registered_model_name: Registered model to add the version to.
        promotion: JSON record of the promotion (name, version, alias, previous holder).
        model_uri: The candidate's URI; leave empty when ``model`` is wired.
        model: The candidate as a KFP ``Model`` artifact (the one the gates judged).
        alias: Alias to set.
        mlflow_tracking_uri: MLflow tracking URI; empty means ``MLFLOW_TRACKING_URI``.

    Returns:
        The registered version number.
    """
    from quality_gates.components.promote.core import (
        candidate_source,
        load_scorecard,
        promote_from_scorecard,
        promotion_json,
    )

    model_uri, model_path = candidate_source(model_uri, model)
    done = promote_from_scorecard(
        scorecard=load_scorecard(scorecard.path),
        model_uri=model_uri,
        model_path=model_path,
        registered_model_name=registered_model_name,
        alias=alias,
        tracking_uri=mlflow_tracking_uri or None,
    )
    with open(promotion.path, "w", encoding="utf-8") as fh:
        fh.write(promotion_json(done))
    promotion.metadata.update({"version": done.version, "alias": done.alias})
    return done.version
