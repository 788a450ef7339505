"""The commands of ``ntcli-server``, one cliff command class each.

Adding a command is two steps: a class in the module of its resource
(subclass :class:`~ntcli_server.commands.base.Command`, ``ShowOne`` or
``Lister``; ``take_action`` asks :meth:`open_authority` for the authority
and returns data for a formatter), and its entry point in setup.cfg under
``ntcli_server.commands`` (``keys_retire =
ntcli_server.commands.keys:RetireKeys`` is ``ntcli-server keys retire``).
"""
