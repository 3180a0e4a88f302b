"""Evaluation: warping error and loss metrics of stylised clips, the ablation table and the plots."""
