"""What a workspace or user name may be."""

from __future__ import annotations

import re
from typing import TypeGuard

NAME_PATTERN = re.compile(r'[a-z][a-z0-9-]{2,31}')
#: The rule, in words, for messages and hints.
NAME_RULE = ('3 to 32 lowercase letters, digits or hyphens, starting with a '
             'letter')


def is_valid_name(name: object) -> TypeGuard[str]:
    """Whether ``name`` is a valid workspace or user name."""
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None
