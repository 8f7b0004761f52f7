"""Agent <-> helper JSON-lines protocol, mirroring protocol/src/helper.ts.

Every incoming line is validated here; an invalid line becomes a ProtocolError
(reported as an `error` event by the caller), never a crash. Outgoing events are
written by Emitter, the only writer of stdout.
"""
import json
import math
import sys
import threading
from typing import Any, Dict, Optional


class ProtocolError(Exception):
    def __init__(self, message: str, peer_id: Optional[str] = None):
        super().__init__(message)
        self.peer_id = peer_id


def _is_int(value: Any) -> bool:
    # zod z.number().int(): JSON numbers with no fractional part; bool is not a number.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _peer_id(msg: Dict[str, Any], nullable: bool) -> Optional[str]:
    value = msg.get('peerId', None if nullable else ...)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise ProtocolError('peerId must be a string of 1..64 characters')
    return value


def _string(msg: Dict[str, Any], key: str, min_len: int = 0) -> str:
    value = msg.get(key)
    if not isinstance(value, str) or len(value) < min_len:
        raise ProtocolError('%s must be a string%s' % (key, ' (non-empty)' if min_len else ''))
    return value


def _ice_servers(value: Any) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError('iceServers must be an array')
    servers = []
    for server in value:
        if not isinstance(server, dict):
            raise ProtocolError('iceServers[] must be objects')
        urls = server.get('urls')
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ProtocolError('iceServers[].urls must be a string or an array of strings')
        for key in ('username', 'credential'):
            if key in server and not isinstance(server[key], str):
                raise ProtocolError('iceServers[].%s must be a string' % key)
        servers.append({'urls': urls, 'username': server.get('username'), 'credential': server.get('credential')})
    return servers


def parse_command(line: str) -> Dict[str, Any]:
    """Parse and validate one agent -> helper line; return a normalized dict (defaults applied)."""
    try:
        msg = json.loads(line)
    except ValueError as err:
        raise ProtocolError('not JSON: %s' % err) from None
    if not isinstance(msg, dict):
        raise ProtocolError('a command must be a JSON object')
    kind = msg.get('type')
    peer_hint = msg.get('peerId') if isinstance(msg.get('peerId'), str) else None
    try:
        return _validate(kind, msg)
    except ProtocolError as err:
        raise ProtocolError('%s: %s' % (kind if isinstance(kind, str) else 'command', err), peer_hint) from None


def _validate(kind: Any, msg: Dict[str, Any]) -> Dict[str, Any]:
    if kind == 'add-peer':
        return {'type': kind, 'peerId': _peer_id(msg, False), 'iceServers': _ice_servers(msg.get('iceServers'))}
    if kind == 'remote-description':
        if msg.get('sdpType') != 'offer':
            raise ProtocolError("sdpType must be 'offer' (the viewer is always the offerer)")
        return {'type': kind, 'peerId': _peer_id(msg, False), 'sdpType': 'offer', 'sdp': _string(msg, 'sdp', 1)}
    if kind == 'remote-candidate':
        index = msg.get('sdpMLineIndex')
        if not _is_int(index) or index < 0:
            raise ProtocolError('sdpMLineIndex must be an integer >= 0')
        return {'type': kind, 'peerId': _peer_id(msg, False), 'candidate': _string(msg, 'candidate'),
                'sdpMLineIndex': int(index)}
    if kind == 'remove-peer':
        reason = msg.get('reason')
        if reason is not None and not isinstance(reason, str):
            raise ProtocolError('reason must be a string')
        return {'type': kind, 'peerId': _peer_id(msg, False), 'reason': reason}
    if kind == 'set-control-holder':
        if 'peerId' not in msg:
            raise ProtocolError('peerId is required (null for nobody)')
        return {'type': kind, 'peerId': _peer_id(msg, True)}
    if kind == 'get-stats':
        request_id = msg.get('requestId')
        if not _is_int(request_id):
            raise ProtocolError('requestId must be an integer')
        return {'type': kind, 'peerId': _peer_id(msg, True), 'requestId': int(request_id)}
    if kind == 'snapshot':
        request_id = msg.get('requestId')
        if not _is_int(request_id):
            raise ProtocolError('requestId must be an integer')
        if msg.get('peerId') is not None:
            raise ProtocolError('peerId must be null')
        quality = msg.get('quality', 70)
        if not _is_int(quality) or not 1 <= quality <= 100:
            raise ProtocolError('quality must be an integer 1..100')
        return {'type': kind, 'peerId': None, 'requestId': int(request_id), 'quality': int(quality)}
    if kind == 'shutdown':
        if msg.get('peerId') is not None:
            raise ProtocolError('peerId must be null')
        return {'type': kind, 'peerId': None}
    raise ProtocolError('unknown type %r' % (kind,))


class Emitter:
    """The only writer of stdout: one JSON object per line, thread-safe, flushed per line."""

    def __init__(self, stream=None):
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self.closed = False

    def emit(self, event: Dict[str, Any]) -> None:
        line = json.dumps(event, separators=(',', ':'), ensure_ascii=False)
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
        self.emit({'type': 'error', 'peerId': peer_id, 'code': code, 'message': message})
