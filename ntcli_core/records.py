"""Immutable records: the part of frozen dataclasses ntcli uses, made cheap.

``@dataclasses.dataclass`` compiles six methods per class from generated
source when the module is imported: about 1 ms a class on Python 3.11, and
the CLI's start-up path defined some twenty of them (15 to 25 ms of a
``token show``). A :class:`Record` subclass costs a few microseconds to
define: its methods are shared and read the field list made once by
``__init_subclass__``. Type checkers see a frozen dataclass
(``dataclass_transform``).

A record is built from positional or keyword arguments in field order,
compares and hashes by value (only with a record of the same class), leaves
fields declared ``field(repr=False)`` out of its ``repr``, and refuses
assignment; one declared ``class R(Record, frozen=False)`` takes
assignments and is not hashable. :meth:`Record.replace` and
:meth:`Record.as_dict` stand in for ``dataclasses.replace`` and (one level
of) ``dataclasses.asdict``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # only type checkers read it
    def dataclass_transform(**kwargs: Any) -> Callable[[Any], Any]:
        return lambda cls: cls

R = TypeVar('R', bound='Record')

_MISSING: Any = object()


class FrozenRecordError(AttributeError):
    """Assignment to a field of a record."""


class _Field:
    __slots__ = ('default', 'repr')

    def __init__(self, default: Any, repr: bool) -> None:
        self.default = default
        self.repr = repr


def field(*, default: Any = _MISSING, repr: bool = True) -> Any:
    """A field with a default and/or left out of the record's ``repr``."""
    return _Field(default, repr)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record:
    """Base of immutable value records; fields are the annotated names."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}
    _shown: ClassVar[tuple[str, ...]] = ()
    _fieldset: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, *, frozen: bool = True,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not frozen:   # as a dataclass(eq=True): mutable, unhashable
            setattr(cls, '__setattr__', object.__setattr__)  # noqa: B010
            setattr(cls, '__delattr__', object.__delattr__)  # noqa: B010
            setattr(cls, '__hash__', None)  # noqa: B010
        fields = list(cls._fields)
        defaults = dict(cls._defaults)
        hidden = {name for name in fields if name not in cls._shown}
        for name, annotation in cls.__dict__.get('__annotations__',
                                                 {}).items():
            if 'ClassVar' in str(annotation):
                continue
            value = cls.__dict__.get(name, _MISSING)
            if isinstance(value, _Field):
                if not value.repr:
                    hidden.add(name)
                value = value.default
            if value is _MISSING:
                if defaults:
                    raise TypeError(f'{cls.__name__}: field {name!r} '
                                    'without a default follows one with')
            else:
                defaults[name] = value
                if name in cls.__dict__:
                    delattr(cls, name)
            if name not in fields:
                fields.append(name)
        cls._fields = tuple(fields)
        cls._fieldset = frozenset(fields)
        cls._defaults = defaults
        cls._shown = tuple(name for name in fields if name not in hidden)
        setattr(cls, '__match_args__', cls._fields)  # noqa: B010

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The server builds two records per validation: dict operations,
        # not a setattr per field (figures: benchmarks/RESULTS.md).
        fields = self._fields
        if args:
            if len(args) > len(fields):
                raise TypeError(f'{type(self).__name__}() takes '
                                f'{len(fields)} arguments, {len(args)} '
                                'given')
            positional = dict(zip(fields, args, strict=False))
            if not positional.keys().isdisjoint(kwargs):
                raise TypeError(f'{type(self).__name__}() got '
                                'an argument twice')
            kwargs.update(positional)
        if len(kwargs) != len(fields):
            kwargs = {**self._defaults, **kwargs}
        if kwargs.keys() != self._fieldset:
            unexpected = sorted(set(kwargs).difference(fields))
            missing = [name for name in fields if name not in kwargs]
            raise TypeError(f'{type(self).__name__}(): unexpected '
                            f'{unexpected}, missing {missing}')
        self.__dict__.update(kwargs)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ', '.join(f'{name}={getattr(self, name)!r}'
                          for name in self._shown)
        return f'{type(self).__qualname__}({shown})'

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenRecordError(f'cannot assign to field {name!r}')

    def __delattr__(self, name: str) -> None:
        raise FrozenRecordError(f'cannot delete field {name!r}')

    def replace(self: R, **changes: Any) -> R:
        """This record with some fields changed (as
        ``dataclasses.replace``)."""
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)

    def as_dict(self) -> dict[str, Any]:
        """The fields by name (nested records are left as they are)."""
        return {name: getattr(self, name) for name in self._fields}
