"""CamStream firmware: stream JPEG frames from an ESP32-S3 camera board to a CamStream hub."""

__version__ = "0.2.0"
