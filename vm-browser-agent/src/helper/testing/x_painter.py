"""Test support: a real X client that changes the screen on command (python-xlib, on the root
window), so capture tests control exactly when and where the display is damaged.

stdin, one command per line; every command is answered with one line on stdout:
  move FPS     repaint a moving bar at FPS Hz until `still`      -> "ok"
  still        stop repainting                                    -> "ok"
  fill R G B   fill the probe rectangle (PROBE) with that colour  -> "filled <epoch ms after XSync>"
"""
import select
import sys
import time

from Xlib import X, display

PROBE = (560, 300, 160, 120)  # x, y, w, h: where `fill` paints (the tests read it back)
BAR = (0, 600, 1280, 60)


def main() -> None:
    dpy = display.Display(sys.argv[1])
    root = dpy.screen().root
    gc = root.create_gc(subwindow_mode=X.IncludeInferiors)
    interval = None
    step = 0
    next_paint = 0.0

    def fill(rect, rgb):
        gc.change(foreground=(rgb[0] << 16) | (rgb[1] << 8) | rgb[2])
        root.fill_rectangle(gc, *rect)

    def reply(text):
        sys.stdout.write(text + '\n')
        sys.stdout.flush()

    while True:
        timeout = None if interval is None else max(0.0, next_paint - time.monotonic())
        ready, _, _ = select.select([sys.stdin], [], [], timeout)
        if ready:
            line = sys.stdin.readline()
            if not line:
                return
            cmd = line.split()
            if cmd and cmd[0] == 'move':
                interval = 1.0 / float(cmd[1])
                next_paint = time.monotonic()
                reply('ok')
            elif cmd and cmd[0] == 'still':
                interval = None
                dpy.sync()
                reply('ok')
            elif cmd and cmd[0] == 'fill':
                fill(PROBE, [int(v) for v in cmd[1:4]])
                dpy.sync()
                reply('filled %d' % int(time.time() * 1000))
            else:
                reply('error unknown command %r' % line.strip())
        if interval is not None and time.monotonic() >= next_paint:
            x, y, w, h = BAR
            fill(BAR, (40, 40, 40))
            fill((x + (step * 16) % (w - 100), y, 100, h), (255, 160, 0))
            dpy.flush()
            step += 1
            next_paint += interval


if __name__ == '__main__':
    main()
