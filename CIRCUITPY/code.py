"""CamStream: stream this board's camera to the hub named in settings.toml (see that file)."""

import time
import traceback

import supervisor

from camstream.errors import CameraInitError, missing_module
from camstream.settings import SettingsError

RELOAD_AFTER = 5  # failed runs in a row before a soft restart
HEALTHY_S = 60  # a run at least this long clears the failure count


def main():
    try:
        from camstream import device
    except ImportError as exc:
        print("CamStream: " + missing_module(exc))
        return
    try:
        cfg = device.read_settings()
    except SettingsError as exc:
        print(exc)
        return
    failures = 0
    while True:
        started_s = time.monotonic_ns() // 1_000_000_000
        streamer = None
        try:
            streamer = device.build(cfg)
            streamer.run()
        except CameraInitError as exc:
            print("CamStream: camera init failed: %s" % exc)
        except Exception as exc:
            # The one-argument form is documented; the 10.3.1 stub wrongly makes `value` required.
            traceback.print_exception(exc)  # type: ignore[call-arg]
        finally:
            if streamer is not None:
                streamer.close()
        if time.monotonic_ns() // 1_000_000_000 - started_s >= HEALTHY_S:
            failures = 0
        failures += 1
        if failures >= RELOAD_AFTER:
            print("CamStream: %d failures in a row; reloading" % failures)
            supervisor.reload()
            return
        delay = min(2**failures, 30)
        print("CamStream: restarting in %d s" % delay)
        time.sleep(delay)


main()
