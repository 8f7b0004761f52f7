"""The helper's settings. The table lives once, in protocol/src/helper.ts (HELPER_SETTINGS): the VM
agent parses its environment with it and hands the result over as one JSON value,
`--settings=<json>`, which is validated here against the same schema (contract.json) with the same
ranges and defaults. The helper reads no VMLIVE_* variable itself.

A bad value is a configuration error: the helper exits with EXIT_BAD_CONFIG (42) so that the
supervising agent does not restart-loop on it.
"""
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

from . import contract

EXIT_BAD_CONFIG = contract.EXIT_BAD_CONFIG
SETTINGS_FLAG = '--settings'


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Config:
    """One field per HELPER_SETTINGS key, snake_cased (a unit test keeps the two in step)."""
    display: str
    codec: str
    width: int
    height: int
    fps: int
    capture: str
    bitrate_kbps: int
    keyframe_interval_s: int
    keyframe_throttle_ms: int
    vp8_cpu_used: int
    playout_delay: bool
    rtx: bool
    twcc: bool
    link_adapt: bool
    reduced_bitrate_kbps: int
    ice_tcp: bool
    peer_silence_ms: int
    mtu: int
    nice: int
    log_level: str


def snake_case(key: str) -> str:
    return re.sub(r'(?<=[a-z0-9])([A-Z])', r'_\1', key).lower()


def _env_of(key: str) -> Optional[str]:
    for row in contract.SETTINGS:
        if row['key'] == key:
            return row['env']
    return None


def parse_settings(text: str) -> Config:
    """Validate the agent's settings JSON; raise ConfigError naming the setting and its env name."""
    try:
        value = contract.loads(text)
    except ValueError as err:
        raise ConfigError('%s is not JSON: %s' % (SETTINGS_FLAG, err)) from None
    if not isinstance(value, dict):
        raise ConfigError('%s must be a JSON object' % SETTINGS_FLAG)
    try:
        settings: Dict[str, Any] = contract.validate('HelperSettings', value)
    except contract.SchemaError as err:
        key = err.path.split('.')[0].split('[')[0]
        env = _env_of(key)
        raise ConfigError('%s%s: %s' % (key or 'settings', ' (%s)' % env if env else '', err.message)) from None
    return Config(**{snake_case(k): v for k, v in settings.items()})


def settings_argument(argv: Sequence[str]) -> str:
    """The JSON after `--settings=` (or `--settings JSON`); ConfigError when absent."""
    for i, arg in enumerate(argv):
        if arg.startswith(SETTINGS_FLAG + '='):
            return arg[len(SETTINGS_FLAG) + 1:]
        if arg == SETTINGS_FLAG and i + 1 < len(argv):
            return argv[i + 1]
    raise ConfigError('missing %s=<json> (the VM agent passes it; see --help)' % SETTINGS_FLAG)


def settings_help() -> str:
    """The settings table from the contract: the JSON key, the agent's env name, default, help."""
    lines = ['  %-20s %-28s %-9s %s' % ('key', 'agent env', 'default', 'meaning')]
    for row in contract.SETTINGS:
        default = '(req)' if row.get('required') else _show(row.get('default'))
        lines.append('  %-20s %-28s %-9s %s' % (row['key'], row['env'], default, row['help']))
    return '\n'.join(lines)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)
