"""The teacher's review: answer groups, overrides and what changed between runs."""
