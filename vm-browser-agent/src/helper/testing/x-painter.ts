/**
 * Test support: drives x_painter.py, a real X client that damages the screen on command, so the
 * helper's damage capture sees a screen that moves, stands still, or changes at a known time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./x_painter.py', import.meta.url));

/** Where `fill` paints, in screen pixels (x_painter.py PROBE). */
export const PROBE = { x: 560, y: 300, width: 160, height: 120 } as const;

export class XPainter {
  private readonly replies: string[] = [];
  private waiter: ((line: string) => void) | null = null;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const w = this.waiter;
      this.waiter = null;
      if (w) w(line);
      else this.replies.push(line);
    });
  }

  static start(display: string): XPainter {
    const child = spawn('/usr/bin/python3', [SCRIPT, display], { stdio: ['pipe', 'pipe', 'inherit'] });
    return new XPainter(child);
  }

  private command(line: string, timeoutMs = 5_000): Promise<string> {
    this.child.stdin?.write(`${line}\n`);
    const early = this.replies.shift();
    if (early !== undefined) return Promise.resolve(early);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`x_painter: no reply to ${line}`)), timeoutMs);
      this.waiter = (reply) => {
        clearTimeout(timer);
        resolve(reply);
      };
    });
  }

  /** Repaint a moving bar at `fps` Hz until `still()`. */
  async move(fps: number): Promise<void> {
    await this.command(`move ${fps}`);
  }

  async still(): Promise<void> {
    await this.command('still');
  }

  /** Fills the probe rectangle; resolves with Date.now() once the X server has done it. */
  async fill(rgb: readonly [number, number, number]): Promise<number> {
    const reply = await this.command(`fill ${rgb.join(' ')}`);
    const m = /^filled (\d+)$/.exec(reply);
    if (!m) throw new Error(`x_painter: ${reply}`);
    return Number(m[1]);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin?.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
