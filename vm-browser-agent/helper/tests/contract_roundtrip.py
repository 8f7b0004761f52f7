"""Driver for vm-browser-agent/src/helper/contract-roundtrip.test.ts (not a unittest module).

Reads lines {"kind": "command"|"event"|"input"|"feedback", "line": "<message as TypeScript
encoded it>"} on stdin. Each message is parsed the way the helper parses that kind (commands
and input with the production parsers; events and feedback, which the helper only writes, with
the contract's schema) and re-encoded with the helper's encoders (Emitter for events,
encode_feedback for feedback, contract.encode for the rest). Writes one line per input,
{"kind", "line"} or {"kind", "error"}, for TypeScript to check with zod.
"""
import io
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from vmlive_helper import contract  # noqa: E402
from vmlive_helper.input_messages import InvalidInput, encode_feedback, parse_input  # noqa: E402
from vmlive_helper.protocol import Emitter, ProtocolError, parse_command  # noqa: E402


def emit_event(line: str) -> str:
    out = io.StringIO()
    Emitter(out).emit(contract.validate('HelperEvent', contract.loads(line)))
    if not out.getvalue():
        raise ValueError('the Emitter refused the event')
    return out.getvalue().rstrip('\n')


HANDLERS = {
    'command': lambda line: contract.encode('HelperCommand', parse_command(line)),
    'event': emit_event,
    'input': lambda line: contract.encode('InputMessage', parse_input(line)),
    'feedback': lambda line: encode_feedback(contract.validate('InputFeedback', contract.loads(line))),
}


def main() -> int:
    for raw in sys.stdin:
        request = json.loads(raw)
        kind = request['kind']
        try:
            reply = {'kind': kind, 'line': HANDLERS[kind](request['line'])}
        except (ProtocolError, InvalidInput, contract.SchemaError, ValueError) as err:
            reply = {'kind': kind, 'error': str(err)}
        sys.stdout.write(json.dumps(reply) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
