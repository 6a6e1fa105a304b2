"""CircuitPython `board` of the board picked with --board (pins, camera data tuple, `I2C()`)."""

import busio as _busio
import microcontroller.pin as _pin

from hostsim import world as _world

_board = _world.get().board
board_id = _world.get().config.board

for _name, _gpio in _board.pins.items():
    globals()[_name] = getattr(_pin, f"GPIO{_gpio}")
globals()[_board.data_name] = tuple(getattr(_pin, f"GPIO{g}") for g in _board.data)
del _name, _gpio


def I2C() -> _busio.I2C:
    """The board's default bus, created once per boot (SCL/SDA)."""
    world = _world.get()
    bus: _busio.I2C | None = world.board_i2c
    if bus is None or bus.deinited():
        bus = world.board_i2c = _busio.I2C(globals()["SCL"], globals()["SDA"])
    return bus
