"""Rate control: hold the delivered frame rate on a link whose rate changes by the minute, with the best picture
that link allows (CAMSTREAM_ADAPT = "fps").

Per frame it only adds up integers (no allocation): the frame's bytes and the time they took to go into the
socket (`FrameUplink.send_ms`: lwIP's send buffer holds one 5744-byte buffer, so that is the time the link
needed for them). Once a window of WINDOW_MS holds frames it decides, from the share of each frame interval
the link spends sending:
- above DOWN_PCT: the best picture that needs at most FILL_PCT of the interval at the rate just measured. The
  quality number rises first (up to the worst allowed); the frame size steps down (to the smallest allowed)
  only when no quality number gets there, straight to the size that fits: one reconfigure().
- needing below UP_PCT of the interval for UP_WINDOWS windows in a row, at a rate measured conservatively (as if
  the send buffer was empty when each frame began): the best picture that needs at most FILL_PCT at that rate,
  or one step up on probation where the rate cannot say (frames that fit the empty buffer); never better than the
  ceiling (CAMSTREAM_FRAME_SIZE and CAMSTREAM_JPEG_QUALITY, or what the hub set), and only if it is worth a
  change (at least UP_GAIN_PCT more bytes of picture).
- a step up that the link does not carry (a step down within PROBATION_MS of it) bars that picture for HOLD_MS,
  twice as long each time it happens again: the steady parts do not oscillate.
Predictions scale the bytes measured now by the pixel count and by quality ** -0.75, the OV5640's JPEG size law
(hostsim/frames.py cites the measurements); each decision starts from a fresh measurement, so a scene that
compresses otherwise costs a second step, not a wrong one. "quality" measures and reports but changes nothing;
"off" does not even measure.
"""

from camstream import framesize, ticks

POLICIES = ("fps", "quality", "off")
WINDOW_MS = 1000
LONG_WINDOW_MS = 3000  # a link so slow that a window has fewer than MIN_FRAMES frames decides after this
MIN_FRAMES = 3
SETTLE_FRAMES = 2  # frames not measured after a change (one may have been exposed before it)
DOWN_PCT = 92
UP_PCT = 65
FILL_PCT = 80
UP_WINDOWS = 3
UP_GAIN_PCT = 15  # a step up must promise at least this much more picture (bytes): no creeping by tiny steps
PROBATION_MS = 8000
HOLD_MS = 30000
HOLD_MAX_MS = 240000
SEND_BUFFER = 5744  # lwIP's TCP send buffer on CircuitPython's ESP32-S3 builds (4 x 1436-byte segments)
OVERHEAD = 512  # HTTP request head and multipart framing per frame
QUALITY_MAX = 63
# 256 * (2 / q) ** 0.75: relative JPEG size at quality number q (index), computed once.
SIZE_AT = tuple(int(256 * (2 / q) ** 0.75 + 0.5) if q else 0 for q in range(QUALITY_MAX + 1))


def predict(nbytes, size, quality, new_size, new_quality):
    """Bytes a frame of `nbytes` at (size, quality) would have at (new_size, new_quality); small ints only."""
    density = nbytes * 16 // max(1, framesize.kilopixels(size))  # at most ~3300: a frame fits w * h / 5
    scaled = density * framesize.kilopixels(new_size) // 16
    return scaled * SIZE_AT[new_quality] // SIZE_AT[quality]


def _better(size, quality, than_size, than_quality):
    """A bigger frame size wins; at the same size, a lower quality number."""
    rung, than = framesize.rung(size), framesize.rung(than_size)
    return rung > than or (rung == than and quality < than_quality)


