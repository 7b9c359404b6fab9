"""The local runtime: every replica as a real process on its own loopback address."""
