"""Run tooling, channels and (later) the staff console."""
