"""Write a free sample image from the installed scikit-image (rule demo_image)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.data.samples import write_sample

write_sample(snakemake.wildcards.sample, snakemake.output.image)
