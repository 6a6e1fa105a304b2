"""The ESP32-S3's GPIOs (it has no GPIO22..25)."""

from microcontroller import Pin as _Pin

for _gpio in (*range(0, 22), *range(26, 49)):
    globals()[f"GPIO{_gpio}"] = _Pin(_gpio)
del _gpio
