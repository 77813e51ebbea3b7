// The `gatehouse` command: node:util parseArgs, one file per command (cli/commands/<noun>-<verb>.ts).
import { parseArgs } from 'node:util';
import { ConfigError } from '../config.ts';
import { StartupError } from '../main.ts';
import { type Command, type CommandIO, UsageError } from './command.ts';
import { adminKeysCreate, adminKeysList, adminKeysRevoke } from './commands/admin-keys.ts';
import { apiKeysCreate, apiKeysList, apiKeysRevoke } from './commands/api-keys.ts';
import { clientsAdd } from './commands/clients-add.ts';
import { clientsApprove } from './commands/clients-approve.ts';
import { clientsList } from './commands/clients-list.ts';
import { clientsResourceServer } from './commands/clients-resource-server.ts';
import { events } from './commands/events.ts';
import { keysRotate } from './commands/keys-rotate.ts';
import { migrate } from './commands/migrate.ts';
import { purge } from './commands/purge.ts';
import { registrationTokensCreate } from './commands/registration-tokens-create.ts';
import { start } from './commands/start.ts';
import { usersAdd } from './commands/users-add.ts';
import { usersIdentities, usersUnlink } from './commands/users-identities.ts';
import { usersImport } from './commands/users-import.ts';

export const COMMANDS: readonly Command[] = [
  start,
  migrate,
  usersAdd,
  usersIdentities,
  usersUnlink,
  usersImport,
  clientsAdd,
  clientsList,
  clientsApprove,
  clientsResourceServer,
  keysRotate,
  apiKeysCreate,
  apiKeysList,
  apiKeysRevoke,
  adminKeysCreate,
  adminKeysList,
  adminKeysRevoke,
  purge,
  registrationTokensCreate,
  events,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.words.join(' ').length));
  const lines = COMMANDS.map((command) => `  ${command.words.join(' ').padEnd(width)}  ${command.summary}`);
  return `Usage: gatehouse <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "gatehouse <command> --help" for a command's options. Configuration comes from environment variables (see README).\n`;
}

export async function runCli(argv: string[], io: CommandIO): Promise<number | undefined> {
  const command = COMMANDS.find((candidate) => candidate.words.every((word, i) => argv[i] === word));
  if (!command) {
    const asked = argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help';
    (asked ? io.stdout : io.stderr)(
      asked ? overview() : `Unknown command "${argv.join(' ')}".\n\n${overview()}`,
    );
    return asked ? 0 : 2;
  }
  const rest = argv.slice(command.words.length);
  try {
    const parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (parsed.values.help) {
      io.stdout(`${command.summary}\n\nUsage: ${command.usage}\n`);
      return 0;
    }
    return await command.run(parsed, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`${(error as Error).message}\n\nUsage: ${command.usage}\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      io.stderr(`Configuration error: ${error.message}\n`);
      return 2;
    }
    if (error instanceof StartupError) {
      io.stderr(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs the CLI against this process's arguments, streams and environment. */
export async function main(): Promise<void> {
  const code = await runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin,
    env: process.env,
  });
  if (code !== undefined) process.exitCode = code;
}

if (import.meta.main) await main();
