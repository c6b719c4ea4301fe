"""Configuration: one typed object from BOOKING_* variables; bad values stop start-up by name."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from booking.settings import REPO_ROOT, ConfigError, load_settings


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BOOKING_PORT", "eighty", "BOOKING_PORT: expected `int`"),
        ("BOOKING_PORT", "70000", "BOOKING_PORT: expected `int` <= 65535"),
        ("BOOKING_ENV", "staging", "BOOKING_ENV: invalid enum value 'staging'"),
        ("BOOKING_ACCESS_LOG", "perhaps", "BOOKING_ACCESS_LOG: expected `bool`"),
        ("BOOKING_DB_POOL_MAX", "0", "BOOKING_DB_POOL_MAX: expected `int` >= 1"),
    ],
)
def test_a_malformed_value_is_named(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"BOOKING_ENV": "test", variable: value})
    assert str(caught.value).startswith(expected)


def test_values_are_decoded_into_types() -> None:
    settings = load_settings(
        {"BOOKING_ENV": "test", "BOOKING_PORT": "9001", "BOOKING_ACCESS_LOG": "false"}
    )
    assert settings.port == 9001
    assert settings.access_log is False
    assert settings.base_url == "http://127.0.0.1:9001"


def test_production_without_a_secret_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="BOOKING_SECRET_KEY is required"):
        load_settings({"BOOKING_ENV": "production"})


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="BOOKING_SECRET_KEY: expected at least 32"):
        load_settings({"BOOKING_ENV": "production", "BOOKING_SECRET_KEY": "hunter2"})


def test_test_environment_gets_a_random_secret_each_time() -> None:
    first = load_settings({"BOOKING_ENV": "test"}).secret_key
    second = load_settings({"BOOKING_ENV": "test"}).secret_key
    assert len(first) >= 32
    assert first != second


def test_the_command_line_stops_with_one_line_naming_the_variable() -> None:
    env = {
        **os.environ,
        "BOOKING_ENV": "test",
        "BOOKING_PORT": "eighty",
        "PYTHONPATH": str(REPO_ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "booking", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: BOOKING_PORT: expected `int`, got `str`"]
