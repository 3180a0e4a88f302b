"""styleflow: reproducible artistic style transfer for images and videos.

Gatys et al. (2015) image stylisation and Ruder et al. (2016) video stylisation with optical
flow, usable from Python, from the ``styleflow`` command line and from the Snakemake workflow.
"""

__version__ = "0.2.0"
