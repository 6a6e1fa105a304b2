"""Names that library type hints import from `types` (only used where MicroPython has no `types`)."""


def __getattr__(name):
    return object
