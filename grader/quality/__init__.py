"""How well grading agrees with human scores: metrics, evaluation, calibration."""
