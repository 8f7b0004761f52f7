/**
 * Request bodies, read before the handler runs (as Express' body parser did):
 * JSON for routes with a body schema (application/json, UTF-8, identity
 * encoding, an object or array at the top, ≤ 128 KiB), raw bytes for routes
 * with a media type (the snapshot upload, ≤ its maxBytes). Every refusal is a
 * registry error: invalid_json, body_too_large, unsupported_media_type.
 */
import type { IncomingMessage } from 'node:http';
import { LIMITS, type Route } from '@vmlive/protocol';
import { ApiError } from '../errors.js';

function hasBody(raw: IncomingMessage): boolean {
  const len = raw.headers['content-length'];
  return (len !== undefined && len !== '0') || raw.headers['transfer-encoding'] !== undefined;
}

/** Reads at most `limit` bytes; past it (or a Content-Length over it) 413 body_too_large. */
function readAll(raw: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(raw.headers['content-length'] ?? -1);
  if (declared > limit) {
    raw.resume();
    return Promise.reject(new ApiError('body_too_large', 'the body is too large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    raw.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new ApiError('body_too_large', 'the body is too large'));
        return;
      }
      chunks.push(chunk);
    });
    raw.once('end', () => {
      if (!failed) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    raw.once('error', () => {
      if (!failed) reject(new ApiError('invalid_body', 'the request body was cut off'));
      failed = true;
    });
  });
}

function mediaType(raw: IncomingMessage): { type: string; charset: string | undefined } {
  const ct = raw.headers['content-type'] ?? '';
  const [type = '', ...params] = ct.split(';');
  let charset: string | undefined;
  for (const p of params) {
    const [k, v] = p.split('=');
    if (k?.trim().toLowerCase() === 'charset') charset = v?.trim().replace(/^"|"$/g, '').toLowerCase();
  }
  return { type: type.trim().toLowerCase(), charset };
}

/**
 * The body for `route`, or undefined when it has none. JSON sent with another Content-Type
 * to a JSON route is 415 (it would otherwise be silently ignored).
 */
export async function readBody(raw: IncomingMessage, route: Route): Promise<unknown> {
  if (!route.body || !hasBody(raw)) return undefined;
  const encoding = (raw.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') {
    raw.resume();
    throw new ApiError('unsupported_media_type', `unsupported content encoding "${encoding}"`);
  }
  if (route.body.mediaType) return readAll(raw, route.body.maxBytes);

  const { type, charset } = mediaType(raw);
  if (type !== 'application/json') {
    raw.resume();
    throw new ApiError('unsupported_media_type', 'send the body as application/json');
  }
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    raw.resume();
    throw new ApiError('unsupported_media_type', `unsupported charset "${charset.toUpperCase()}"`);
  }
  const text = (await readAll(raw, LIMITS.jsonBodyBytes)).toString('utf8');
  // Strict, as Express' parser: the top level is an object or an array.
  const first = text.trimStart()[0];
  if (first === undefined) return undefined;
  if (first !== '{' && first !== '[') throw new ApiError('invalid_json', 'the body is not a JSON object');
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json', 'the body is not valid JSON');
  }
}
