"""make bench: the platform's speed beside the ceilings of this machine, measured in one run."""
