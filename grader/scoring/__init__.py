"""From evidence to a score: signals, the one scoring rule, gaming checks, defaults."""
