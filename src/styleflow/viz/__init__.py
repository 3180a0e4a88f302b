"""Figures and videos for people: side-by-side videos, contact sheets, the layer figure, flow visualisation."""
