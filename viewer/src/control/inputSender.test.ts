import type { InputMessage } from '@vmlive/protocol';
import { InputMessage as InputMessageSchema } from '@vmlive/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import { InputSender } from './inputSender.js';

class FakeChannel {
  readyState = 'open';
  bufferedAmount = 0;
  sent: InputMessage[] = [];
  send(data: string) {
    // Every message must be valid on the wire, as the helper validates it.
    this.sent.push(InputMessageSchema.parse(JSON.parse(data)));
  }
}

/** A manual "animation frame" clock. */
function frames() {
  let queue: Array<() => void> = [];
  return {
    schedule: (cb: () => void) => {
      queue.push(cb);
      return () => {
        queue = queue.filter((q) => q !== cb);
      };
    },
    tick() {
      const run = queue;
      queue = [];
      for (const cb of run) cb();
    },
    get pending() {
      return queue.length;
    },
  };
}

describe('input coalescing', () => {
  let channel: FakeChannel;
  let clock: ReturnType<typeof frames>;
  let sender: InputSender;
  beforeEach(() => {
    channel = new FakeChannel();
    clock = frames();
    sender = new InputSender(channel, { schedule: clock.schedule, maxBufferedBytes: 1000 });
  });

  it('sends at most one move per frame, the latest position', () => {
    for (let i = 1; i <= 50; i++) sender.pointerMove(i / 100, 0.5);
    expect(channel.sent).toEqual([]);
    expect(clock.pending).toBe(1);
    clock.tick();
    expect(channel.sent).toEqual([{ t: 'pointer', action: 'move', x: 0.5, y: 0.5 }]);
    clock.tick();
    expect(channel.sent).toHaveLength(1);
  });

  it('flushes the pending move before a button down, so the click lands where the pointer is', () => {
    sender.pointerMove(0.2, 0.3);
    sender.send({ t: 'pointer', action: 'down', x: 0.2, y: 0.3, button: 0 });
    expect(channel.sent.map((m) => m.t === 'pointer' && m.action)).toEqual(['move', 'down']);
    clock.tick();
    expect(channel.sent).toHaveLength(2); // nothing left over for the frame
  });

  it('sums wheel deltas within a frame', () => {
    sender.wheel(0.5, 0.5, 0, 10);
    sender.wheel(0.5, 0.5, 0, 15);
    sender.wheel(0.6, 0.5, 3, 0);
    clock.tick();
    expect(channel.sent).toEqual([{ t: 'wheel', x: 0.6, y: 0.5, dx: 3, dy: 25 }]);
  });

  it('holds moves back while bufferedAmount is over the limit, then sends only the latest', () => {
    channel.bufferedAmount = 5000;
    sender.pointerMove(0.1, 0.1);
    clock.tick();
    sender.pointerMove(0.9, 0.9);
    clock.tick();
    expect(channel.sent).toEqual([]);
    channel.bufferedAmount = 0;
    clock.tick();
    expect(channel.sent).toEqual([{ t: 'pointer', action: 'move', x: 0.9, y: 0.9 }]);
  });

  it('never drops keys or buttons for backpressure', () => {
    channel.bufferedAmount = 5000;
    sender.send({ t: 'key', action: 'down', key: 'a', code: 'KeyA' });
    expect(channel.sent).toHaveLength(1);
  });

  it('sends nothing once the channel is closed or the sender disposed', () => {
    sender.pointerMove(0.5, 0.5);
    channel.readyState = 'closed';
    clock.tick();
    sender.send({ t: 'text', text: 'x' });
    expect(channel.sent).toEqual([]);
    channel.readyState = 'open';
    sender.dispose();
    sender.pointerMove(0.5, 0.5);
    expect(clock.pending).toBe(0);
  });
});
