"""CircuitPython `espidf`: the board's PSRAM (see hostsim.boards, none with --no-psram) and the ESP-IDF heap.

CircuitPython 10 takes its own VM heap from the IDF heap too (PSRAM first: port_malloc in
ports/espressif/supervisor/port.c), so camera frame buffers share PSRAM with it. Internal RAM holds what WiFi,
lwIP and the IDF need; `heap_caps_*` report both regions together (MALLOC_CAP_8BIT), and the largest free block
is in PSRAM when there is PSRAM.
"""

import builtins as _builtins

from hostsim import world as _world

_INTERNAL = 327_680
_SYSTEM_USE = 96_000  # WiFi, lwIP and the IDF itself, in internal RAM
_VM_HEAP = 262_144  # what CircuitPython's VM heap grows to in PSRAM with CamStream and its libraries loaded
_SOCKET_COST = 6_000
_DRAM_LARGEST_BLOCK = 80_000  # without PSRAM: VGA frame buffers fit, SVGA and larger do not


class IDFError(OSError):
    """An ESP-IDF call failed."""


class MemoryError(_builtins.MemoryError):  # noqa: A001  (CircuitPython's name)
    """ESP-IDF ran out of memory."""


def get_total_psram() -> int:
    world = _world.get()
    return world.board.psram if world.config.psram else 0


def heap_caps_get_total_size() -> int:
    return _INTERNAL + get_total_psram()


def _internal_free() -> int:
    return max(0, _INTERNAL - _SYSTEM_USE - _SOCKET_COST * len(_world.get().open_sockets))


def psram_free() -> int:
    """PSRAM left for camera frame buffers (hostsim's own accounting; the board has no such call)."""
    world = _world.get()
    if not world.config.psram:
        return 0
    camera = world.camera.allocated_bytes() if world.camera is not None else 0
    return max(0, get_total_psram() - _VM_HEAP - camera)


def heap_caps_get_free_size() -> int:
    return _internal_free() + psram_free()


def heap_caps_get_largest_free_block() -> int:
    """Internal RAM is fragmented; with PSRAM the largest block is in PSRAM."""
    if _world.get().config.psram:
        return psram_free()
    return min(_internal_free(), _DRAM_LARGEST_BLOCK)


def erase_nvs() -> None:
    pass
