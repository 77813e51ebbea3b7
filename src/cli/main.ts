// The `gatehouse` command: node:util parseArgs, one file per command (cli/commands/<noun>-<verb>.ts), each a
// Command object (cli/command.ts). Everything commands share happens here, once: --help from the declared
// options, --version, opening the database (and saying which), and turning failures into exit codes.
import { existsSync, readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type Config, ConfigError } from '../config.ts';
import { configFrom } from '../config-file.ts';
import { cannotOpenDatabase, StartupError } from '../main.ts';
import { databaseLabel, openStorage, sqliteFile } from '../storage/open.ts';
import type { Storage } from '../storage/storage.ts';
import {
  type Command,
  type CommandContext,
  CommandFailure,
  type CommandIO,
  EXIT,
  EXIT_CODES_HELP,
  type OptionSpec,
  UsageError,
} from './command.ts';
import { adminKeysCreate, adminKeysList, adminKeysRevoke } from './commands/admin-keys.ts';
import { apiKeysCreate, apiKeysList, apiKeysRevoke } from './commands/api-keys.ts';
import { backup } from './commands/backup.ts';
import { clientsAdd } from './commands/clients-add.ts';
import { clientsApprove } from './commands/clients-approve.ts';
import { clientsDelete } from './commands/clients-delete.ts';
import { clientsDisable, clientsEnable } from './commands/clients-disable.ts';
import { clientsList } from './commands/clients-list.ts';
import { clientsResourceServer } from './commands/clients-resource-server.ts';
import { clientsRotateSecret } from './commands/clients-rotate-secret.ts';
import { events } from './commands/events.ts';
import { keysReset } from './commands/keys-reset.ts';
import { keysRotate } from './commands/keys-rotate.ts';
import { migrate } from './commands/migrate.ts';
import { purge } from './commands/purge.ts';
import { registrationTokensCreate } from './commands/registration-tokens-create.ts';
import { start } from './commands/start.ts';
import { usersAdd } from './commands/users-add.ts';
import { usersDelete } from './commands/users-delete.ts';
import { usersDisable, usersEnable } from './commands/users-disable.ts';
import { usersIdentities, usersUnlink } from './commands/users-identities.ts';
import { usersImport } from './commands/users-import.ts';
import { usersList } from './commands/users-list.ts';

export const COMMANDS: readonly Command[] = [
  start,
  migrate,
  backup,
  usersAdd,
  usersList,
  usersDisable,
  usersEnable,
  usersDelete,
  usersIdentities,
  usersUnlink,
  usersImport,
  clientsAdd,
  clientsList,
  clientsApprove,
  clientsResourceServer,
  clientsDisable,
  clientsEnable,
  clientsDelete,
  clientsRotateSecret,
  keysRotate,
  keysReset,
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

/** Options every command of a kind has; declared here once so that --help describes them too. */
const CREATE_OPTION: OptionSpec = {
  type: 'boolean',
  description:
    'Create the database if it does not exist yet. Without it the command refuses, so that running it in the wrong folder never makes a second, empty database beside the server’s.',
};
const JSON_OPTION: OptionSpec = {
  type: 'boolean',
  description: 'Print one JSON document on stdout, for scripts (messages for people go to stderr).',
};
const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', description: 'Show this help.' };

/** Every option a command takes: its own, then the shared ones. */
export function optionsOf(command: Command): Record<string, OptionSpec> {
  return {
    ...command.options,
    ...(command.database === 'existing' ? { create: CREATE_OPTION } : {}),
    ...(command.json ? { json: JSON_OPTION } : {}),
    help: HELP_OPTION,
  };
}

export function usageLine(command: Command): string {
  return ['gatehouse', ...command.words, ...(command.arguments ? [command.arguments] : []), '[options]'].join(
    ' ',
  );
}

/** `gatehouse <command> --help`: the summary, the usage, every option with its description, the details. */
export function helpText(command: Command): string {
  const options = Object.entries(optionsOf(command)).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}${spec.multiple ? ' …' : ''}`;
    return [flag, spec.description] as const;
  });
  const width = Math.max(...options.map(([flag]) => flag.length));
  const lines = [
    command.summary,
    '',
    `Usage: ${usageLine(command)}`,
    '',
    'Options:',
    ...options.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`),
  ];
  if (command.details) lines.push('', command.details);
  lines.push('', EXIT_CODES_HELP);
  return `${lines.join('\n')}\n`;
}

