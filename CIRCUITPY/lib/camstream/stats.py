"""Streaming statistics: counters, and the block printed on the console every CAMSTREAM_STATS_S."""

from camstream import ticks

HEADER = "=== CamStream stats ==="


def rating(fps):
    if fps >= 25:
        return "EXCELLENT"
    if fps >= 15:
        return "GOOD"
    if fps >= 8:
        return "MODERATE"
    return "NEEDS OPTIMIZATION"


def _kb(nbytes):
    return "%.1f KB" % (nbytes / 1024)


def _duration(ms):
    s = ms // 1000
    return "%dh %02dm %02ds" % (s // 3600, s // 60 % 60, s % 60)


class Stats:
    """Totals since start plus a window (since the last report) for current fps and throughput."""

    def __init__(self, now_ms):
        self.frames_sent = 0
        self.frames_dropped = 0
        self.bytes_sent = 0
        self.errors = {}
        self.fps = 0.0
        self.runtime_ms = 0
        self._window_start = now_ms
        self._window_frames = 0
        self._window_bytes = 0

    @property
    def frames_total(self):
        return self.frames_sent + self.frames_dropped

    def frame_sent(self, nbytes):
        self.frames_sent += 1
        self.bytes_sent += nbytes
        self._window_frames += 1
        self._window_bytes += nbytes

    def frame_dropped(self):
        self.frames_dropped += 1

    def error(self, kind):
        """Count one failure of `kind`; returns the running count."""
        count = self.errors.get(kind, 0) + 1
        self.errors[kind] = count
        return count

    def report(self, now_ms, target_fps, adaptation, free_heap, free_psram, rssi, cpu_mhz, temperature):
        """Close the current window and return the console block as a list of `Label: value` lines.

        `adaptation` is (picture, link, last change): what rate control has made of the link."""
        window_ms = ticks.diff(now_ms, self._window_start)
        if window_ms < 1:
            window_ms = 1
        self.runtime_ms += window_ms
        self.fps = self._window_frames * 1000 / window_ms
        throughput = self._window_bytes * 1000 / window_ms
        average = self._window_bytes / self._window_frames if self._window_frames else 0
        total = self.frames_total
        success = 100.0 * self.frames_sent / total if total else 0.0
        if self.errors:
            errors = ", ".join("%s=%d" % (k, self.errors[k]) for k in sorted(self.errors))
        else:
            errors = "none"
        cpu = "%d MHz" % cpu_mhz
        if temperature is not None:
            cpu += ", %.1f C" % temperature
        lines = [
            HEADER,
            "Runtime: " + _duration(self.runtime_ms),
            "FPS: %.1f (target %d)" % (self.fps, target_fps),
            "Frames total: %d" % total,
            "Frames sent: %d" % self.frames_sent,
            "Frames dropped: %d" % self.frames_dropped,
            "Success rate: %.1f%%" % success,
            "Average frame: " + _kb(average),
            "Throughput: %.1f KB/s" % (throughput / 1024),
            "Picture: " + adaptation[0],
            "Link: " + adaptation[1],
            "Last change: " + adaptation[2],
            "Free heap: " + _kb(free_heap),
            "Free PSRAM: " + ("n/a" if free_psram is None else _kb(free_psram)),
            "WiFi RSSI: " + ("n/a" if rssi is None else "%d dBm" % rssi),
            "CPU: " + cpu,
            "Rating: " + rating(self.fps),
            "Errors: " + errors,
        ]
        self._window_start = now_ms
        self._window_frames = 0
        self._window_bytes = 0
        return lines
