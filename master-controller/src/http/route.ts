/**
 * Registers a handler for one entry of the protocol's route table: the method
 * and path come from the table, and the handler reads its query and JSON body
 * through the table's schemas (400 invalid_query / invalid_body naming the
 * field). The OpenAPI document is generated from the same table, and
 * openapi.test.ts compares it with what a Router holds (`registered`).
 *
 * The handler calls `query()` / `body()` itself, after authenticating, so an
 * unauthenticated caller gets 401 whatever it sent.
 */
import type { Route } from '@vmlive/protocol';
import type { z } from 'zod';
import type { Req, Res } from './kit.js';
import { parseBody, parseQuery } from './validate.js';

type QueryOut<R extends Route> = R['query'] extends z.ZodType ? z.output<R['query']> : Record<string, never>;
type BodyOut<R extends Route> = R['body'] extends { schema: infer S extends z.ZodType } ? z.output<S> : undefined;

export interface Input<R extends Route> {
  query(): QueryOut<R>;
  body(): BodyOut<R>;
}

export type Handler = (req: Req, res: Res) => Promise<void>;

interface Compiled {
  route: Route;
  /** Literal segments, or null where the path has a parameter. */
  segments: Array<string | null>;
  names: string[];
  handler: Handler;
}

export interface Match {
  route: Route;
  handler: Handler;
  params: Record<string, string>;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // fails the id checks further on (404), as an unknown id would
  }
}

/** Routes by method and segment count, matched segment by segment: a few string compares per request. */
export class Router {
  private readonly table = new Map<string, Compiled[]>();
  private readonly list: Route[] = [];

  add(route: Route, handler: Handler): void {
    const parts = route.path.split('/');
    const c: Compiled = {
      route,
      segments: parts.map((p) => (p.startsWith(':') ? null : p)),
      names: parts.filter((p) => p.startsWith(':')).map((p) => p.slice(1)),
      handler,
    };
    const key = `${route.method} ${parts.length}`;
    const bucket = this.table.get(key) ?? [];
    bucket.push(c);
    this.table.set(key, bucket);
    this.list.push(route);
  }

  /** HEAD is served by the GET route (node:http then sends no body); one trailing slash is ignored. */
  match(method: string, path: string): Match | undefined {
    const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const parts = p.split('/');
    const bucket = this.table.get(`${method === 'HEAD' ? 'GET' : method} ${parts.length}`);
    if (!bucket) return undefined;
    outer: for (const c of bucket) {
      let params: Record<string, string> | undefined;
      let n = 0;
      for (let i = 0; i < parts.length; i++) {
        const want = c.segments[i];
        const got = parts[i] as string;
        if (want === null) {
          if (got === '') continue outer;
          params ??= {};
          params[c.names[n++] as string] = decode(got);
        } else if (want !== got) continue outer;
      }
      return { route: c.route, handler: c.handler, params: params ?? {} };
    }
    return undefined;
  }

  /** The methods some route serves at `path` (for 405 and its Allow header); empty when none does. */
  methodsAt(path: string): string[] {
    const out: string[] = [];
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) if (this.match(method, path)) out.push(method);
    return out;
  }

  /** What this router serves, as the route table's entries. */
  get registered(): readonly Route[] {
    return this.list;
  }
}

export function handle<R extends Route>(
  router: Router,
  route: R,
  handler: (req: Req, res: Res, input: Input<R>) => Promise<void>,
): void {
  router.add(route, (req, res) =>
    handler(req, res, {
      query: () => (route.query ? parseQuery(route.query, req) : {}) as QueryOut<R>,
      body: () => (route.body?.schema ? parseBody(route.body.schema, req) : undefined) as BodyOut<R>,
    }),
  );
}
