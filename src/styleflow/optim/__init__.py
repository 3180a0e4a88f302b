"""The image optimisation (Gatys et al.): the L-BFGS/Adam loop, stopping rules, divergence guard, precision and device policy, coarse-to-fine pyramid, and the one-image job."""
