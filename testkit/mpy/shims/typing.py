"""Enough `typing` for libraries that import it when sys.implementation.name != "circuitpython"."""

TYPE_CHECKING = False


class _Anything:
    def __getitem__(self, item):
        return self

    def __call__(self, *args, **kwargs):
        return self


def cast(_type, value):
    return value


def __getattr__(name):
    return _Anything()
