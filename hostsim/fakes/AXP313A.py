"""The AXP313A power-chip driver that CircuitPython freezes into the FireBeetle 2 ESP32-S3 build.

Same names and calls as bill88t/CircuitPython_AXP313A (the frozen library), written against its register
protocol: 0x10 switches the LDOs (0x19: ALDO and DLDO on, 0x01: off), 0x16 and 0x17 set ALDO (DVDD) and
DLDO (AVDD/DOVDD) in 0.1 V steps from 0.5 V. Only boards that freeze it can import it.
"""

import time as _time

from hostsim import world as _world

if not _world.get().board.axp313a:
    raise ImportError("no module named 'AXP313A'")

_ADDRESS = 0x36


class camera_voltages:  # noqa: N801  (the library's name)
    """(DVDD, AVDD/DOVDD) in volts for the sensors the library knows."""

    OV2640 = [1.2, 2.8]
    OV7725 = [1.8, 3.3]


def _code(volts: float) -> int:
    if volts < 0.5:
        return 0
    return min(31, int((volts - 0.5) * 10))


class AXP313A:
    def __init__(self, i2c) -> None:  # type: ignore[no-untyped-def]
        self.i2c = i2c

    def begin(self) -> bool:
        """True when the chip answers on the bus."""
        if not self.i2c.try_lock():
            return False
        try:
            return _ADDRESS in self.i2c.scan()
        finally:
            self.i2c.unlock()

    def set_power(self, DVDD: float, AVDDorDOVDD: float) -> bool:  # noqa: N803  (the library's names)
        if not self.begin():
            return False
        if DVDD < 0.5 or AVDDorDOVDD < 0.5:
            dvdd = avdd = 0
        else:
            dvdd, avdd = _code(DVDD), _code(AVDDorDOVDD)
        for register, value in ((0x10, 0x19), (0x16, dvdd), (0x17, avdd)):
            self._write(register, value)
            _time.sleep(0.01)
        return True

    def disable_power(self) -> None:
        self._write(0x10, 0x01)
        _time.sleep(0.01)

    def _write(self, register: int, value: int) -> None:
        while not self.i2c.try_lock():
            pass
        try:
            self.i2c.writeto(_ADDRESS, bytes((register, value)))
        finally:
            self.i2c.unlock()


def enable_camera(axpobject: AXP313A, camera: list[float]) -> bool:
    return axpobject.set_power(camera[0], camera[1])


def disable_camera(axpobject: AXP313A) -> None:
    axpobject.disable_power()
