#!/usr/bin/python3
"""vmlive GStreamer WebRTC helper. Run with Debian's /usr/bin/python3 (python3-gi).

Protocol: protocol/src/helper.ts (JSON lines on stdin/stdout). Settings: --help.
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

from vmlive_helper.main import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
