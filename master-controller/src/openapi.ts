/**
 * Builds the OpenAPI 3.1 document from the protocol's route table
 * (protocol/src/routes.ts), its zod schemas and the error registry, so the
 * contract is written once. `openapi.json` at the package root is this output
 * (regenerate: `npm run openapi -w master-controller`; openapi.test.ts fails
 * when it is stale, a route is undocumented or an error code is missing).
 */

import { writeFileSync } from 'node:fs';
import { ERROR_CODES, type ErrorCode, LIMITS, type Route, routes } from '@vmlive/protocol';
import { z } from 'zod';
import { rateClass } from './edge/rate-limit.js';

type Json = Record<string, unknown>;

const COMPONENTS = '#/components/schemas/';

/**
 * Tidies zod's JSON Schema for the document: `$defs` refs point at components,
 * integer bounds that only say "safe integer" go, and response objects do not
 * forbid extra properties (clients ignore fields they do not know; fields are
 * only ever added).
 */
function tidy(node: unknown, io: 'input' | 'output'): unknown {
  if (Array.isArray(node)) return node.map((n) => tidy(n, io));
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) {
    if (k === '$defs' || k === '$schema' || k === '$id') continue;
    if (k === '$ref' && typeof v === 'string') out[k] = v.replace('#/$defs/', COMPONENTS);
    else if (
      (k === 'minimum' && v === -Number.MAX_SAFE_INTEGER) ||
      (k === 'maximum' && v === Number.MAX_SAFE_INTEGER)
    ) {
    } else if (k === 'additionalProperties' && v === false && io === 'output') continue;
    else out[k] = tidy(v, io);
  }
  return out;
}

/** JSON Schema of a zod schema; schemas with a meta id become `$ref`s to components. */
function toSchema(s: z.ZodType, io: 'input' | 'output'): Json {
  return tidy(z.toJSONSchema(s, { io, unrepresentable: 'any' }), io) as Json;
}

/** Every schema with a meta id, as components (referencing each other by $ref). */
function components(): Record<string, Json> {
  const all = z.toJSONSchema(z.globalRegistry, {
    io: 'output',
    unrepresentable: 'any',
    uri: (id: string) => COMPONENTS + id,
  }).schemas as Record<string, Json>;
  const out: Record<string, Json> = {};
  for (const id of Object.keys(all).sort()) out[id] = tidy(all[id], 'output') as Json;
  const codes = out.ErrorCode as Json;
  codes.description = Object.entries(ERROR_CODES)
    .map(([code, e]) => `- \`${code}\` (${e.status}): ${e.description}`)
    .join('\n');
  return out;
}

/** A top-level schema that is a named component is referenced, not inlined. */
function schemaOrRef(s: z.ZodType, io: 'input' | 'output'): Json {
  const id = z.globalRegistry.get(s)?.id;
  return id ? { $ref: COMPONENTS + id } : toSchema(s, io);
}

function parameters(route: Route): Json[] {
  const out: Json[] = [];
  for (const [name, description] of Object.entries(route.pathParams ?? {})) {
    out.push({
      name,
      in: 'path',
      required: true,
      description,
      schema:
        name === 'type'
          ? { type: 'string', enum: ['vm', 'browser'] }
          : { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    });
  }
  if (route.query) {
    const q = toSchema(route.query, 'input') as { properties?: Record<string, Json> };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      const { description, ...rest } = schema;
      out.push({ name, in: 'query', required: false, ...(description ? { description } : {}), schema: rest });
    }
  }
  return out;
}

function operation(route: Route): Json {
  const responses: Json = {};
  for (const r of route.responses) {
    if (r.schema) {
      responses[String(r.status)] = {
        description: r.description,
        content: { 'application/json': { schema: schemaOrRef(r.schema, 'output') } },
      };
    } else if (r.mediaType) {
      responses[String(r.status)] = {
        description: r.description,
        content: { [r.mediaType]: { schema: { type: 'string' } } },
      };
    } else {
      responses[String(r.status)] = { description: r.description };
    }
  }
  const open = route.callers.includes('none');
  // Any route may answer these: the controller is stopping, its shared store is down, or a bug;
  // and any rate-limited route (edge/rate-limit.ts) its 429s.
  const limited: ErrorCode[] = rateClass(route) ? ['rate_limited', 'too_many_long_polls'] : [];
  const codes: ErrorCode[] = [
    ...new Set<ErrorCode>([...route.errors, ...limited, 'shutting_down', 'store_unavailable', 'internal']),
  ];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const s = ERROR_CODES[code].status;
    byStatus.set(s, [...(byStatus.get(s) ?? []), code]);
  }
  for (const [s, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[String(s)] = {
      description: list.map((c) => `\`${c}\``).join(', '),
      content: { 'application/json': { schema: { $ref: `${COMPONENTS}Error` } } },
    };
  }
  const params = parameters(route);
  let requestBody: Json | undefined;
  if (route.body?.schema) {
    requestBody = {
      required: true,
      content: { 'application/json': { schema: toSchema(route.body.schema, 'input') } },
    };
  } else if (route.body?.mediaType) {
    requestBody = {
      required: true,
      content: {
        [route.body.mediaType]: { schema: { type: 'string', contentMediaType: route.body.mediaType } },
      },
      description: `at most ${route.body.maxBytes} bytes`,
    };
  }
  return {
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    'x-callers': route.callers,
    security: open ? [] : [{ bearer: [] }],
    ...(params.length ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
    'x-error-codes': codes,
  };
}

export function buildOpenApi(): Json {
  const paths: Record<string, Json> = {};
  for (const route of Object.values(routes) as Route[]) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    (paths[path] as Json)[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'vmlive master controller',
      version: '0.2.0',
      description:
        'WebRTC signaling between viewers and browser VMs over REST with long-polls. ' +
        'Every /api call (except this document) needs `Authorization: Bearer <token>`: the operator token, a VM token, or a viewer token (role view|control, one VM, an expiry). ' +
        `Limits: SDP ≤ ${LIMITS.sdpBytes} bytes, candidate ≤ ${LIMITS.candidateBytes} bytes, ≤ ${LIMITS.candidatesPerSide} candidates per side per session, JSON body ≤ ${LIMITS.jsonBodyBytes} bytes. ` +
        'Errors are `{error:{code,message,field?}}`; the codes and their statuses are in components.schemas.ErrorCode. CORS allows any origin.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'operator token or JWT' } },
      schemas: components(),
    },
    paths,
  };
}

// `tsx master-controller/src/openapi.ts --write` regenerates openapi.json.
if (process.argv[1]?.endsWith('openapi.ts') && process.argv.includes('--write')) {
  const out = new URL('../openapi.json', import.meta.url);
  writeFileSync(out, `${JSON.stringify(buildOpenApi(), null, 2)}\n`);
  process.stdout.write(`wrote ${out.pathname}\n`);
}
