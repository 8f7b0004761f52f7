import { describe, expect, it } from 'vitest';
import { InputGate } from './inputGate.js';

function channel(readyState = 'open') {
  const sent: string[] = [];
  return { readyState, bufferedAmount: 0, sent, send: (d: string) => void sent.push(d) };
}

describe('input held until the VM confirms control', () => {
  it('holds messages in order and sends them all on the grant, then passes input straight through', () => {
    const ch = channel();
    const gate = new InputGate(ch);
    gate.send('a');
    gate.send('b');
    expect(ch.sent).toEqual([]);
    expect(gate.heldCount).toBe(2);
    expect(gate.grant()).toBe(0);
    gate.send('c');
    expect(ch.sent).toEqual(['a', 'b', 'c']);
  });

  it('drops the whole held batch, never a part of it, when its first message is older than the window', () => {
    let now = 0;
    const ch = channel();
    const gate = new InputGate(ch, { windowMs: 1000, now: () => now });
    gate.send('key down');
    now = 900;
    gate.send('key up');
    now = 1001;
    expect(gate.grant()).toBe(2);
    expect(ch.sent).toEqual([]);
    gate.send('fresh');
    expect(ch.sent).toEqual(['fresh']);
  });

  it('drops everything when more than maxHeld messages were made (the batch is incomplete)', () => {
    const ch = channel();
    const gate = new InputGate(ch, { maxHeld: 2 });
    for (const m of ['1', '2', '3']) gate.send(m);
    expect(gate.grant()).toBe(3);
    expect(ch.sent).toEqual([]);
  });

  it('closing drops what is held and holds new input again', () => {
    const ch = channel();
    const gate = new InputGate(ch);
    gate.grant();
    gate.send('while granted');
    gate.close();
    gate.send('after');
    expect(gate.close()).toBe(1);
    expect(ch.sent).toEqual(['while granted']);
  });

  it('reports the channel state of the channel underneath (so InputSender stops on a closed channel)', () => {
    const gate = new InputGate(channel('closing'));
    expect(gate.readyState).toBe('closing');
  });
});
