"""Encoders: the VGG backbones with the paper's layer names, where their weights come from, their
input preprocessing, and images ↔ backbone tensors (``tensors``)."""
