"""The columns of display commands: selection, flattening, escaping, order.

A display command declares its columns once (``fields``, see
:class:`ntcli.command.ShowOne`); this module turns that declaration and the
rows a command returns into what each output format prints: ``-c``
selection (a whole column or ``<column>_<key>``), objects flattened to one
column per key for the flat formats, every cell escaped for the terminal
(and neutralised for spreadsheets in CSV), and ``--sort-column``'s order.
"""

from __future__ import annotations

from typing import Any

from cliff import columns as cliff_columns

from ntcli import errors
from ntcli_core import cells
from ntcli_core.terminal import escape, quoted

# Formats that show a nested object as it is; the others (table, value,
# shell) get one column per field: new_token_jti, new_token_expires_at...
NESTED_FORMATS = ('json', 'yaml', 'text')
# Flat formats for people: a column's human form (see flat_cell).
HUMAN_FORMATS = ('table',)

# fields: column name -> None, or the keys of a column whose value is an
# object (None when absent); -c takes a column or '<column>_<key>'.
Fields = dict[str, tuple[str, ...] | None]


def normalized(name: str) -> str:
    # cliff's own rule: '-c server_name' selects 'Server Name'
    return name.lower().strip().replace(' ', '_')


def column_choices(fields: Fields) -> list[str]:
    """Every name -c accepts for ``fields``, in order."""
    names = []
    for name, keys in fields.items():
        names.append(name)
        names.extend(f'{name}_{key}' for key in keys or ())
    return names


def check_columns(wanted: list[str] | None, choices: list[str],
                  option: str = '-c') -> None:
    """Raise UsageError unless every name in ``wanted`` is a choice."""
    known = {normalized(c) for c in choices}
    for name in wanted or ():
        if normalized(name) not in known:
            raise errors.UsageError(
                f'Unknown column {quoted(name)} for {option}',
                f"The columns are: {', '.join(choices)}.")


def flatten(column_names: Any, data: Any,
            fields: Fields | None = None) -> tuple[list[str], list[Any]]:
    """Columns whose values are objects become one column per key (the
    declared keys when ``fields`` names them, so that every run has the
    same columns)."""
    names: list[str] = []
    values: list[Any] = []
    for name, value in zip(column_names, data, strict=False):
        keys = (fields or {}).get(name)
        if keys is None and isinstance(value, dict):
            keys = tuple(value)
        if keys is not None and (value is None or isinstance(value, dict)):
            for key in keys:
                names.append(f'{name}_{key}')
                values.append((value or {}).get(key))
        else:
            names.append(name)
            values.append(value)
    return names, values


def select(column_names: Any, data: Any, wanted: list[str], nested: bool,
           fields: Fields) -> tuple[list[str], list[Any]]:
    """The columns named in ``wanted`` (whole columns or '<column>_<key>'),
    in the command's order; nested formats keep objects as objects (an
    absent object stays null)."""
    wanted_set = {normalized(w) for w in wanted}
    names: list[str] = []
    values: list[Any] = []
    for name, value in zip(column_names, data, strict=False):
        if normalized(name) in wanted_set:
            names.append(name)
            values.append(value)
            continue
        declared = fields.get(name) or ()
        if isinstance(value, dict):
            declared = tuple(declared) + tuple(
                k for k in value if k not in declared)
        keys = [k for k in declared
                if normalized(f'{name}_{k}') in wanted_set]
        if not keys:
            continue
        mapping = value if isinstance(value, dict) else {}
        if nested:
            names.append(name)
            values.append(None if value is None else
                          {k: mapping.get(k) for k in keys})
        else:
            names.extend(f'{name}_{k}' for k in keys)
            values.extend(mapping.get(k) for k in keys)
    return names, values


def shell_quoted(value: Any) -> Any:
    """``value`` made safe inside the double quotes of cliff's shell
    format, which escapes only ``"``: ``$``, backquotes and backslashes
    would otherwise run or break when the output is ``eval``-ed."""
    if isinstance(value, str):
        return (value.replace('\\', '\\\\').replace('$', '\\$')
                .replace('`', '\\`'))
    return value


def flat_cell(value: Any, formatter: str) -> Any:
    """``value`` as the flat format ``formatter`` prints it: text with its
    control characters escaped (so that no field can split a row or reach
    the terminal as a control sequence), a list as its items separated by
    spaces (as OAuth writes scopes), an absent value as empty text; in CSV,
    a cell a spreadsheet would run as a formula neutralised. People's
    formats (table) show a column's human form, the others its machine
    form. A boolean is ``true`` or ``false`` in the machine formats (as
    JSON writes it, not Python's ``True``); numbers stay as they are."""
    if isinstance(value, cliff_columns.FormattableColumn):
        value = value.human_readable() if formatter in HUMAN_FORMATS \
            else value.machine_readable()
    if value is None:
        return ''
    if isinstance(value, bool) and formatter not in HUMAN_FORMATS:
        return 'true' if value else 'false'
    if isinstance(value, list | tuple):
        value = ' '.join('' if v is None else str(v) for v in value)
    if isinstance(value, dict):     # an object no declaration flattened
        value = ' '.join(f'{k}={"" if v is None else v}'
                         for k, v in value.items())
    if not isinstance(value, str):
        return value
    value = escape(value)
    if formatter == 'csv':
        value = cells.neutralized(value)
    elif formatter == 'shell':
        value = shell_quoted(value)
    return value


def formatted_row(row: Any, formatter: str) -> list[Any]:
    """The cells of ``row`` for ``formatter``: as they are for the formats
    that keep objects and escape on their own (json, yaml, text), else
    flat (see :func:`flat_cell`)."""
    if formatter in NESTED_FORMATS:
        return list(row)
    return [flat_cell(value, formatter) for value in row]


def sort_key(value: Any) -> tuple:
    """The order of ``--sort-column``: by machine value, absent last."""
    if isinstance(value, cliff_columns.FormattableColumn):
        value = value.machine_readable()
    if value is None:
        return (1, 0, '')
    if isinstance(value, bool | int | float):
        return (0, 0, value)
    return (0, 1, str(value))




def row_key(index: int, row: Any) -> tuple:
    """The sort key of ``row`` by its column ``index``."""
    return sort_key(row[index])
