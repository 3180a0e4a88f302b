# styleflow: artistic style transfer for videos as a grid of cached, incremental stages.
#
#   snakemake --cores 2                          the default grid on built-in demo material
#   snakemake --cores 2 --configfile my.yaml     another grid (replaces config/config.yaml)
#
# Configuration: config/config.yaml, checked against workflow/schemas/config.schema.yaml.
# Layout, rerun rules and resume: docs/pipeline.md.

import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")

# The library next to this Snakefile (src/styleflow) is the one the rules import, here and in
# every job, also in a software environment built by `--sdm conda` (workflow/envs/styleflow.yaml
# holds its dependencies, not styleflow itself; the profiles say conda-not-block-search-path-envvars
# so that conda jobs keep PYTHONPATH). PYTHONPATH is extended, not required, so there is nothing
# for an `envvars:` directive to assert.
SRC = os.path.join(workflow.basedir, "src")
if os.path.isdir(os.path.join(SRC, "styleflow")):
    sys.path.insert(0, SRC)
    paths = [SRC, *filter(None, [os.environ.get("PYTHONPATH")])]
    os.environ.update(PYTHONPATH=os.pathsep.join(paths))


if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


from snakemake.exceptions import WorkflowError

from styleflow.errors import StyleflowError
from styleflow.options.schema import check_config as _check_schema

# One line naming the key (and the closest valid one) instead of validate's schema dump;
# validate then fills in the defaults.
try:
    _check_schema(
        config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
    )
except StyleflowError as exc:
    raise WorkflowError(str(exc)) from None
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


# `gpu` counts GPUs per machine, not across a cluster: a local run (profiles/default says
# gpu=1) runs one GPU job at a time, a cluster run through profiles/slurm is not throttled by
# it (each job's own allocation holds its GPU).
resource_scopes:
    gpu="local",


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/frames.smk"
include: "workflow/rules/flow.smk"
include: "workflow/rules/consistency.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/plan.smk"
include: "workflow/rules/sequence.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/flowviz.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/images.smk"


localrules:
    all,
    demo_clip,
    demo_style,


rule all:
    default_target: True
    input:
        all_targets(),
        comparison_targets(),
        images_targets(),
