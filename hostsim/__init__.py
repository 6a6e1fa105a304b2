"""hostsim: a virtual ESP32-S3 + OV5640 CircuitPython board that runs the unmodified CIRCUITPY/code.py on a PC.

`python -m hostsim --help` documents the command line; `hostsim/fakes/` holds the CircuitPython modules
(board, busio, microcontroller, watchdog, supervisor, espcamera, espidf, wifi, socketpool, micropython) and
`hostsim.world` the state they share (clock, faults, link, radio, watchdog).
"""
