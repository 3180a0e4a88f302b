"""Colour handling: luminance-only transfer (preserve the content's colours) and palette transfer."""
