"""Validation of takeover input from the `input` data channel, mirroring protocol/src/input.ts."""
import json
import math
from typing import Any, Dict

INPUT_CHANNEL_LABEL = 'input'


class InvalidInput(Exception):
    pass


def _unit(msg: Dict[str, Any], key: str) -> float:
    value = msg.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InvalidInput('%s must be a number in 0..1' % key)
    return float(value)


def _finite(msg: Dict[str, Any], key: str) -> float:
    value = msg.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput('%s must be a finite number' % key)
    return float(value)


def _mods(value: Any) -> Dict[str, bool]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput('mods must be an object')
    mods = {}
    for name in ('shift', 'ctrl', 'alt', 'meta'):
        if name in value:
            if not isinstance(value[name], bool):
                raise InvalidInput('mods.%s must be a boolean' % name)
            mods[name] = value[name]
    return mods


def parse_input(text: str) -> Dict[str, Any]:
    """Parse and validate one data-channel message; raise InvalidInput with a short reason."""
    if len(text) > 16384:
        raise InvalidInput('message too long')
    try:
        msg = json.loads(text)
    except ValueError:
        raise InvalidInput('not JSON') from None
    if not isinstance(msg, dict):
        raise InvalidInput('not an object')
    kind = msg.get('t')
    if kind == 'pointer':
        action = msg.get('action')
        if action not in ('move', 'down', 'up'):
            raise InvalidInput('pointer action must be move|down|up')
        button = msg.get('button')
        if button is not None and (isinstance(button, bool) or not isinstance(button, int) or not 0 <= button <= 4):
            raise InvalidInput('button must be an integer 0..4')
        return {'t': kind, 'action': action, 'x': _unit(msg, 'x'), 'y': _unit(msg, 'y'), 'button': button}
    if kind == 'wheel':
        return {'t': kind, 'x': _unit(msg, 'x'), 'y': _unit(msg, 'y'),
                'dx': _finite(msg, 'dx'), 'dy': _finite(msg, 'dy')}
    if kind == 'key':
        action = msg.get('action')
        if action not in ('down', 'up'):
            raise InvalidInput('key action must be down|up')
        key = msg.get('key')
        code = msg.get('code')
        if not isinstance(key, str) or not 1 <= len(key) <= 32:
            raise InvalidInput('key must be a string of 1..32 characters')
        if not isinstance(code, str) or len(code) > 32:
            raise InvalidInput('code must be a string of at most 32 characters')
        return {'t': kind, 'action': action, 'key': key, 'code': code, 'mods': _mods(msg.get('mods'))}
    if kind == 'text':
        text_value = msg.get('text')
        if not isinstance(text_value, str) or not 1 <= len(text_value) <= 4096:
            raise InvalidInput('text must be a string of 1..4096 characters')
        return {'t': kind, 'text': text_value}
    raise InvalidInput('unknown input type %r' % (kind,))
