"""One table of settings, read once from the environment, validated, then frozen.

A bad value is a configuration error: the helper exits with EXIT_BAD_CONFIG (42) so that
the supervising agent does not restart-loop on it (protocol/src/helper.ts HELPER_EXIT_BAD_CONFIG).
"""
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Optional, Tuple

EXIT_BAD_CONFIG = 42


class ConfigError(Exception):
    pass


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw, 10)
        except ValueError:
            raise ConfigError('expected an integer, got %r' % raw) from None
        if not lo <= value <= hi:
            raise ConfigError('expected %d..%d, got %d' % (lo, hi, value))
        return value
    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ConfigError('expected one of %s, got %r' % ('|'.join(choices), raw))
        return value
    return parse


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ('1', 'true', 'yes', 'on'):
        return True
    if value in ('0', 'false', 'no', 'off'):
        return False
    raise ConfigError('expected a boolean (1/0/true/false), got %r' % raw)


def _display(raw: str) -> str:
    if not raw or ':' not in raw:
        raise ConfigError('expected an X display like ":99", got %r' % raw)
    return raw


# (field, env name, parser, default, help). Default None = required.
SETTINGS: Tuple[Tuple[str, str, Callable[[str], object], Optional[str], str], ...] = (
    ('display', 'DISPLAY', _display, None, 'X display to capture and inject input into'),
    ('codec', 'VMLIVE_CODEC', _choice('vp8', 'h264'), 'vp8', 'video codec shared by all viewers'),
    ('width', 'VMLIVE_WIDTH', _int_range(64, 7680), '1280', 'encoded width (capture is scaled if different)'),
    ('height', 'VMLIVE_HEIGHT', _int_range(64, 4320), '720', 'encoded height'),
    ('fps', 'VMLIVE_FPS', _int_range(1, 120), '30', 'capture and encode frame rate'),
    ('bitrate_kbps', 'VMLIVE_BITRATE_KBPS', _int_range(100, 50000), '2500', 'encoder target bitrate'),
    ('keyframe_interval_s', 'VMLIVE_KEYFRAME_INTERVAL_S', _int_range(1, 3600), '5',
     'max seconds between keyframes (viewers also get one on join and on PLI/FIR)'),
    ('keyframe_throttle_ms', 'VMLIVE_KEYFRAME_THROTTLE_MS', _int_range(0, 5000), '250',
     'at most one forced keyframe per this window, across all viewers'),
    ('vp8_cpu_used', 'VMLIVE_VP8_CPU_USED', _int_range(-16, 16), '8', 'libvpx speed/quality trade-off'),
    ('playout_delay', 'VMLIVE_PLAYOUT_DELAY', _bool, '1',
     'write the playout-delay RTP header extension (min=max=0) when the viewer offers it'),
    ('ice_tcp', 'VMLIVE_ICE_TCP', _bool, '0',
     'also gather ICE-TCP candidates (off: half the candidate pairs, faster connects; TURN covers TCP-only paths)'),
    ('mtu', 'VMLIVE_RTP_MTU', _int_range(576, 1500), '1200', 'RTP payloader MTU'),
    ('nice', 'VMLIVE_NICE', _int_range(-20, 19), '-10',
     'scheduling priority to ask for at start (negative needs root/CAP_SYS_NICE; failure is ignored)'),
    ('log_level', 'VMLIVE_HELPER_LOG_LEVEL', _choice('debug', 'info', 'warn', 'error'), 'info',
     'lowest level of log lines written to stderr'),
)


@dataclass(frozen=True)
class Config:
    display: str
    codec: str
    width: int
    height: int
    fps: int
    bitrate_kbps: int
    keyframe_interval_s: int
    keyframe_throttle_ms: int
    vp8_cpu_used: int
    playout_delay: bool
    ice_tcp: bool
    mtu: int
    nice: int
    log_level: str


def load_config(env: Mapping[str, str]) -> Config:
    """Parse every setting; raise ConfigError naming every bad variable at once."""
    values: Dict[str, object] = {}
    problems = []
    for field, name, parse, default, _help in SETTINGS:
        raw = env.get(name)
        if raw is None or raw == '':
            if default is None:
                problems.append('%s is required (%s)' % (name, _help))
                continue
            raw = default
        try:
            values[field] = parse(raw)
        except ConfigError as err:
            problems.append('%s: %s' % (name, err))
    if problems:
        raise ConfigError('; '.join(problems))
    return Config(**values)  # type: ignore[arg-type]


def settings_help() -> str:
    lines = ['%-28s %-8s %s' % ('env', 'default', 'help')]
    for _field, name, _parse, default, help_text in SETTINGS:
        lines.append('%-28s %-8s %s' % (name, default if default is not None else '(req)', help_text))
    return '\n'.join(lines)
