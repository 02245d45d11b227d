"""synth: generated data — for now the demo city; later the full synthetic city and outbreak."""
