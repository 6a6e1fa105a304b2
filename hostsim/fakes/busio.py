"""CircuitPython `busio.I2C` (the camera's SCCB bus); pins are claimed like on the board."""

from hostsim import world as _world
from microcontroller import Pin as _Pin

_OV5640_ADDRESS = 0x3C


class I2C:
    def __init__(self, scl: _Pin, sda: _Pin, *, frequency: int = 100000, timeout: int = 255) -> None:
        for role, pin in (("scl", scl), ("sda", sda)):
            if not isinstance(pin, _Pin):
                raise TypeError(f"{role} must be of type Pin, not {type(pin).__name__}")
        world = _world.get()
        world.claim(scl._gpio, "scl")
        try:
            world.claim(sda._gpio, "sda")
        except ValueError:
            world.release(scl._gpio)
            raise
        self.scl_gpio, self.sda_gpio = scl._gpio, sda._gpio
        self.frequency = frequency
        self._locked = False
        self._deinited = False

    def _check(self) -> None:
        if self._deinited:
            raise ValueError("Object has been deinitialized and can no longer be used. Create a new object.")

    def deinit(self) -> None:
        if not self._deinited:
            world = _world.get()
            world.release(self.scl_gpio)
            world.release(self.sda_gpio)
            self._deinited = True

    def deinited(self) -> bool:
        return self._deinited

    def __enter__(self) -> "I2C":
        return self

    def __exit__(self, *args: object) -> None:
        self.deinit()

    def try_lock(self) -> bool:
        self._check()
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self) -> None:
        self._check()
        self._locked = False

    def scan(self) -> list[int]:
        """The OV5640 answers at 0x3C on the board's camera bus."""
        self._check()
        board = _world.get().board
        return [_OV5640_ADDRESS] if (self.sda_gpio, self.scl_gpio) == (board.camera_sda, board.camera_scl) else []
