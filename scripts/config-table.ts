/**
 * `npm run config:table`: prints every environment variable huddle reads as a
 * Markdown table (name, default, meaning), straight from the schema in src/config.ts,
 * so the README's table never drifts from the code.
 */
import type { TSchema } from '@sinclair/typebox';
import { variables } from '../src/config.js';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function literalChoices(schema: TSchema): string[] | undefined {
  const options = (schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (!options || !options.every((o) => 'const' in o)) return undefined;
  return options.map((o) => String(o.const));
}

function defaultOf(schema: TSchema): string {
  return schema.default === undefined ? '(unset)' : `\`${String(schema.default)}\``;
}

const rows = Object.entries(variables).map(([name, { schema, description }]) => {
  const choices = literalChoices(schema);
  const meaning = choices ? `${description} One of ${choices.map((c) => `\`${c}\``).join(', ')}.` : description;
  return `| \`${name}\` | ${cell(defaultOf(schema))} | ${cell(meaning)} |`;
});

process.stdout.write(['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n') + '\n');
