"""Takeover input on the `input` data channel (protocol/src/input.ts, via contract.json): incoming
messages are validated against InputMessage, feedback to the viewer is encoded against InputFeedback."""
from typing import Any, Dict

from . import contract

INPUT_CHANNEL_LABEL = contract.INPUT_CHANNEL_LABEL
# Far above any valid message (text is at most 4096 characters): refuse before parsing.
MAX_MESSAGE_CHARS = 16384


class InvalidInput(Exception):
    pass


def parse_input(text: str) -> Dict[str, Any]:
    """Parse and validate one data-channel message; raise InvalidInput with a short reason."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput('message too long')
    try:
        msg = contract.loads(text)
    except ValueError:
        raise InvalidInput('not JSON') from None
    if not isinstance(msg, dict):
        raise InvalidInput('not an object')
    try:
        return contract.validate('InputMessage', msg)
    except contract.SchemaError as err:
        raise InvalidInput(str(err)) from None


class InputCounts:
    """How much input one viewer sent that was injected (protocol InputCounts), for the audit trail.

    Counts only, never which keys or where: a person taking over types passwords and personal data,
    which must not reach a log (protocol/src/audit.ts). `key` counts key presses and releases and
    each character of a typed text (a paste); what failed to inject is not counted.
    Main-loop only: `_on_input` runs from GLib.idle_add, and the stats reply reads it in `finish`.
    """

    def __init__(self):
        self.pointer = 0
        self.key = 0
        self.wheel = 0

    def add(self, msg: Dict[str, Any], failed: int = 0) -> None:
        """`msg` was injected; `failed` of its units were not (unmapped keys, untypable characters)."""
        kind = msg['t']
        if kind == 'pointer':
            self.pointer += 1
        elif kind == 'wheel':
            self.wheel += 1
        elif kind == 'key':
            self.key += max(0, 1 - failed)
        elif kind == 'text':
            self.key += max(0, len(msg['text']) - failed)

    def as_dict(self) -> Dict[str, int]:
        return {'pointer': self.pointer, 'key': self.key, 'wheel': self.wheel}


def encode_feedback(feedback: Dict[str, Any]) -> str:
    """The one encoder of helper -> viewer messages on the channel; raises SchemaError if malformed."""
    return contract.encode('InputFeedback', feedback)