function version(): string {
  return (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.words.join(' ').length));
  const lines = COMMANDS.map((command) => `  ${command.words.join(' ').padEnd(width)}  ${command.summary}`);
  return [
    'Usage: gatehouse <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Options: --help (also after any command: its options), --version.',
    '',
    'Run "gatehouse <command> --help" for a command’s options. Configuration comes from gatehouse.config.json and',
    'environment variables (docs/configuration.md); the database is the one they name, by default ./data/gatehouse.db.',
    'Every command that uses the database says which on stderr.',
    '',
    EXIT_CODES_HELP,
    '',
  ].join('\n');
}

/** The context run() gets: configuration and database opened on demand, the database closed by closeAll. */
function contextFor(
  command: Command,
  parsed: { values: Record<string, unknown>; positionals: string[] },
  io: CommandIO,
) {
  let config: Config | undefined;
  let opened: Promise<Storage> | undefined;
  const loadConfig = () => {
    config ??= configFrom(io.env);
    return config;
  };
  const context: CommandContext = {
    values: parsed.values,
    positionals: parsed.positionals,
    io,
    json: parsed.values.json === true,
    config: loadConfig,
    storage() {
      opened ??= (async () => {
        const { databaseUrl } = loadConfig();
        io.stderr(`Database: ${databaseLabel(databaseUrl)}\n`);
        const file = sqliteFile(databaseUrl);
        if (
          file !== undefined &&
          command.database !== 'create' &&
          parsed.values.create !== true &&
          !existsSync(file)
        ) {
          throw new CommandFailure(
            `No database at ${file}. Commands use the database that DATABASE_URL, GATEHOUSE_DATA_DIR or gatehouse.config.json name, by default ./data/gatehouse.db in the current folder: run the command where the server runs, or with its settings. To make a new, empty database there, add --create.`,
          );
        }
        const { storage } = await openStorage(databaseUrl);
        return storage;
      })();
      return opened;
    },
  };
  return {
    context,
    databaseUrl: () => config?.databaseUrl,
    async closeAll() {
      const storage = await opened?.catch(() => undefined);
      await storage?.close();
    },
  };
}

export async function runCli(argv: string[], io: CommandIO): Promise<number | undefined> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    io.stdout(`${version()}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((candidate) => candidate.words.every((word, i) => argv[i] === word));
  if (!command) {
    const asked = argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help';
    (asked ? io.stdout : io.stderr)(
      asked ? overview() : `Unknown command "${argv.join(' ')}".\n\n${overview()}`,
    );
    return asked ? EXIT.ok : EXIT.usage;
  }
  let opened: ReturnType<typeof contextFor> | undefined;
  try {
    const parsed = parseArgs({
      args: argv.slice(command.words.length),
      options: optionsOf(command) as NonNullable<ParseArgsConfig['options']>,
      allowPositionals: true,
      strict: true,
    });
    if (parsed.values.help) {
      io.stdout(helpText(command));
      return EXIT.ok;
    }
    opened = contextFor(command, parsed, io);
    return await command.run(opened.context);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(
        `${(error as Error).message}\n\nUsage: ${usageLine(command)}\nRun "gatehouse ${command.words.join(' ')} --help" for its options.\n`,
      );
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.stderr(`Configuration error: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof StartupError || error instanceof CommandFailure) {
      io.stderr(`${error.message}\n`);
      return EXIT.failure;
    }
    const url = opened?.databaseUrl();
    const unreachable = url === undefined ? undefined : cannotOpenDatabase(error, url);
    if (unreachable) {
      io.stderr(`${unreachable.message}\n`);
      return EXIT.failure;
    }
    throw error;
  } finally {
    // start keeps its storage (it returns undefined and runs on); every other command's database closes here.
    await opened?.closeAll();
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
