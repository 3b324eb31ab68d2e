"""The shared base: configuration, the clock, formatting of values and times, users and tokens.

Imports only `storage/`; every package above it may import it.
"""

__version__ = "0.1.0"
