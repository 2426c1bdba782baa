"""Training, data and evaluation (needs the [train] extra); never imported by refine()."""
