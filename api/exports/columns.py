"""An export's columns, read off the JSON route's own row model, so that a field added to the JSON appears in
the export too, with the same name and the same value."""

from __future__ import annotations

import types
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from enum import Enum
from operator import attrgetter, itemgetter
from typing import Any, Union, get_args, get_origin

import orjson
from pydantic import BaseModel

from api.exports.spec import Column, ColumnType


def model_columns(
    model: type[BaseModel],
    *,
    money: Collection[str] = (),
    skip: Collection[str] = (),
    nested: Mapping[str, str] | None = None,
    _path: str = "",
    _prefix: str = "",
) -> list[Column]:
    """One column per field of ``model``, in its order; a field holding a model is flattened into its
    fields, named with the prefix ``nested`` gives it (a name already starting with that prefix keeps
    it: ``payee.payee_id`` is ``payee_id``, ``payee.name`` is ``payee_name``). ``money`` names the text
    fields that hold yuan; a field of any other type the formats cannot show is refused here, when the
    route is defined, rather than written wrongly."""
    nested = nested or {}
    out: list[Column] = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        kind = _plain(field.annotation)
        path = f"{_path}{name}"
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if name not in nested:
                raise TypeError(f"{model.__name__}.{name}: say how to name the fields of {kind.__name__}")
            prefix = nested[name]
            out += model_columns(
                kind, money=money, skip=skip, nested=nested, _path=f"{path}.", _prefix=prefix
            )
            continue
        header = name if name.startswith(_prefix) else _prefix + name
        column_type = _type(kind, name in money, f"{model.__name__}.{name}")
        if kind is Any or get_origin(kind) in (dict, list) or kind in (dict, list):
            out.append(Column(header, column_type, _as_json(attrgetter(path))))
        else:
            out.append(Column(header, column_type, attrgetter(path), path))
    return out


def positional(columns: Sequence[Column]) -> list[Column]:
    """``columns`` read from rows that are their values in order (a tuple per row), not objects: what a
    route whose conversion builds such tuples streams, sparing an object and an attribute read per
    field. Only plain columns (a value shown as it is): one whose value is converted on the way (a dict or
    list as JSON) is refused here, where the route is defined."""
    for c in columns:
        if c.path is None:
            raise TypeError(f"column {c.name}: a converted value cannot be read from a row of values")
    return [replace(c, get=itemgetter(i), path=None, index=i) for i, c in enumerate(columns)]


def _plain(annotation: Any) -> Any:
    """``X | None`` → ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _type(kind: Any, money: bool, where: str) -> ColumnType:
    if money:
        if kind is not str:
            raise TypeError(f"{where}: a money field is the JSON's decimal string")
        return "money"
    if kind is bool:
        return "bool"
    if kind is int:
        return "int"
    if kind is datetime:
        return "datetime"
    if kind is date:
        return "date"
    if kind is str or (isinstance(kind, type) and issubclass(kind, Enum)):
        return "text"
    if kind is Any or get_origin(kind) in (dict, list) or kind in (dict, list):
        return "text"  # as compact JSON
    raise TypeError(f"{where}: no export column type for {kind!r}")


def _as_json(get: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def text(row: Any) -> str | None:
        value = get(row)
        return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()

    return text
