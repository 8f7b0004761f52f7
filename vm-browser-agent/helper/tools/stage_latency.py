"""Where the helper's milliseconds go, frame by frame, on the clock page (scripts/pages/clock.html).

Builds the helper's own capture + encoder (pipeline.SharedEncoder, the chosen VMLIVE_CAPTURE) on a
display that shows the clock page, adds a payloader branch off the tee, and times every frame with
pad probes. The painted time is read back from the frame that leaves the capture (the clock page's
grid, clock-code.js), so "paint" is the page's own Date.now() when it painted that frame.

  /usr/bin/python3 tools/stage_latency.py --settings='{"display":":99","capture":"damage"}' --seconds 10 [--json]

Stages (ms, medians and p95 over frames that show a new painted value):
  damage: paint -> grab started (Chromium's raster/composite/XShmPutImage, plus our wait), of
          which damage event -> grab started (pacing, or waiting for the encoder), grab + convert,
          -> out of appsrc, -> encoder in, encode, payload
  timer:  paint -> out of ximagesrc (Chromium, waiting for the next tick, grab), -> encoder in
          (queue, videoconvert, videoscale), encode, payload
Sending (webrtcbin: SRTP, nicesink) is not here: scripts/bench-capture.ts measures paint -> arrival
at a real viewer, the difference is transport.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import gi  # noqa: E402

gi.require_version('Gst', '1.0')
gi.require_version('GstVideo', '1.0')
from gi.repository import GLib, Gst  # noqa: E402

# clock-code.js LAYOUT: the grid's cells in screen pixels (page at the screen's origin, 100 %)
X0, Y0, COLS, ROWS, CELL_W, CELL_H = 48, 48, 18, 3, 64, 48


def crc16(data: bytes) -> int:
    crc = 0xffff
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xffff if crc & 0x8000 else (crc << 1) & 0xffff
    return crc


def decode_rows(rows) -> 'int | None':
    """rows: for each grid row, a function cell -> mean luma. The low 32 bits of the painted ms."""
    bits = []
    for lum in rows:
        values = [lum(c) for c in range(COLS)]
        white, black = values[0], values[-1]
        span = white - black
        if span < 96:
            return None
        threshold = black + span / 2
        for v in values[1:-1]:
            if abs(v - threshold) < span * 0.25:
                return None
            bits.append(1 if v > threshold else 0)
    low = int(''.join(map(str, bits[:32])), 2)
    if crc16(low.to_bytes(4, 'big')) != int(''.join(map(str, bits[32:])), 2):
        return None
    return low


def painted_in(buf: Gst.Buffer, fmt: str, width: int) -> 'int | None':
    """The clock value in a BGRx (ximagesrc) or I420 (appsrc) frame, from one line per grid row."""
    bpp = 4 if fmt == 'BGRx' else 1
    rows = []
    for r in range(ROWS):
        y = Y0 + r * CELL_H + CELL_H // 2
        line = buf.extract_dup((y * width + X0) * bpp, COLS * CELL_W * bpp)

        def lum(c, line=line):
            xs = range(c * CELL_W + CELL_W // 4, c * CELL_W + 3 * CELL_W // 4, 4)
            if bpp == 1:
                return sum(line[x] for x in xs) / len(xs)
            return sum(0.114 * line[4 * x] + 0.587 * line[4 * x + 1] + 0.299 * line[4 * x + 2] for x in xs) / len(xs)
        rows.append(lum)
    return decode_rows(rows)


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float('nan')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--settings', required=True, help='helper settings JSON (as --settings of the helper)')
    parser.add_argument('--seconds', type=float, default=10)
    parser.add_argument('--warmup', type=float, default=2)
    parser.add_argument('--json', action='store_true', help='print one JSON line instead of the table')
    args = parser.parse_args()
    Gst.init(None)
    from vmlive_helper.config import parse_settings
    from vmlive_helper.log import setup_logging
    from vmlive_helper.pipeline import SharedEncoder
    cfg = parse_settings(args.settings)
    setup_logging('warn')
    try:
        os.setpriority(os.PRIO_PROCESS, 0, cfg.nice)  # as the helper does at start (VMLIVE_NICE)
    except OSError:
        pass
    shared = SharedEncoder(cfg)
    # The payloader as peer.py sets it up; fakesink async=false so the pipeline does not wait to
    # preroll (the capture bin is in locked state).
    payloader = ('rtpvp8pay picture-id-mode=2' if cfg.codec == 'vp8'
                 else 'rtph264pay config-interval=-1 aggregate-mode=zero-latency')
    pay = Gst.parse_bin_from_description(
        'queue max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 ! %s name=pay mtu=%d '
        '! fakesink sync=false async=false' % (payloader, cfg.mtu), True)
    shared.pipeline.add(pay)
    shared.tee.link(pay)
    epoch_minus_mono = time.time() - time.monotonic()
    capture = shared.capture.get_by_name('capture')
    fmt = 'I420' if cfg.capture == 'damage' else 'BGRx'
    frames = []  # one dict per frame, in order
    captured = {}  # PTS -> frame: videoconvert and the encoder's input keep the capture's PTS
    in_encoder = []  # frames in the encoder, in order (x264enc shifts its output PTS)
    by_pts = {}  # encoder output PTS -> frame: the payloader's packets carry it

    def on_capture(_pad, info):
        now = time.monotonic()
        buf = info.get_buffer()
        frame = {'out': now, 'painted': painted_in(buf, fmt, cfg.width if fmt == 'I420' else screen_width)}
        if shared.damage is not None:
            # the capture thread's own timings of this push: the newest pushed before now
            timings = [t for t in list(shared.damage.timings) if t[3] <= now]
            if timings:
                frame['damage'], frame['grab'], frame['converted'], frame['pushed'] = timings[-1]
        frames.append(frame)
        captured[buf.pts] = frame  # the timer path's leaky queue may drop it: matched by PTS
        return Gst.PadProbeReturn.OK

    def on_encoder_in(_pad, info):
        frame = captured.pop(info.get_buffer().pts, None)
        if frame is not None:
            frame['enc_in'] = time.monotonic()
            in_encoder.append(frame)
        return Gst.PadProbeReturn.OK

    def on_encoded(_pad, info):
        if in_encoder:  # neither encoder reorders or holds frames with the helper's settings
            frame = in_encoder.pop(0)
            frame['enc_out'] = time.monotonic()
            by_pts[info.get_buffer().pts] = frame
        return Gst.PadProbeReturn.OK

    def on_payloaded(_pad, info):
        buf = info.get_buffer() if info.type & Gst.PadProbeType.BUFFER else info.get_buffer_list().get(0)
        frame = by_pts.pop(buf.pts, None)
        if frame is not None:
            frame['pay'] = time.monotonic()
        return Gst.PadProbeReturn.OK

    # Xlib in Python (not libX11): ximagesrc may already own a libX11 connection.
    from Xlib import display as xdisplay
    screen_width = xdisplay.Display(cfg.display).screen().width_in_pixels
    capture.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, on_capture)
    shared.encoder.get_static_pad('sink').add_probe(Gst.PadProbeType.BUFFER, on_encoder_in)
    shared.encoder.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, on_encoded)
    pay.get_by_name('pay').get_static_pad('src').add_probe(
        Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, on_payloaded)
    shared.start_pipeline()
    usage0 = [None]

    def begin():
        frames.clear()
        usage0[0] = (time.monotonic(), os.times())
        return False
    shared.start_capture()
    loop = GLib.MainLoop()
    GLib.timeout_add(int(args.warmup * 1000), begin)
    GLib.timeout_add(int((args.warmup + args.seconds) * 1000), loop.quit)
    loop.run()
    t1, u1 = time.monotonic(), os.times()
    t0, u0 = usage0[0]
    cpu = 100 * ((u1.user + u1.system) - (u0.user + u0.system)) / (t1 - t0)
    shared.stop_capture()
    shared.shutdown()

    # first appearance of each painted value only (repeats and re-grabs show an old paint)
    seen, rows = set(), []
    for f in frames:
        if f['painted'] is None or f['painted'] in seen or 'pay' not in f:
            continue
        seen.add(f['painted'])
        out_ms = (f['out'] + epoch_minus_mono) * 1000
        age = (int(out_ms) - f['painted']) % 2 ** 32  # low 32 bits of the painted time, as clock-code.js
        if age > 2 ** 31:
            age -= 2 ** 32
        f['paint'] = f['out'] - age / 1000
        rows.append(f)
    if cfg.capture == 'damage':
        stages = [('paint -> grab started', 'paint', 'grab'), ('  of which damage -> grab', 'damage', 'grab'),
                  ('grab + convert', 'grab', 'converted'), ('-> out of appsrc', 'converted', 'out')]
    else:
        stages = [('paint -> out of ximagesrc', 'paint', 'out')]
    stages += [('-> encoder in', 'out', 'enc_in'), ('encode', 'enc_in', 'enc_out'), ('payload', 'enc_out', 'pay'),
               ('paint -> payloaded', 'paint', 'pay')]
    result = {'capture': cfg.capture, 'codec': cfg.codec, 'frames': len(frames), 'measured': len(rows),
              'undecodable': sum(1 for f in frames if f['painted'] is None),
              'fps': len(frames) / args.seconds, 'cpuPercent': round(cpu, 1), 'stages': {}}
    for name, a, b in stages:
        ms = [(f[b] - f[a]) * 1000 for f in rows if a in f and b in f]
        result['stages'][name] = {'p50': round(percentile(ms, 50), 2), 'p95': round(percentile(ms, 95), 2)}
    if args.json:
        print(json.dumps(result))
    else:
        print('%s capture, %s: %d frames (%.1f/s), %d with a new painted value, %d undecodable, helper CPU %.0f %%'
              % (cfg.capture, cfg.codec, len(frames), result['fps'], len(rows), result['undecodable'], cpu))
        for name, v in result['stages'].items():
            print('  %-28s p50 %6.2f ms   p95 %6.2f ms' % (name, v['p50'], v['p95']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
