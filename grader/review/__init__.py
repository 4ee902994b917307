"""The teacher's review: answer groups, overrides and what changed between runs.

The defaults the CLI shows live here, so that `grader --help` does not import the modules.
"""

# Answers at or above this similarity are grouped for one decision: near-identical wording.
DEFAULT_THRESHOLD = 0.92
