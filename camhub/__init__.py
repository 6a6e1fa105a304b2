"""CamStream hub: receives JPEG frames from CircuitPython cameras, shows them live, records them."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("camstream")  # the firmware's camstream.__version__, through pyproject.toml
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "unknown"
