"""[worker] trusted_proxies holds addresses: uvicorn compares the connection's address with
each, so a hostname there never matched and every client behind the proxy was one."""

from __future__ import annotations

import tomllib

import pytest

from atri.config import ConfigError, settings_from_dict


@pytest.mark.parametrize("proxy", ["localhost", "nginx", "10.0.0.300", ""])
def test_a_proxy_that_is_no_address_is_one_sentence_naming_the_key(proxy: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(tomllib.loads(f'[worker]\ntrusted_proxies = ["{proxy}"]'))
    message = str(info.value)
    assert message.startswith("config.toml: [worker] trusted_proxies")
    assert f"{proxy!r} is not an IP address" in message and '"127.0.0.1"' in message


@pytest.mark.parametrize(
    "proxies", [[], ["127.0.0.1"], ["192.0.2.2", "::1"], ["10.0.0.0/8", "fd00::/8"], ["*"]]
)
def test_addresses_networks_and_any_are_kept_as_written(proxies: list[str]) -> None:
    settings = settings_from_dict({"worker": {"trusted_proxies": proxies}})
    assert settings.worker.trusted_proxies == proxies
