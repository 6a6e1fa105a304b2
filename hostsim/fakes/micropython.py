"""CircuitPython `micropython`: `const()` is an identity on the board too (the compiler inlines it)."""


def const(expr):  # type: ignore[no-untyped-def]
    return expr
