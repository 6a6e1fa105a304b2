"""Annotation-only names from circuitpython_typing.socket."""


def __getattr__(name):
    return object
