"""Scripts survive a Redis that forgot them: a restart, or a failover to a replica whose script
cache is empty. redis-py's ``Script`` sends EVALSHA and loads the script on NOSCRIPT; a
pipeline checks SCRIPT EXISTS and loads what is missing before it sends its commands."""

from __future__ import annotations

import redis

from workers import lua


def test_a_script_runs_again_after_the_server_forgot_every_script(r: redis.Redis) -> None:
    r.hset("h", "a", "1")
    assert lua.run(r, "set_if_exists", keys=["h"], args=["b", "2"]) == 1
    # When the server's script cache is emptied (what a promoted replica may look like)
    r.script_flush()
    # Then the next call loads the script again and runs it
    assert lua.run(r, "set_if_exists", keys=["h"], args=["c", "3"]) == 1
    assert r.hgetall("h") == {"a": "1", "b": "2", "c": "3"}


def test_a_script_queued_in_a_pipeline_runs_after_the_server_forgot_it(r: redis.Redis) -> None:
    r.hset("h", "a", "1")
    assert lua.run(r, "set_if_exists", keys=["h"], args=["b", "2"]) == 1
    r.script_flush()
    for transaction in (True, False):
        pipe = r.pipeline(transaction=transaction)
        lua.run(pipe, "set_if_exists", keys=["h"], args=["c", "3"])
        lua.run(pipe, "set_if_exists", keys=["gone"], args=["c", "3"])
        assert pipe.execute() == [1, 0]
        r.script_flush()
    assert r.hgetall("h") == {"a": "1", "b": "2", "c": "3"}
    assert not r.exists("gone")
