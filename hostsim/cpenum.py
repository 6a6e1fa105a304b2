"""CircuitPython's enum-like constant classes (`ResetReason.WATCHDOG`, `FrameSize.HD`, ...)."""

from __future__ import annotations


class CPEnum:
    """Members are instances of the class itself, printed as `Class.NAME` like on the board."""

    _names: tuple[str, ...] = ()

    def __init__(self, name: str, value: object = None) -> None:
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    @classmethod
    def define(cls, names: dict[str, object] | tuple[str, ...]) -> None:
        items = names.items() if isinstance(names, dict) else ((n, None) for n in names)
        for name, value in items:
            setattr(cls, name, cls(name, value))
        cls._names = tuple(names)

    @classmethod
    def members(cls) -> list["CPEnum"]:
        return [getattr(cls, n) for n in cls._names]
