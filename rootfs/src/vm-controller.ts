/**
 * vm-controller: the controller calls of rootfs/vm.sh (create a VM, wait until
 * it is online, delete it, probe /healthz). See USAGE in options.ts, or run it
 * with --help.
 */
import { PROG } from './commands.js';
import { main } from './main.js';
import { EXIT } from './options.js';

const io = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

try {
  process.exitCode = await main(process.argv.slice(2), process.env, io);
} catch (err) {
  // A bug, not a controller answer: show where.
  io.err(`${PROG}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = EXIT.failed;
}
