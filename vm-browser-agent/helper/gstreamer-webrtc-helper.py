#!/usr/bin/python3
"""vmlive GStreamer WebRTC helper. Run with Debian's /usr/bin/python3 (python3-gi).

Protocol: protocol/src/helper.ts (JSON lines on stdin/stdout), via vmlive_helper/contract.json.
Settings: one JSON value, --settings=<json> (see --help).
"""
import os
import sys

# Every viewer's webrtcbin brings its own streaming threads, and glibc gives each new thread a
# malloc arena that is never returned: RSS climbed ~34 MB per viewer for the first viewers.
# Two arenas keep it flat. glibc reads this only at process start, hence the re-exec.
if 'MALLOC_ARENA_MAX' not in os.environ:
    os.environ['MALLOC_ARENA_MAX'] = '2'
    os.execv(sys.executable, [sys.executable] + sys.argv)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vmlive_helper.json_schema import SchemaDocumentError  # noqa: E402

try:
    from vmlive_helper.main import main  # noqa: E402
except SchemaDocumentError as err:
    # contract.json missing or unusable: a broken install, which no restart fixes. 42 is
    # HELPER_EXIT_BAD_CONFIG, written out because the contract that carries it did not load.
    sys.stderr.write('vmlive helper: bad configuration: %s\n' % err)
    sys.exit(42)

if __name__ == '__main__':
    sys.exit(main())
