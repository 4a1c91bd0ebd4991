/**
 * The `prefrl` command line: dispatches to subcommands, maps errors to exit codes
 * (2: bad usage, naming the flag; 1: bad input file or failure) and prints one-line messages.
 */
import { errorMessage, InputError, isEnvironmentError, isSqliteEnvironmentError, isSystemError, ServiceError, UsageError } from '../core/errors.js';
import { softwareVersions } from '../core/run.js';
import { type Command, type CommandContext, defaultContext, formatTable } from './command.js';
import { COMMAND_ENTRIES, type CommandEntry } from './command_index.js';

/**
 * A command whose module is loaded when it runs (scripts/command_index.ts): `prefrl --help`, and
 * a command that needs no tensors (runs, envs, serve, plot, ...), start without loading the rest.
 */
function lazyCommand(e: CommandEntry): Command {
  return { name: e.name, summary: e.summary, run: async (argv, ctx) => (await e.load()).run(argv, ctx) };
}

export const COMMANDS: readonly Command[] = COMMAND_ENTRIES.map(lazyCommand);

function usage(): string {
  const rows = COMMANDS.map((c) => [`prefrl ${c.name}`, c.summary]);
  return [
    'prefrl: reinforcement learning from trajectory comparisons (MuJoCo WASM, preference models, PPO, IQL)',
    '',
    'Usage: prefrl <command> [flags]    (prefrl <command> --help for its flags; prefrl --version for the versions in use)',
    '',
    formatTable(['command', 'what it does'], rows),
    '',
    'Every command with all its flags, on one page: docs/cli.md in the prefrl repository or package.',
  ].join('\n');
}

/** Find the command whose words prefix argv (longest match first). */
export function findCommand(argv: readonly string[]): { command: Command; rest: readonly string[] } | null {
  const sorted = [...COMMANDS].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const c of sorted) {
    const words = c.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { command: c, rest: argv.slice(words.length) };
  }
  return null;
}

/** The commands of a group (`labels`, `bench`): the commands named "<group> <sub>". */
export function groupCommands(group: string): Command[] {
  return COMMANDS.filter((c) => c.name.split(' ').length > 1 && c.name.split(' ')[0] === group);
}

/** The subcommands of a group with their one-line summaries. */
function groupUsage(group: string, commands: readonly Command[]): string {
  return [
    `prefrl ${group}: a command group; its subcommands:`,
    '',
    formatTable(['command', 'what it does'], commands.map((c) => [`prefrl ${c.name}`, c.summary])),
    '',
    `(prefrl ${group} <subcommand> --help for its flags)`,
  ].join('\n');
}

const isHelp = (a: string | undefined) => a === '--help' || a === '-h' || a === 'help';

export async function main(argv: readonly string[], ctx: CommandContext = defaultContext()): Promise<number> {
  // `prefrl help train` is `prefrl train --help` (and `prefrl help labels` lists the group's subcommands).
  if (argv[0] === 'help' && argv.length > 1) return main([...argv.slice(1), '--help'], ctx);
  if (argv.length === 0 || isHelp(argv[0])) {
    ctx.io.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    if (argv.length > 1) {
      ctx.io.stderr.write(`prefrl ${argv[0]}: takes no arguments, got ${JSON.stringify(argv.slice(1).join(' '))}\n`);
      return 2;
    }
    const v = softwareVersions();
    ctx.io.stdout.write(`prefrl ${v.prefrl} (MuJoCo ${v.mujoco} WASM, Node ${v.node}, ${v.platform}-${v.arch})\n`);
    return 0;
  }
  const found = findCommand(argv);
  const group = found ? [] : groupCommands(argv[0]);
  if (!found && group.length > 0) {
    // A group without a subcommand: --help lists its subcommands (exit 0); nothing, a flag or an
    // unknown subcommand is a usage error that lists them on stderr (exit 2).
    if (isHelp(argv[1])) {
      ctx.io.stdout.write(`${groupUsage(argv[0], group)}\n`);
      return 0;
    }
    const problem = argv.length === 1 || argv[1].startsWith('-') ? 'needs a subcommand' : `unknown subcommand ${JSON.stringify(argv[1])}`;
    ctx.io.stderr.write(`prefrl ${argv[0]}: ${problem}\n${groupUsage(argv[0], group)}\n`);
    return 2;
  }
  if (!found) {
    // Name the word that is not a command, not the whole line: its flags are not to blame.
    const problem = argv[0].startsWith('-') ? `${argv[0]} before a command: flags follow the command (prefrl <command> ${argv[0]})` : `unknown command ${JSON.stringify(argv[0])}`;
    ctx.io.stderr.write(`prefrl: ${problem} (run prefrl --help for the list)\n`);
    return 2;
  }
  try {
    return await found.command.run(found.rest, ctx);
  } catch (e) {
    if (e instanceof UsageError || e instanceof InputError || e instanceof ServiceError) {
      ctx.io.stderr.write(`prefrl ${found.command.name}: ${e.message.replace(/^prefrl [a-z -]+: /, '')}\n`);
      return e.exitCode;
    }
    // A refusal of the machine (ENOENT, EACCES, ENOSPC, SQLITE_FULL, ...) says all in its message: no stack.
    const stack = e instanceof Error && e.stack && !isEnvironmentError(e) ? `${e.stack}\n` : '';
    const sqlite = isSqliteEnvironmentError(e) ? ` (${(e as { code: string }).code})` : '';
    const code = sqlite && !errorMessage(e).includes(sqlite) ? sqlite : '';
    ctx.io.stderr.write(`prefrl ${found.command.name}: ${errorMessage(e)}${code}\n${stack}`);
    return 1;
  }
}

export { isSystemError };
