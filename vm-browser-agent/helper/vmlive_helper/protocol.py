"""Agent <-> helper JSON-lines protocol (protocol/src/helper.ts, via contract.json).

Every incoming line is validated against the contract's HelperCommand schema; an invalid
line becomes a ProtocolError (reported as an `error` event by the caller), never a crash.
Outgoing events are encoded by Emitter, the only writer of stdout, which checks each against
the HelperEvent schema first: a malformed event is a helper bug, logged and not sent.
"""
import sys
import threading
from typing import Any, Dict, Optional

from . import contract
from .log import get_logger

log = get_logger('protocol')


class ProtocolError(Exception):
    def __init__(self, message: str, peer_id: Optional[str] = None):
        super().__init__(message)
        self.peer_id = peer_id


def parse_command(line: str) -> Dict[str, Any]:
    """Parse and validate one agent -> helper line; return a normalized dict (defaults applied)."""
    try:
        msg = contract.loads(line)
    except ValueError as err:
        raise ProtocolError('not JSON: %s' % err) from None
    if not isinstance(msg, dict):
        raise ProtocolError('a command must be a JSON object')
    kind = msg.get('type')
    peer_hint = msg.get('peerId') if isinstance(msg.get('peerId'), str) else None
    try:
        return contract.validate('HelperCommand', msg)
    except contract.SchemaError as err:
        raise ProtocolError('%s: %s' % (kind if isinstance(kind, str) else 'command', err), peer_hint) from None


class Emitter:
    """The only writer of stdout: one JSON object per line, thread-safe, flushed per line."""

    def __init__(self, stream=None):
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self.closed = False

    def emit(self, event: Dict[str, Any]) -> None:
        try:
            line = contract.encode('HelperEvent', event)
        except contract.SchemaError as err:
            # Callers run on GLib callbacks and worker threads: raising would only lose the event
            # in a traceback; the agent would drop it too (it validates every line).
            log.error('not sending an invalid %s event: %s', event.get('type'), err)
            return
        with self._lock:
            if self.closed:
                return
            try:
                self._stream.write(line + '\n')
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                # The agent went away; nothing left to talk to.
                self.closed = True

    def error(self, code: str, message: str, peer_id: Optional[str] = None) -> None:
        """`code` is one of the contract's HelperErrorCode values (the agent decides on it)."""
        self.emit({'type': 'error', 'peerId': peer_id, 'code': code, 'message': message})
