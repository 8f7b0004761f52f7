/** vm-controller's entry logic, apart from the process so tests run it in-process. */
import { type Io, PROG, runCommand } from './commands.js';
import { EXIT, parseCommand, USAGE, UsageError } from './options.js';

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  let cmd: ReturnType<typeof parseCommand>;
  try {
    cmd = parseCommand(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`${PROG}: ${err.message} (see --help)`);
    return EXIT.usage;
  }
  if (cmd.kind === 'help') {
    io.out(USAGE);
    return EXIT.ok;
  }
  return runCommand(cmd, io);
}
