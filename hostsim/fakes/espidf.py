"""CircuitPython `espidf`: PSRAM (8 MB unless --no-psram) and the ESP-IDF heap the camera allocates from."""

import builtins as _builtins

from hostsim import world as _world

_INTERNAL = 327_680
_SYSTEM_USE = 96_000  # WiFi, lwIP and the IDF itself
_PSRAM_FOR_IDF = 2_097_152  # PSRAM CircuitPython leaves to ESP-IDF (camera frame buffers)
_SOCKET_COST = 6_000
_DRAM_LARGEST_BLOCK = 80_000  # without PSRAM: VGA frame buffers fit, SVGA and larger do not


class IDFError(OSError):
    """An ESP-IDF call failed."""


class MemoryError(_builtins.MemoryError):  # noqa: A001  (CircuitPython's name)
    """ESP-IDF ran out of memory."""


def get_total_psram() -> int:
    return 8_388_608 if _world.get().config.psram else 0


def heap_caps_get_total_size() -> int:
    return _INTERNAL + (_PSRAM_FOR_IDF if _world.get().config.psram else 0)


def _used() -> int:
    world = _world.get()
    camera = world.camera.allocated_bytes() if world.camera is not None else 0
    return _SYSTEM_USE + camera + _SOCKET_COST * len(world.open_sockets)


def heap_caps_get_free_size() -> int:
    return max(0, heap_caps_get_total_size() - _used())


def heap_caps_get_largest_free_block() -> int:
    """Internal RAM is fragmented; with PSRAM the largest block is in PSRAM."""
    return min(heap_caps_get_free_size(), _PSRAM_FOR_IDF if _world.get().config.psram else _DRAM_LARGEST_BLOCK)


def erase_nvs() -> None:
    pass
