/**
 * The automation → browser CDP frames, read at the gateway's edge, and the
 * few frames the gateway writes itself (errors, Vmlive results and events).
 *
 * A command is `{id, method, params?, sessionId?}` (the CDP wire format; the
 * JSON-RPC 2.0 error object shape is reused by Chromium). The gateway reads
 * only what it decides on (id, method, sessionId, params when a rule looks at
 * them) and forwards the automation's original bytes, so what reaches Chromium
 * is exactly what the automation sent.
 */
import { z } from 'zod';

const CdpCommand = z.looseObject({
  id: z.number().int(),
  method: z.string().min(1),
  sessionId: z.string().optional(),
  params: z.record(z.string(), z.unknown()).optional(),
});

export interface Command {
  id: number;
  method: string;
  sessionId: string | undefined;
  params: Readonly<Record<string, unknown>>;
}

/**
 * - `command`: a well-formed command.
 * - `invalid`: an id could be read but the rest is wrong; answered with a CDP
 *   error on that id, the connection stays open (Chromium would answer the same way).
 * - `malformed`: not JSON, not an object, or no integer id: there is nothing to
 *   answer, so the connection is closed with 1007 (RFC 6455 §7.4.1: "data
 *   within a message that was not consistent with the type of the message").
 */
export type Parsed =
  | { kind: 'command'; command: Command }
  | { kind: 'invalid'; id: number; sessionId: string | undefined; reason: string }
  | { kind: 'malformed'; reason: string };

export function parseCommand(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'malformed', reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'malformed', reason: 'not a JSON object' };
  }
  const r = CdpCommand.safeParse(value);
  if (r.success) {
    const { id, method, sessionId, params } = r.data;
    return { kind: 'command', command: { id, method, sessionId, params: params ?? {} } };
  }
  const id = 'id' in value ? value.id : undefined;
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) return { kind: 'malformed', reason: 'no integer id' };
  const sid = 'sessionId' in value ? value.sessionId : undefined;
  const field = r.error.issues[0]?.path.join('.') || 'message';
  return { kind: 'invalid', id, sessionId: typeof sid === 'string' ? sid : undefined, reason: `bad ${field}` };
}

/** JSON-RPC 2.0 §5.1 codes, as Chromium uses them. */
export const CDP_ERROR = Object.freeze({
  invalidRequest: -32600,
  methodNotFound: -32601,
  /** "Server error": what Chromium answers for a command it cannot carry out now. */
  serverError: -32000,
});

export function errorFrame(id: number, sessionId: string | undefined, code: number, message: string): string {
  return JSON.stringify(
    sessionId === undefined ? { id, error: { code, message } } : { id, sessionId, error: { code, message } },
  );
}

export function resultFrame(id: number, sessionId: string | undefined, result: unknown): string {
  return JSON.stringify(sessionId === undefined ? { id, result } : { id, sessionId, result });
}

export function eventFrame(method: string, params: unknown, sessionId: string | undefined): string {
  return JSON.stringify(sessionId === undefined ? { method, params } : { method, params, sessionId });
}
