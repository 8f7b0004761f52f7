/**
 * The built viewer (VMLIVE_WEB_DIR) at `/`: files by path, `index.html` for a
 * directory, and `index.html` for any other GET outside /api (the viewer's
 * client-side routes). Paths never leave the directory.
 */
import { createReadStream, type Stats, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

function fileAt(path: string): Stats | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? st : undefined;
  } catch {
    return undefined;
  }
}

export class StaticFiles {
  private readonly root: string;
  private readonly index: string;

  constructor(dir: string) {
    this.root = resolve(dir);
    this.index = join(this.root, 'index.html');
  }

  /**
   * Serves GET/HEAD `path`; false when this is not ours to answer (then a 404 follows).
   * An HTML page gets `pageHeaders` over `baseHeaders` (its Content-Security-Policy and framing).
   */
  serve(
    method: string,
    path: string,
    res: ServerResponse,
    baseHeaders: Readonly<Record<string, string>>,
    pageHeaders: Readonly<Record<string, string>>,
  ): boolean {
    if (method !== 'GET' && method !== 'HEAD') return false;
    let rel: string;
    try {
      rel = decodeURIComponent(path);
    } catch {
      return false;
    }
    if (rel.includes('\0')) return false;
    let file = resolve(this.root, `.${rel}`);
    if (file !== this.root && !file.startsWith(this.root + sep)) return false;
    let st = fileAt(file);
    if (!st && fileAt(join(file, 'index.html'))) {
      file = join(file, 'index.html');
      st = fileAt(file);
    }
    if (!st) {
      // A client-side route of the viewer; a missing asset (it has an extension) is a 404.
      if (extname(rel) !== '' && extname(rel) !== '.html') return false;
      file = this.index;
      st = fileAt(file);
      if (!st) return false;
    }
    const ext = extname(file).toLowerCase();
    res.writeHead(200, {
      ...baseHeaders,
      ...(ext === '.html' ? pageHeaders : {}),
      'Content-Type': TYPES[ext] ?? 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': 'public, max-age=0',
      'Last-Modified': st.mtime.toUTCString(),
    });
    if (method === 'HEAD') {
      res.end();
      return true;
    }
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
    return true;
  }
}
