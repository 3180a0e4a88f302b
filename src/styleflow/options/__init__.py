"""Stylisation options: the one registry of options (type, range, default per preset, help), the presets and the resolved settings."""
