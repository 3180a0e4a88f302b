"""Reading and writing: images, video decode/encode/probe, frames folders (and the one frame cache),
Middlebury ``.flo``, atomic writes, the results layout, and the one rule for whether a cached stage
output is still current (``records``)."""
