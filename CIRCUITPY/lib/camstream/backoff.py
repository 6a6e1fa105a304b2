"""Exponential delays between recovery attempts.

Capped low on purpose: once a fault clears, streaming must resume within a few seconds.
"""


class Backoff:
    def __init__(self, first_s=0.25, cap_s=2.0, factor=2.0):
        self.first_s = first_s
        self.cap_s = cap_s
        self.factor = factor
        self.failures = 0

    def next(self):
        """The delay before the next attempt; each call lengthens the following one."""
        delay = self.first_s * self.factor**self.failures
        if delay > self.cap_s:
            delay = self.cap_s
        else:
            self.failures += 1
        return delay

    def reset(self):
        self.failures = 0
