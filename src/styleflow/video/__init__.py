"""Video stylisation (Ruder et al.): the sequential stylisation of a clip, the named variants, and the one-clip job of ``styleflow video``."""
