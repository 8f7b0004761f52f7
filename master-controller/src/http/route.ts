/**
 * Registers a handler for one entry of the protocol's route table: the method
 * and path come from the table, and the handler reads its query and JSON body
 * through the table's schemas (400 invalid_query / invalid_body naming the
 * field). The OpenAPI document is generated from the same table.
 *
 * The handler calls `query()` / `body()` itself, after authenticating, so an
 * unauthenticated caller gets 401 whatever it sent.
 */
import type { Route } from '@vmlive/protocol';
import type { Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import { parseBody, parseQuery } from './validate.js';

type QueryOut<R extends Route> = R['query'] extends z.ZodType ? z.output<R['query']> : Record<string, never>;
type BodyOut<R extends Route> = R['body'] extends { schema: infer S extends z.ZodType } ? z.output<S> : undefined;

export interface Input<R extends Route> {
  query(): QueryOut<R>;
  body(): BodyOut<R>;
}

export function handle<R extends Route>(
  router: Router,
  route: R,
  handler: (req: Request, res: Response, input: Input<R>) => Promise<void>,
  before: RequestHandler[] = [],
): void {
  const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
  router[method](route.path, ...before, async (req: Request, res: Response) => {
    const input: Input<R> = {
      query: () => (route.query ? parseQuery(route.query, req) : {}) as QueryOut<R>,
      body: () => (route.body?.schema ? parseBody(route.body.schema, req) : undefined) as BodyOut<R>,
    };
    await handler(req, res, input);
  });
}
