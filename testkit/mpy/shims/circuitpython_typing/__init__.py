"""Annotation-only names from adafruit-circuitpython-typing, which the board never loads."""


def __getattr__(name):
    return object
