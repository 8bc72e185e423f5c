/**
 * The layer rule (eslint.layers.js) holds for the code as it is, and bites: a
 * domain file that imports a framework, a driver or an outer layer is refused,
 * and so is any upward import.
 */
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { layerRules } from '../../eslint.layers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: true,
  overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...layerRules],
});

async function violations(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, filePath) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

t.test('every source file keeps to its layer', async (t) => {
  const results = await eslint.lintFiles(['src/**/*.ts']);
  const broken = results.flatMap((r) =>
    r.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => `${path.relative(root, r.filePath)}:${m.line} ${m.message}`),
  );
  t.same(broken, [], 'no file imports across the layer rule');
  t.ok(results.length > 50, `checked ${results.length} files`);
});

t.test('imports the rule refuses', async (t) => {
  const refused: [string, string][] = [
    ['src/domain/chats/x.ts', "import Fastify from 'fastify';"],
    ['src/domain/chats/x.ts', "import { Redis } from 'ioredis';"],
    ['src/domain/chats/x.ts', "import { GetCommand } from '@aws-sdk/lib-dynamodb';"],
    ['src/domain/chats/x.ts', "import type { WebSocket } from 'ws';"],
    ['src/domain/chats/x.ts', "import { Counter } from 'prom-client';"],
    ['src/transport/realtime/x.ts', "import { Histogram } from 'prom-client';"],
    ['src/domain/chats/x.ts', "import type { ServerFrame } from '../../transport/realtime/protocol.js';"],
    ['src/domain/chats/x.ts', "import { createChatsRepository } from '../../adapters/dynamodb/chats-repository.js';"],
    ['src/domain/chats/x.ts', "import type { Config } from '../../config.js';"],
    ['src/model/x.ts', "import { previewOf } from '../shared/preview.js';"],
    ['src/shared/x.ts', "import type { Message } from '../model/index.js';"],
    ['src/adapters/redis/x.ts', "import type { ServerFrame } from '../../transport/realtime/protocol.js';"],
    ['src/adapters/redis/x.ts', "import fp from 'fastify-plugin';"],
    ['src/transport/http/x.ts', "import { createS3Client } from '../../adapters/s3/client.js';"],
    ['src/transport/http/x.ts', "import { S3Client } from '@aws-sdk/client-s3';"],
    ['src/transport/http/x.ts', "import { compose } from '../../compose.js';"],
    ['src/local/x.ts', "import { buildApp } from '../app.js';"],
    ['src/web/x.ts', "import type { ChatSummary } from '../model/index.js';"],
    ['src/web/x.ts', "import type { ServerFrame } from '../transport/realtime/protocol.js';"],
    ['src/web/x.ts', "import { readFile } from 'node:fs/promises';"],
    ['src/web/x.ts', "import { Type } from '@sinclair/typebox';"],
  ];
  for (const [file, code] of refused) {
    t.not((await violations(file, code)).length, 0, `${file}: ${code}`);
  }
});

t.test('imports the rule allows', async (t) => {
  const allowed: [string, string][] = [
    ['src/domain/chats/x.ts', "import type { ChatSummary } from '../../model/index.js';"],
    ['src/domain/chats/x.ts', "import { previewOf } from '../../shared/preview.js';"],
    ['src/domain/chats/x.ts', "import type { EventPublisher } from '../events/ports.js';"],
    ['src/adapters/dynamodb/x.ts', "import type { ChatsRepository } from '../../domain/chats/ports.js';"],
    ['src/transport/realtime/x.ts', "import type { MessagesService } from '../../domain/messages/messages-service.js';"],
    ['src/transport/realtime/x.ts', "import Fastify from 'fastify';"],
    ['src/compose.ts', "import { createRedisBus } from './adapters/redis/redis-bus.js';"],
    ['src/web/x.ts', "import { previewOf } from '../shared/preview.js';"],
    ['src/web/x.ts', "import { ChatTimeline } from './reorder-buffer.js';"],
    ['src/adapters/metrics/x.ts', "import { Counter } from 'prom-client';"],
    ['src/transport/realtime/x.ts', "import type { Metrics } from '../../domain/metrics.js';"],
  ];
  for (const [file, code] of allowed) {
    t.same(await violations(file, code), [], `${file}: ${code}`);
  }
});
