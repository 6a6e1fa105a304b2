"""The main loop: keep the link and registration up, take and upload frames at the target rate.

Every known failure is counted by kind, reported in one console line and retried after a short
backoff; anything else (a bug) propagates so code.py prints its traceback and rebuilds.
"""

from camstream import __version__, errors, ticks
from camstream.backoff import Backoff
from camstream.errors import HTTPStatusError, error_detail
from camstream.ratecontrol import RateControl
from camstream.remote import RemoteSettings
from camstream.stats import Stats

AUTH_RETRY_S = 4.0  # a wrong API key does not fix itself quickly: do not hammer the hub, but resume within 5 s
QUIET_MS = 1000  # at most one error line per kind per second, however often it fails
REMIND_MS = 30000  # and at least one every 30 s while a failure streak lasts


class Streamer:
    """Wires injected parts; `system` reports heap/CPU facts, `watchdog` has start/feed/stop (or None).

    It owns the rate control (`rate`) and the settings the hub sends (`remote`), which may change the frame
    rate and heartbeat period it keeps (`retime()`).
    """

    def __init__(self, cfg, camera, uplink, control, link, system, clock, sleep, watchdog=None):
        self._cfg = cfg
        self._camera = camera
        self._uplink = uplink
        self._control = control
        self._link = link
        self._system = system
        self._clock = clock
        self._sleep = sleep
        self._watchdog = watchdog
        # Fed between the phases of a step, each bounded by budget.py: a phase that outlasts it is a hang.
        self._feed = watchdog.feed if watchdog is not None else _nothing
        self.target_fps = cfg.target_fps
        self._interval_ms = 1000 // cfg.target_fps
        self._heartbeat_ms = cfg.heartbeat_s * 1000
        self.rate = RateControl(
            camera, cfg.adapt, cfg.target_fps, cfg.min_frame_size, cfg.max_quality, system.largest_free_block
        )
        self.remote = RemoteSettings(cfg, camera, self.rate, self, system.largest_free_block)
        self._settings_problem = ""
        self._backoff = Backoff()
        now = clock()
        self.stats = Stats(now)
        self.seq = 0
        self._next_frame = now
        self._next_heartbeat = now
        self._next_stats = ticks.add(now, cfg.stats_s * 1000)
        self._streak_kind = ""
        self._streak = 0
        self._last_line = {}
        self._answered = self._frame_answered  # bound once: the uplink calls it for every frame's answer
        self._refused = None  # (status, frame bytes, detail) of the first frame refused in this step

    def run(self):
        """Stream forever."""
        if self._watchdog is not None:
            self._watchdog.start()
        while True:
            self.step()

    def step(self):
        """One iteration: at most one frame, plus whatever upkeep is due."""
        try:
            self._work()
        except Exception as exc:
            delay = self._fail(exc)
            if self._uplink.pending:
                self._feed()
                try:
                    self._settle()
                except Exception as again:
                    delay = max(delay, self._fail(again))
        else:
            delay = 0.0
            if self._streak > 1:
                print("Recovered: streaming again after %d %s errors" % (self._streak, self._streak_kind))
            if self._streak:
                self._streak = 0
                self._streak_kind = ""
            self._backoff.reset()
        now = self._clock()  # one read for the stats check and the pacing: nothing slow runs between them
        self._report_if_due(now)
        self.rate.tick(now)
        self._feed()
        if delay:
            self._sleep(delay)
            self._next_frame = self._clock()
        else:
            self._pace(now)

    def close(self):
        """Release the camera, socket and watchdog (code.py may wait before rebuilding)."""
        for release in (self._stop_watchdog, self._settle, self._uplink.close, self._camera.close):
            try:
                release()
            except Exception as exc:
                print("Close: %s: %s" % (type(exc).__name__, exc))

    def _stop_watchdog(self):
        if self._watchdog is not None:
            self._watchdog.stop()

    def _work(self):
        feed = self._feed
        if self._link.ensure():
            self._control.registered = False
        feed()
        if not self._control.registered:
            self._settle()
            feed()
            self._register()
            feed()
        now = self._clock()
        if ticks.diff(now, self._next_heartbeat) >= 0:
            self._settle()
            feed()
            report = False
            try:
                report = self._heartbeat()
            finally:
                # Counted from when it ended: a heartbeat that blocks for its timeouts must not make the next
                # one due at once, or frames would never get a turn while the hub hangs.
                self._next_heartbeat = ticks.add(self._clock(), self._heartbeat_ms)
            if report:
                self._next_heartbeat = self._clock()  # tell the hub at once what of its settings holds
            feed()
            now = self._clock()
        self._frame(now)
        if self._pausing():
            feed()
            self._settle()

    def _pausing(self):
        """True when the next step will not send a frame at once: then no answer may wait in flight."""
        now = self._clock()
        return (
            ticks.diff(ticks.add(self._next_frame, self._interval_ms), now) > 0
            or ticks.diff(now, self._next_heartbeat) >= 0
            or ticks.diff(now, self._next_stats) >= 0
        )

    def _register(self):
        cfg = self._cfg
        camera = self._camera
        self._control.register(
            cfg.device_name,
            self._link.ip(),
            {
                "firmware": "camstream/" + __version__,
                "sensor": camera.sensor_name,
                "frameSize": camera.frame_size,
                "quality": camera.quality,
                "targetFps": self.target_fps,
                "adapt": self.rate.policy,
                "upload": self._uplink.mode,
            },
        )
        self._next_heartbeat = ticks.add(self._clock(), self._heartbeat_ms)

    def _heartbeat(self):
        """One heartbeat; applies the settings its answer carries. True when they changed something."""
        system = self._system
        stats = self.stats
        answer = self._control.heartbeat(
            {
                "uptime": system.uptime_ms(),
                "freeHeap": system.free_heap(),
                "wifiRssi": self._link.rssi(),
                "fps": round(stats.fps, 1),
                "framesSent": stats.frames_sent,
                "framesDropped": stats.frames_dropped,
                "frameSize": self._camera.frame_size,
                "quality": self._camera.quality,
                "targetFps": self.target_fps,
                "cpuTemperature": system.cpu_temperature(),
                "resetReason": system.reset_reason(),
                "adapt": self.rate.report(),
                "settings": self.remote.report(),
            }
        )
        settings = answer.get("settings") if answer else None
        if settings is None:
            return False
        try:
            return self.remote.apply(settings)
        except ValueError as exc:
            problem = str(exc)
            if problem != self._settings_problem:
                print("Hub: settings in the heartbeat answer ignored: %s" % problem)
            self._settings_problem = problem
            return False

    def retime(self, target_fps, heartbeat_s):
        """A new frame rate target and heartbeat period (from the hub's settings)."""
        self.target_fps = target_fps
        self._interval_ms = 1000 // target_fps
        self._heartbeat_ms = heartbeat_s * 1000

    def _frame(self, capture_ms):
        try:
            frame = self._camera.take()
        except Exception:
            self.stats.frame_dropped()
            raise
        self._feed()
        self.seq += 1
        self._refused = None
        uplink = self._uplink
        uplink.submit(frame, self.seq, capture_ms, self._answered)
        self.rate.sent(len(frame), uplink.send_ms)
        self._raise_refused()

    def _settle(self):
        """Read the frame answer still in flight (pipelined uploads) and count it."""
        self._refused = None
        self._uplink.settle(self._answered)
        self._raise_refused()

    def _frame_answered(self, frame_len, status):
        """Counts one frame by its answer; status 0: lost with the socket (the uplink raises the cause)."""
        stats = self.stats
        if 200 <= status < 300:
            stats.frame_sent(frame_len)
            return
        stats.frame_dropped()
        if status and self._refused is None:
            self._refused = (status, frame_len, error_detail(self._uplink.body))

    def _raise_refused(self):
        refused = self._refused
        if refused is None:
            return
        self._refused = None
        status, frame_len, detail = refused
        if status == 413:
            detail = (
                "frame of %d bytes too large for the hub: lower CAMSTREAM_FRAME_SIZE or raise the hub's limit"
                % frame_len
            )
        raise HTTPStatusError(status, "frame upload", detail)

    def _fail(self, exc):
        """Count and report a failure; returns the delay before retrying. Re-raises bugs."""
        kind = errors.classify(exc)
        if kind == "other":
            raise exc
        count = self.stats.error(kind)
        if kind == "memory":
            self._system.collect()
        if kind == "camera":
            delay = 0.0  # take() already waited for the sensor
        elif kind == "auth":
            delay = AUTH_RETRY_S
        else:
            delay = self._backoff.next()
        if kind == self._streak_kind:
            self._streak += 1
        else:
            self._streak_kind = kind
            self._streak = 1
        if self._should_report(kind):
            print(errors.line(kind, count, exc, delay))
        return delay

    def _should_report(self, kind):
        """1st, 2nd, 4th, 8th ... failure in a row, but not more than once a second; remind every 30 s."""
        now = self._clock()
        last = self._last_line.get(kind)
        since = REMIND_MS if last is None else ticks.diff(now, last)
        streak = self._streak
        if since >= REMIND_MS or (streak & (streak - 1) == 0 and since >= QUIET_MS):
            self._last_line[kind] = now
            return True
        return False

    def _report_if_due(self, now):
        if ticks.diff(now, self._next_stats) < 0:
            return
        self._next_stats = ticks.add(now, self._cfg.stats_s * 1000)
        system = self._system
        camera = self._camera
        rate = self.rate
        picture = "%s q%d (adapt %s; %d change(s), %d reconfigure(s))" % (
            camera.frame_size,
            camera.quality,
            rate.policy,
            rate.changes,
            camera.reconfigures,
        )
        lines = self.stats.report(
            now,
            self.target_fps,
            (picture, rate.describe_link(), rate.describe_change(now)),
            system.free_heap(),
            system.free_psram(),
            self._link.rssi(),
            system.cpu_mhz(),
            system.cpu_temperature(),
        )
        print("\n".join(lines))

    def _pace(self, now):
        """Sleep out the rest of this frame's slot; when behind, start afresh rather than burst."""
        interval = self._interval_ms
        next_frame = ticks.add(self._next_frame, interval)
        wait = ticks.diff(next_frame, now)
        if wait > 0:
            self._next_frame = next_frame
            self._sleep(wait / 1000)
        else:
            self._next_frame = now if wait < -interval else next_frame


def _nothing():
    pass
