"""An example ntcli plugin: ``ntcli hello`` and ``ntcli hello tokens``."""

__version__ = '0.1.0'
