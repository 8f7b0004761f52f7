/**
 * The agent ⇄ helper and viewer ⇄ helper contract holds across both languages: every message
 * kind, encoded by TypeScript, is parsed by the Python helper's own parsers (a real
 * /usr/bin/python3), re-encoded by its encoders, and validated back here with zod, deep-equal.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { helperProtocol, InputFeedback, InputMessage } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { COMMANDS, EVENTS, FEEDBACK, INPUTS, INVALID } from './testing/contract-examples.js';

const DRIVER = fileURLToPath(new URL('../../helper/tests/contract_roundtrip.py', import.meta.url));

const SCHEMAS = {
  command: helperProtocol.HelperCommand,
  event: helperProtocol.HelperEvent,
  input: InputMessage,
  feedback: InputFeedback,
} as const;
type Kind = keyof typeof SCHEMAS;

function throughPython(
  requests: Array<{ kind: Kind; line: string }>,
): Array<{ kind: Kind; line?: string; error?: string }> {
  const run = spawnSync('/usr/bin/python3', [DRIVER], {
    input: requests.map((r) => `${JSON.stringify(r)}\n`).join(''),
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return run.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

/** Every value the union's discriminator (`key`) can take. */
function discriminants(union: { options: readonly z.ZodType[] }, key: string): string[] {
  return union.options.map((o) => {
    const shape = (o as z.ZodObject).shape[key] as z.ZodLiteral<string>;
    return shape.value;
  });
}

describe('contract round trip TypeScript → Python → TypeScript', () => {
  it('the examples cover every command, event, input and feedback kind', () => {
    expect(COMMANDS.map((m) => m.type).sort()).toEqual(discriminants(helperProtocol.HelperCommand, 'type').sort());
    expect(EVENTS.map((m) => m.type).sort()).toEqual(discriminants(helperProtocol.HelperEvent, 'type').sort());
    expect(INPUTS.map((m) => m.t).sort()).toEqual(discriminants(InputMessage, 't').sort());
    expect(FEEDBACK.map((m) => m.t).sort()).toEqual(discriminants(InputFeedback, 't').sort());
  });

  it('every example comes back deep-equal and valid', () => {
    const sent = [
      ...COMMANDS.map((m) => ({ kind: 'command' as const, value: SCHEMAS.command.parse(m) })),
      ...EVENTS.map((m) => ({ kind: 'event' as const, value: SCHEMAS.event.parse(m) })),
      ...INPUTS.map((m) => ({ kind: 'input' as const, value: SCHEMAS.input.parse(m) })),
      ...FEEDBACK.map((m) => ({ kind: 'feedback' as const, value: SCHEMAS.feedback.parse(m) })),
    ];
    const replies = throughPython(sent.map((s) => ({ kind: s.kind, line: JSON.stringify(s.value) })));
    expect(replies).toHaveLength(sent.length);
    sent.forEach((s, i) => {
      const reply = replies[i];
      expect(reply?.error, `${s.kind} ${JSON.stringify(s.value)}`).toBeUndefined();
      expect(reply?.line).not.toContain('\n');
      const back = SCHEMAS[s.kind].safeParse(JSON.parse(reply?.line ?? 'null'));
      expect(back.success, `${s.kind}: ${back.error?.message}`).toBe(true);
      expect(back.data).toEqual(s.value);
    });
  });

  it('Python refuses what zod refuses', () => {
    for (const { kind, line } of INVALID) {
      expect(SCHEMAS[kind].safeParse(JSON.parse(line)).success, line).toBe(false);
    }
    const replies = throughPython(INVALID);
    replies.forEach((r, i) => {
      expect(r.error, INVALID[i]?.line).toBeTruthy();
    });
  });

  it('Python fills in the defaults zod would', () => {
    const [addPeer, snapshot] = throughPython([
      { kind: 'command', line: '{"type":"add-peer","peerId":"p"}' },
      { kind: 'command', line: '{"type":"snapshot","requestId":3}' },
    ]);
    expect(JSON.parse(addPeer?.line ?? '')).toEqual(SCHEMAS.command.parse({ type: 'add-peer', peerId: 'p' }));
    expect(JSON.parse(snapshot?.line ?? '')).toEqual(SCHEMAS.command.parse({ type: 'snapshot', requestId: 3 }));
  });
});
