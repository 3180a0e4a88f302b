"""Evaluation: the warping error (``warping``, pure), loss metrics of stylised clips and runs on disk
(``metrics``, the metrics rule's entry point ``score_run``), the ablation table and the plots."""
