/** Validation at the edge: bodies and queries through the route table's zod schemas, ids here. */
import { Id } from '@vmlive/protocol';
import type { z } from 'zod';
import { ApiError, errors } from '../errors.js';
import type { Req } from './kit.js';

function firstIssue(error: z.ZodError): { message: string; field: string | undefined } {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : undefined;
  return { message: issue?.message ?? 'invalid', field };
}

export function parseBody<S extends z.ZodType>(schema: S, req: Req): z.output<S> {
  // No body (or no JSON content type) is validated as an empty object.
  const body: unknown = req.body === undefined ? {} : req.body;
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const { message, field } = firstIssue(result.error);
  throw new ApiError('invalid_body', field && !message.includes(field) ? `${field}: ${message}` : message, field);
}

export function parseQuery<S extends z.ZodType>(schema: S, req: Req): z.output<S> {
  const result = schema.safeParse(req.query ?? {});
  if (result.success) return result.data;
  const { message, field } = firstIssue(result.error);
  throw new ApiError('invalid_query', field && !message.includes(field) ? `${field}: ${message}` : message, field);
}

export function vmIdParam(req: Req): string {
  const id = req.params.vmId;
  if (!Id.safeParse(id).success) throw errors.vmNotFound(String(id));
  return id as string;
}

export function sessionIdParam(req: Req): string {
  const id = req.params.id;
  if (!Id.safeParse(id).success) throw errors.sessionNotFound(String(id));
  return id as string;
}
