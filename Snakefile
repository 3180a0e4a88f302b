# styleflow: artistic style transfer for videos as a grid of cached, incremental stages.
#
#   snakemake --cores 2                          the default grid on built-in demo material
#   snakemake --cores 2 --configfile my.yaml     another grid (replaces config/config.yaml)
#
# Configuration: config/config.yaml, checked against workflow/schemas/config.schema.yaml.
# Layout, rerun rules and resume: docs/pipeline.md.

from snakemake.utils import min_version, validate

min_version("9.0")


if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/frames.smk"
include: "workflow/rules/flow.smk"
include: "workflow/rules/consistency.smk"
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
