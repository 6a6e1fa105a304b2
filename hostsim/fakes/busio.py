"""CircuitPython `busio.I2C` (the camera's SCCB bus); pins are claimed like on the board.

On the camera's bus the OV5640 answers at 0x3C and, on boards that have one, the AXP313A power chip at 0x36,
whose registers record what is written to them. scan() and writeto() need the lock, as on the board.
"""

from microcontroller import Pin as _Pin

from hostsim import world as _world
from hostsim.world import AXP313A_ADDRESS as _AXP313A

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

    def _check_lock(self) -> None:
        self._check()
        if not self._locked:
            raise RuntimeError("Function requires lock")

    def _devices(self) -> list[int]:
        board = _world.get().board
        if (self.sda_gpio, self.scl_gpio) != (board.camera_sda, board.camera_scl):
            return []
        return sorted([_OV5640_ADDRESS] + ([_AXP313A] if board.axp313a else []))

    def scan(self) -> list[int]:
        self._check_lock()
        return self._devices()

    def writeto(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:  # type: ignore[no-untyped-def]
        """A register write: the first byte is the register, the next ones its value(s)."""
        self._check_lock()
        data = bytes(buffer)[start:end]
        if address not in self._devices():
            raise OSError(19)  # ENODEV: no ACK
        registers = _world.get().i2c_registers
        for offset, value in enumerate(data[1:]):
            registers[(address, data[0] + offset)] = value
