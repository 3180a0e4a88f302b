"""The image optimisation (Gatys et al.): the L-BFGS/Adam loop with its stopping rules and divergence
guard (``stylizer``), precision and device policy (``precision``), the coarse-to-fine pyramid
(``pyramid``), the [0, 1] projection (``projection``) and the one-image job (``stylize_image``)."""
