"""Loss functions of style transfer: content, temporal and total variation (``functional``), the one
Gram (``gram``), the style targets incl. blends (``targets``) and the one loss meter that the
optimiser, the metrics and the layer figure share (``meter``)."""
