"""The input shapes that once crashed the service, and where to put them in a JSON body.

A lone UTF-16 surrogate, JSON nested hundreds of levels deep, integers past every column (and
past Python's int-string limit), non-finite numbers and NUL: in every field, as keys, and in
query strings. Used by the walk over every operation (``tests/test_input_shapes.py``) and by
the schemathesis fuzzing (``tests/fuzzing.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

# JSON text put where a value goes. A placeholder string marks the spot in the dumped body.
BODY_SHAPES = {
    "lone-surrogate": '"\\ud800"',
    "low-surrogate-in-text": '"ok \\udc00 ok"',
    "nul": '"a\\u0000b"',
    "deep": "[" * 326 + "]" * 326,
    "huge-int": "9" * 5000,
    "int64-overflow": str(2**63),
    "infinity": "1e999",
    "nan": "NaN",
}
KEY_SHAPES = {"surrogate-key": '"\\ud800"', "nul-key": '"k\\u0000"'}
# Spelled for a raw query string (percent-encoded); a surrogate cannot be, so its UTF-8 bytes
# are sent, which are invalid UTF-8.
QUERY_SHAPES = {
    "nul": "%00",
    "huge-int": "9" * 5000,
    "invalid-utf8-surrogate": "%ED%A0%80",
    "infinity": "1e999",
    "nan": "NaN",
}
# The same, for a client that encodes the query itself.
QUERY_VALUES = {"nul": "\x00", "huge-int": "9" * 5000, "infinity": "1e999", "nan": "NaN"}
MARK = "\ue000shape\ue000"


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place a value sits, containers included (a shape may replace a whole list)."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))


def objects(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        yield path
        for key, item in value.items():
            yield from objects(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from objects(item, (*path, index))


def _replaced(body: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(body))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


def with_value(body: Any, path: tuple[Any, ...], shape: str) -> str:
    return json.dumps(_replaced(body, path, MARK)).replace(json.dumps(MARK), shape)


def with_key(body: Any, path: tuple[Any, ...], shape: str) -> str:
    target = body
    for step in path:
        target = target[step]
    return json.dumps(_replaced(body, path, {**target, MARK: 1})).replace(json.dumps(MARK), shape)
