"""Display names of the pipeline tasks whose state tells how a run ended.

The pipeline sets them (``pipelines/wiring.py``) and ``quality-gates submit --wait`` reads the
run's task states by them, so both sides name the same tasks.
"""

# Runs only when every gate passed; SUCCEEDED means the candidate holds the staging alias.
PROMOTE_TASK = "promote to staging"
# Runs only when a gate blocked; FAILED by default (a refused run is a failed run), SUCCEEDED
# when the pipeline was started with fail_on_refusal=false.
REFUSAL_TASK = "candidate refused"
