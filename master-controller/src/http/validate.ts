/** Validation at the edge: bodies through the protocol's zod schemas, queries and ids here. */
import { LIMITS } from '@vmlive/protocol';
import type { Request } from 'express';
import type { z } from 'zod';
import { ApiError, errors } from '../errors.js';

export function parseBody<S extends z.ZodType>(schema: S, req: Request): z.infer<S> {
  // No body (or no JSON content type) is validated as an empty object.
  const body: unknown = req.body === undefined ? {} : req.body;
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : undefined;
  throw new ApiError('invalid_body', issue ? issue.message : 'invalid body', field);
}

function queryString(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ApiError('invalid_query', `${name} must be given once`, name);
  return v;
}

/** `wait=S`: 0–30 seconds (decimals allowed), default 0. Returns milliseconds. */
export function parseWait(req: Request): number {
  const raw = queryString(req, 'wait');
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new ApiError('invalid_query', 'wait must be a number of seconds', 'wait');
  const s = Number(raw);
  if (s > LIMITS.maxWaitSeconds) {
    throw new ApiError('invalid_query', `wait must be between 0 and ${LIMITS.maxWaitSeconds}`, 'wait');
  }
  return Math.round(s * 1000);
}

/** A non-negative integer cursor or timestamp; default 0. */
export function parseNonNegInt(req: Request, name: string): number {
  const raw = queryString(req, name);
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,16}$/.test(raw)) throw new ApiError('invalid_query', `${name} must be a non-negative integer`, name);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new ApiError('invalid_query', `${name} is too large`, name);
  return n;
}

export function parseEnum<T extends string>(req: Request, name: string, values: readonly T[], dflt: T): T {
  const raw = queryString(req, name);
  if (raw === undefined || raw === '') return dflt;
  if (!(values as readonly string[]).includes(raw)) {
    throw new ApiError('invalid_query', `${name} must be one of ${values.join(', ')}`, name);
  }
  return raw as T;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function vmIdParam(req: Request): string {
  const id = req.params.vmId;
  if (typeof id !== 'string' || !ID.test(id)) throw errors.vmNotFound(String(id));
  return id;
}

export function sessionIdParam(req: Request): string {
  const id = req.params.id;
  if (typeof id !== 'string' || !ID.test(id)) throw errors.sessionNotFound(String(id));
  return id;
}