def _kb(nbytes):
    """ "12.3" (KB of 1024 bytes) in integers: nothing but the text is allocated."""
    tenths = nbytes * 10 // 1024
    return "%d.%d" % (tenths // 10, tenths % 10)


def _kbps(bytes_per_ms):
    return bytes_per_ms * 1000 // 1024


class RateControl:
    """`camera` is camstream.camera.Camera; `largest_free_block()` the PSRAM a bigger frame size may take."""

    def __init__(self, camera, policy, target_fps, min_size, worst_quality, largest_free_block):
        self._camera = camera
        self._largest_free_block = largest_free_block
        self.policy = policy
        self.target_fps = target_fps
        self.best_size = camera.frame_size
        self.best_quality = camera.quality
        self.min_size = min_size
        self.worst_quality = worst_quality
        self.changes = 0
        self.reason = ""
        self.changed_at = None
        self.link_kbps = 0  # KB/s of the last window that sent anything (0: not measured)
        self.busy_pct = 0
        self._up_windows = 0
        self._probation_at = None  # when the last step up was made
        self._probation = None  # (rung, quality) it went to
        self._barred = None  # (rung, quality, until): no step up to this picture or better until then
        self._hold_ms = HOLD_MS
        self._start = None  # the window: from when, frames, bytes, ms sending; the last frame's bytes and ms
        self._frames = self._bytes = self._send_ms = self._last_bytes = self._last_ms = 0
        self._skip = 0  # frames still to leave out after a change

    # -- per frame ----------------------------------------------------------------------------------------------

    def sent(self, nbytes, send_ms):
        """One frame's bytes went into the socket in `send_ms`."""
        if self.policy == "off":
            return
        if self._skip:
            self._skip -= 1
            return
        self._frames += 1
        self._bytes += nbytes
        self._send_ms += send_ms
        self._last_bytes = nbytes
        self._last_ms = send_ms

    def tick(self, now):
        """Decide, once a window is complete; cheap otherwise."""
        if self.policy == "off":
            return
        if self._start is None:
            self._start = now
            return
        elapsed = ticks.diff(now, self._start)
        if elapsed < WINDOW_MS or (self._frames < MIN_FRAMES and elapsed < LONG_WINDOW_MS):
            return
        frames, total, send = self._frames, self._bytes, self._send_ms
        self._reset_window(now)
        if not frames:
            return
        self.busy_pct = send * 100 // elapsed
        if send > 0:
            spare = total - frames * SEND_BUFFER
            saturated = self.busy_pct >= DOWN_PCT or spare <= 0
            self.link_kbps = _kbps(total // send if saturated else spare // send)
        if self.policy == "fps":
            self._decide(now, frames, total, send)

    def _reset_window(self, now):
        self._start = now
        self._frames = 0
        self._bytes = 0
        self._send_ms = 0
        self._last_bytes = 0
        self._last_ms = 0
        self._skip = 0

    # -- limits the hub or settings.toml give -------------------------------------------------------------------

    def set_limits(self, best_size, best_quality, min_size, worst_quality):
        """A new ceiling and floor: measurement and the bars on stepping up start afresh."""
        self.best_size, self.best_quality = best_size, best_quality
        self.min_size, self.worst_quality = min_size, worst_quality
        self.restart()

    def restart(self):
        self._up_windows = 0
        self._barred = None
        self._probation = None
        self._hold_ms = HOLD_MS
        self._reset_window(self._start or 0)
        self._start = None

    # -- decisions ----------------------------------------------------------------------------------------------

    def _decide(self, now, frames, total, send):
        interval = 1000 // self.target_fps
        load = send * 100 // (frames * interval)  # share of each interval spent putting bytes into the socket
        average = total // frames
        if load > DOWN_PCT:
            self._up_windows = 0
            rate = total // send
            if self._last_ms > 0 and self._last_bytes // self._last_ms * 10 < rate * 7:
                rate = self._last_bytes // self._last_ms  # the link just got much slower than the window says
            self._step(now, average, max(1, rate), interval, False)
            return
        # The link is busy longer than `send` says (the buffer's last bytes drain after it): judge room by the
        # share of each interval it needs at the rate measured from below; 0: frames too small to measure it.
        spare = total - frames * SEND_BUFFER
        rate = spare // send if spare > 0 and send > 0 else 0
        used = total * 100 // (rate * frames * interval) if rate else 0
        if used < UP_PCT and self._below_ceiling():
            self._up_windows += 1
            if self._up_windows >= UP_WINDOWS:
                self._up_windows = 0
                self._step(now, average, rate, interval, True)
        else:
            self._up_windows = 0

    def _below_ceiling(self):
        camera = self._camera
        return camera.quality > self.best_quality or framesize.rung(camera.frame_size) < framesize.rung(self.best_size)

    def _step(self, now, average, rate, interval, up):
        camera = self._camera
        size, quality = camera.frame_size, camera.quality
        budget = rate * interval // 100 * FILL_PCT - OVERHEAD if rate else 0
        choice = self._best_under(average, budget, up, now) if rate else None
        if up and (choice is None or not self._worth(choice, size, quality, average)):
            choice = self._probe(now)  # the measured rate is a lower bound: try one step, on probation
        if choice is None or (choice[0], choice[1]) == (size, quality):
            return
        new_size, new_quality, predicted = choice
        if up:
            if predicted:
                reason = "link has room: ~%d KB/s, sending %d%% of the time" % (_kbps(rate), self.busy_pct)
            else:
                reason = "link has room: sending %d%% of the time; one step up on probation" % self.busy_pct
        elif predicted > budget:
            reason = "link ~%d KB/s cannot carry %d fps even at %s q%d (~%s KB a frame); fps will fall" % (
                _kbps(rate),
                self.target_fps,
                new_size,
                new_quality,
                _kb(predicted),
            )
        elif new_size != size:
            reason = "link ~%d KB/s: %d fps needs frames <= %s KB, were %s KB; %s at q%d would be ~%s KB" % (
                _kbps(rate),
                self.target_fps,
                _kb(budget),
                _kb(average),
                size,
                self.worst_quality,
                _kb(predict(average, size, quality, size, self.worst_quality)),
            )
        else:
            reason = "link ~%d KB/s: %d fps needs frames <= %s KB, were %s KB" % (
                _kbps(rate),
                self.target_fps,
                _kb(budget),
                _kb(average),
            )
        self._apply(now, new_size, new_quality, reason, up)

    def _rungs(self):
        """(ceiling, floor) ladder rungs rate control may use; both the current one off the ladder (portrait)."""
        top = framesize.rung(self.best_size)
        current = framesize.rung(self._camera.frame_size)
        if top < 0 or current < 0:
            return -1, -1
        bottom = framesize.rung(self.min_size)
        return top, bottom if 0 <= bottom <= top else top

    def _barred_from(self, size, quality, now):
        barred = self._barred
        if barred is None:
            return False
        if ticks.diff(barred[2], now) <= 0:
            self._barred = None
            return False
        rung = framesize.rung(size)
        return rung > barred[0] or (rung == barred[0] and quality <= barred[1])

    def _fits(self, size):
        camera = self._camera
        if framesize.rung(size) <= framesize.rung(camera.frame_size):
            return True
        return camera.psram_shortfall(size, self._largest_free_block()) == 0

    def _best_under(self, average, budget, up, now):
        """(size, quality, predicted bytes): the best picture predicted within `budget` bytes; the worst allowed
        picture if none is. Frame sizes PSRAM cannot hold are skipped, and barred pictures when stepping up or to
        a bigger frame size: the search starts at the ceiling, so even a step down may pick a bigger size at a
        worse quality number."""
        camera = self._camera
        size, quality = camera.frame_size, camera.quality
        here = framesize.rung(size)
        worst = self.worst_quality
        top, bottom = self._rungs()
        rung = top
        while True:
            new_size = framesize.LADDER[rung] if rung >= 0 else size
            if self._fits(new_size):
                limit = framesize.buffer_bytes(new_size) * 9 // 10  # no closer to a frame buffer overflow
                check_bars = up or rung > here
                new_quality = self.best_quality
                while new_quality <= worst:
                    predicted = predict(average, size, quality, new_size, new_quality)
                    if predicted <= budget and predicted <= limit:
                        if not (check_bars and self._barred_from(new_size, new_quality, now)):
                            return new_size, new_quality, predicted
                    new_quality += 1
            if rung <= bottom:
                break
            rung -= 1
        if up:
            return None
        floor = framesize.LADDER[bottom] if bottom >= 0 else size
        return floor, worst, predict(average, size, quality, floor, worst)

    def _worth(self, choice, size, quality, average):
        """A step up must be better and promise at least UP_GAIN_PCT more bytes of picture: no creeping."""
        new_size, new_quality, predicted = choice
        return _better(new_size, new_quality, size, quality) and predicted * 100 >= average * (100 + UP_GAIN_PCT)

    def _probe(self, now):
        """One step up when the link's rate is only known from below (or not at all: every frame fits the empty
        send buffer): the next bigger size allowed with at least UP_GAIN_PCT more pixels at the same quality
        number, else the quality number that promises UP_GAIN_PCT more bytes. A failed probe is barred."""
        camera = self._camera
        size, quality = camera.frame_size, camera.quality
        top, bottom = self._rungs()
        here = framesize.rung(size)
        rung = here + 1 if here >= bottom else bottom
        while 0 <= rung <= top:
            bigger = framesize.LADDER[rung]
            if framesize.pixels(bigger) * 100 >= framesize.pixels(size) * (100 + UP_GAIN_PCT) or here < bottom:
                if self._fits(bigger) and not self._barred_from(bigger, quality, now):
                    return bigger, max(quality, self.best_quality), 0
                break
            rung += 1
        better = quality - 1
        while better >= self.best_quality:
            if SIZE_AT[better] * 100 >= SIZE_AT[quality] * (100 + UP_GAIN_PCT):
                if not self._barred_from(size, better, now):
                    return size, better, 0
                break
            better -= 1
        return None

    def _apply(self, now, size, quality, reason, up):
        camera = self._camera
        old_size, old_quality = camera.frame_size, camera.quality
        note = ""
        if size != old_size:
            try:
                camera.resize(size)
            except Exception as exc:
                print(
                    "Adapt: reconfigure to %s failed (%s: %s); staying at %s"
                    % (size, type(exc).__name__, exc, old_size)
                )
                self._barred = (framesize.rung(size), self.worst_quality, ticks.add(now, HOLD_MAX_MS))
                return
            note = " (reconfigure #%d)" % camera.reconfigures
        if quality != camera.quality:
            camera.set_quality(quality)
        self.changes += 1
        self.reason = reason
        self.changed_at = now
        print("Adapt: %s q%d -> %s q%d%s:" % (old_size, old_quality, size, quality, note), reason)
        if up:
            # Should the link not carry it, a bigger frame size is barred at every quality, a better quality number
            # at this size only for it and better.
            self._probation_at = now
            self._probation = (framesize.rung(size), quality if size == old_size else QUALITY_MAX)
        else:
            probation = self._probation
            if probation is not None and ticks.diff(now, self._probation_at) < PROBATION_MS:
                self._barred = (probation[0], probation[1], ticks.add(now, self._hold_ms))
                self._hold_ms = min(self._hold_ms * 2, HOLD_MAX_MS)
            self._probation = None
        self._reset_window(now)
        self._skip = SETTLE_FRAMES

    # -- reports ------------------------------------------------------------------------------------------------

    def describe_link(self):
        if self.policy == "off":
            return "not measured (CAMSTREAM_ADAPT = off)"
        if not self.link_kbps:
            return "not measured yet"
        return "~%d KB/s, sending %d%% of the time" % (self.link_kbps, self.busy_pct)

    def describe_change(self, now):
        if self.changed_at is None:
            return "none"
        return "%d s ago: %s" % (ticks.diff(now, self.changed_at) // 1000, self.reason)

    def report(self):
        """For heartbeats."""
        return {
            "policy": self.policy,
            "linkKBps": self.link_kbps,
            "busyPct": self.busy_pct,
            "changes": self.changes,
            "reconfigures": self._camera.reconfigures,
            "reason": self.reason,
            "ceiling": {"frameSize": self.best_size, "quality": self.best_quality},
            "floor": {"frameSize": self.min_size, "quality": self.worst_quality},
        }
