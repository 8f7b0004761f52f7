#!/usr/bin/python3
"""vmlive GStreamer WebRTC helper. Run with Debian's /usr/bin/python3 (python3-gi).

Protocol: protocol/src/helper.ts (JSON lines on stdin/stdout). Settings: --help.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vmlive_helper.main import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
