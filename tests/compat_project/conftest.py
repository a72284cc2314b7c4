"""Fixtures of a small eventlet-style test suite, written as eventlet projects write them."""

import eventlet

eventlet.monkey_patch()

import pytest  # noqa: E402


@pytest.fixture
def pool():
    pool = eventlet.GreenPool(8)
    yield pool
    pool.waitall()
