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


def encode_feedback(feedback: Dict[str, Any]) -> str:
    """The one encoder of helper -> viewer messages on the channel; raises SchemaError if malformed."""
    return contract.encode('InputFeedback', feedback)
