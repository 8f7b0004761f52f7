#!/usr/bin/env node
// A stand-in for the Python helper in HelperProcess unit tests. Its `ready` reports the codec
// and size of the --settings=<json> it was given. Behaviour by FAKE_MODE:
//   normal    ready, then answers get-stats/snapshot, echoes errors for unknown peers
//   bad-config   exits 42 before ready
//   crash-early  exits 3 before ready
//   silent       never says ready
//   die-on-stats says ready, then exits 7 when it receives get-stats
//   mute-stats   says ready, then never answers get-stats
//   garbage      ready, then prints junk and invalid events before a valid one
//   ignore-shutdown  ready; ignores `shutdown` and SIGTERM
//   ready-then-bad-config  appends a line to FAKE_STARTS per start; the first start says ready
//                and exits 1 soon after, every later one exits 42 before ready
import { appendFileSync, readFileSync } from 'node:fs';

/** The stats both fakes report (the in-process one is src/testing/fake-helper.ts). */
const FAKE_STATS = JSON.parse(readFileSync(new URL('./fake-stats.json', import.meta.url), 'utf8'));

import readline from 'node:readline';

let mode = process.env.FAKE_MODE ?? 'normal';
const settingsArg = process.argv.find((a) => a.startsWith('--settings='));
const settings = settingsArg ? JSON.parse(settingsArg.slice('--settings='.length)) : {};
if (mode === 'ready-then-bad-config') {
  const file = process.env.FAKE_STARTS;
  appendFileSync(file, `${process.pid}\n`);
  const starts = readFileSync(file, 'utf8').trim().split('\n').length;
  if (starts === 1) setTimeout(() => process.exit(1), 100);
  else mode = 'bad-config';
}
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
process.stderr.write(`INFO vmlive.fake: starting in ${mode} mode\n`);
if (mode === 'bad-config') {
  process.stderr.write('vmlive helper: bad configuration: codec (VMLIVE_CODEC): must be one of vp8, h264\n');
  process.exit(42);
}
if (mode === 'crash-early') process.exit(3);
if (mode === 'ignore-shutdown') process.on('SIGTERM', () => {});
if (mode !== 'silent') {
  out({
    type: 'ready',
    peerId: null,
    version: 'fake',
    codec: settings.codec,
    width: settings.width,
    height: settings.height,
    fps: settings.fps,
    capture: settings.capture,
    pid: process.pid,
  });
}
if (mode === 'garbage') {
  process.stdout.write('this is not json\n');
  out({ type: 'peer-state', peerId: 'p' });
  out({ type: 'log', peerId: null, level: 'info', msg: 'hello from the fake' });
}
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = JSON.parse(line);
  out({ type: 'log', peerId: null, level: 'debug', msg: `got ${cmd.type}` });
  if (cmd.type === 'get-stats') {
    if (mode === 'die-on-stats') process.exit(7);
    if (mode === 'mute-stats') return;
    out({
      type: 'stats',
      peerId: cmd.peerId,
      requestId: cmd.requestId,
      ...FAKE_STATS,
    });
  } else if (cmd.type === 'snapshot') {
    const ok = cmd.quality !== 13;
    out({
      type: 'snapshot-result',
      peerId: null,
      requestId: cmd.requestId,
      jpeg: ok ? Buffer.from([0xff, 0xd8, 0xff]).toString('base64') : null,
      ...(ok ? {} : { error: 'no display' }),
    });
  } else if (cmd.type === 'shutdown' && mode !== 'ignore-shutdown') {
    process.exit(0);
  } else if (cmd.type === 'add-peer') {
    out({ type: 'peer-state', peerId: cmd.peerId, ice: 'new', dtls: 'new', connection: 'new' });
  }
});
rl.on('close', () => {
  if (mode !== 'ignore-shutdown') process.exit(0);
});
