"""Calls that must not do more than they say: find options of the wrong type fail before anything
reaches the server."""

from __future__ import annotations

import pytest
from conftest import server_port, server_uri, sockets_to_port, unique_db

from polymongo import InvalidArgument, InvalidDatabaseName, PolyMongo


@pytest.mark.parametrize("options, name", [
    ({"limit": "5"}, "limit"), ({"skip": "2"}, "skip"), ({"batch_size": "10"}, "batchSize"),
    ({"skip": -1}, "skip"), ({"max_time_ms": "100"}, "maxTimeMS"),
])
def test_find_options_of_the_wrong_type_raise_invalid_argument(options: dict, name: str) -> None:
    port = server_port()
    before = sockets_to_port(port)
    with PolyMongo(server_uri(), default_db=unique_db("pyfindopts")) as pm:  # cold: no socket yet
        db = pm.model("rows").db()
        with pytest.raises(InvalidArgument, match=f"'{name}'") as e:
            db.find({}, **options)
        assert e.value.code_name == "PM_EINVAL"
        assert not isinstance(e.value, InvalidDatabaseName)
        with pytest.raises(InvalidArgument, match=f"'{name}'"):
            db.find_one({}, **options)
        assert sockets_to_port(port) == before, "nothing was sent to the server"
