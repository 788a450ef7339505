"""ntcli: a command-line client for workspace tokens."""

__version__ = "0.1.0"
