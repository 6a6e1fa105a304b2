"""CircuitPython's enum-like constant classes (`ResetReason.WATCHDOG`, `FrameSize.HD`, ...).

A subclass declares its members as class annotations (`HD: ClassVar[FrameSize]`), in the board's order; each
becomes an instance named after it, with its value from the class's `_values` (None when absent).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

E = TypeVar("E", bound="CPEnum")


class CPEnum:
    """Members are instances of the class itself, printed as `Class.NAME` like on the board."""

    _names: ClassVar[tuple[str, ...]] = ()
    _values: ClassVar[dict[str, Any]] = {}

    def __init__(self, name: str, value: Any = None) -> None:
        self.name = name
        self.value = value

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = tuple(name for name in cls.__dict__.get("__annotations__", {}) if not name.startswith("_"))
        for name in names:
            setattr(cls, name, cls(name, cls._values.get(name)))
        cls._names = names

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    @classmethod
    def named(cls: type[E], name: str) -> E:
        """The member called `name` (AttributeError for none)."""
        if name not in cls._names:
            raise AttributeError(f"{cls.__name__} has no member {name!r}")
        member: E = getattr(cls, name)
        return member

    @classmethod
    def members(cls: type[E]) -> list[E]:
        return [cls.named(name) for name in cls._names]
