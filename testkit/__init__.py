"""What the tests and the benchmarks share: fakes of the board's I/O (MicroPython-compatible: `fakes`), the
MicroPython and CircuitPython-core runners (`mpy`) and the guest-side probes they run (`guest/`), JPEG makers
(`jpegs`), the hub in-process or as a subprocess (`hubs`), the virtual board as a subprocess (`boards`), the
scriptable device-API server (`devserver`), recording checks (`recordings`) and the browser (`browser`)."""
