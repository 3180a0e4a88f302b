"""Motion between frames: optical flow estimation, backward warping, the reference consistency check, scene cuts, and the flow and mask stages over a clip."""
