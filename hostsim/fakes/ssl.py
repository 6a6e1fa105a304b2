"""CircuitPython `ssl`: create_default_context(), SSLContext, SSLSocket (see hostsim.tls for how it behaves)."""

from hostsim.tls import SSLContext, SSLSocket, create_default_context

__all__ = ["SSLContext", "SSLSocket", "create_default_context"]
