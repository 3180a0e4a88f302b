"""Encoders: the VGG backbones with the paper's layer names, where their weights come from, and their input preprocessing."""
