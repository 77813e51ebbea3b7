// docs/configuration.md, generated from gatehouse.config.schema.json and the file-key → variable mapping of
// src/config-file.ts, so that the reference cannot drift from what Gatehouse reads (test/config-docs.test.ts).
// `npm run docs:config` rewrites it.
import { readFileSync, writeFileSync } from 'node:fs';
import { DEFAULT_PATHS } from '../src/config.ts';
import { ENVIRONMENT_ONLY, fileKeyVariables } from '../src/config-file.ts';

interface SchemaNode {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: SchemaNode[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  required?: string[];
  $ref?: string;
}

const ROOT = new URL('../', import.meta.url);
export const DOC_PATH = new URL('docs/configuration.md', ROOT);

function schema(): SchemaNode {
  return JSON.parse(readFileSync(new URL('gatehouse.config.schema.json', ROOT), 'utf8'));
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** What a value may be, in a few words. */
function values(node: SchemaNode): string {
  if (node.$ref === '#/definitions/path') return 'path starting with `/`';
  if (node.enum)
    return node.enum.map((value) => `\`${JSON.stringify(value).replaceAll('"', '')}\``).join(', ');
  if (node.oneOf) return node.oneOf.map((option) => values(option)).join('; or ');
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  const type = Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? '');
  const range =
    node.minimum !== undefined || node.maximum !== undefined
      ? ` ${node.minimum ?? '…'} to ${node.maximum ?? '…'}`
      : node.maxLength !== undefined
        ? ` (at most ${node.maxLength} characters)`
        : '';
  if (type === 'array' && node.items) {
    if (node.items.properties) return 'list of objects (below)';
    return node.items.enum ? `list of: ${values(node.items)}` : `list of ${values(node.items)}s`;
  }
  return `${type}${range}`;
}

/** A description "VAR (default): text" split into its default and its text (the variable has its own column). */
function split(description: string | undefined, variable: string | undefined) {
  let rest = description ?? '';
  if (variable && rest.startsWith(variable)) rest = rest.slice(variable.length);
  const fallback = /^\s*\(([^)]*)\)/.exec(rest);
  if (fallback) rest = rest.slice(fallback[0].length);
  rest = rest.replace(/^[\s:,]+/, '');
  return { fallback: fallback?.[1] ?? '', text: rest };
}

export function renderConfigurationDoc(): string {
  const root = schema();
  const mapping = fileKeyVariables();
  const rows: string[] = [];
  const details: string[] = [];
  const walk = (properties: Record<string, SchemaNode>, prefix: string) => {
    for (const [name, node] of Object.entries(properties)) {
      if (name === '$schema') continue;
      const key = `${prefix}${name}`;
      if (node.type === 'object' && node.properties) {
        rows.push(`| **\`${key}\`** | | object | | ${cell(node.description ?? '')} |`);
        walk(node.properties, `${key}.`);
        continue;
      }
      const variable = mapping[key];
      let { fallback, text } = split(node.description, variable);
      if (key.startsWith('paths.')) fallback = DEFAULT_PATHS[name as keyof typeof DEFAULT_PATHS] ?? 'off';
      // Every switch is off unless its description says otherwise.
      if (node.type === 'boolean' && fallback === '') fallback = 'false';
      rows.push(
        `| \`${key}\` | ${variable ? `\`${variable}\`` : ''} | ${cell(values(node))} | ${cell(fallback)} | ${cell(text.charAt(0).toUpperCase() + text.slice(1))} |`,
      );
      if (node.type === 'array' && node.items?.properties) {
        const intro = split(node.description, variable).text;
        details.push(`### \`${key}\` entries`, '', intro.charAt(0).toUpperCase() + intro.slice(1), '');
        details.push('| Field | Values | Description |', '|---|---|---|');
        for (const [field, fieldNode] of Object.entries(node.items.properties)) {
          const required = node.items.required?.includes(field) ? ' (required)' : '';
          const sub =
            fieldNode.type === 'object' && fieldNode.properties
              ? ` Fields: ${Object.keys(fieldNode.properties).join(', ')}.`
              : '';
          details.push(
            `| \`${field}\`${required} | ${cell(values(fieldNode))} | ${cell(`${fieldNode.description ?? ''}${sub}`.trim())} |`,
          );
        }
        details.push('');
      }
    }
  };
  walk(root.properties ?? {}, '');
  const environmentOnly = Object.entries(ENVIRONMENT_ONLY).map(
    ([variable, text]) => `| \`${variable}\` | ${cell(text)} |`,
  );
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from gatehouse.config.schema.json and src/config-file.ts by `npm run docs:config`. Do not edit',
    '     by hand: test/config-docs.test.ts fails when this file and the schema disagree. -->',
    '',
    'Gatehouse reads its configuration once, at start-up (and each `gatehouse` command, at its start), from two',
    'places:',
    '',
    '1. **`gatehouse.config.json`** in the current folder, or the file `GATEHOUSE_CONFIG` names. It is checked',
    '   against [`gatehouse.config.schema.json`](../gatehouse.config.schema.json) (editors complete and check it',
    '   with `"$schema": "./gatehouse.config.schema.json"`); an unknown key or a bad value stops start-up, naming it.',
    '2. **Environment variables**, one per setting. A variable that is set (and not empty) wins over the file.',
    '',
    'Both end up in one parser (`src/config.ts`), so a value is checked the same way wherever it comes from. Every',
    'setting below has a file key and a variable; the few that exist only as variables are listed after them.',
    'Durations are in seconds. A bad value stops start-up with exit code 2 and a message that names the variable.',
    '',
    '## Settings',
    '',
    '| File key | Environment variable | Values | Default | Description |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    ...details,
    '## Only in the environment',
    '',
    'Secrets have no file key, so that the file can be checked in and copied around safely.',
    '',
    '| Variable | Description |',
    '|---|---|',
    ...environmentOnly,
    '',
  ].join('\n');
}

if (import.meta.main) {
  writeFileSync(DOC_PATH, renderConfigurationDoc());
  process.stdout.write(`Wrote ${DOC_PATH.pathname}\n`);
}
