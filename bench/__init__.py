"""CamStream benchmarks: `python -m bench` runs all three parts and prints their tables (see bench/__main__.py)."""
