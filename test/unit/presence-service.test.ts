/**
 * The presence service over the in-process store: a user is announced online when
 * their first socket's connect completes, even when the instance's refresh ran while
 * that socket was still being set up (it is local from the moment it registers).
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMemoryPresence } from '../../src/adapters/memory/memory-presence.js';
import { createPresenceService } from '../../src/domain/presence/presence-service.js';
import type { DomainEvent } from '../../src/domain/events/ports.js';
import type { Teardown } from '../helpers/test-stack.js';

const TTL_MS = 300; // refresh every 100 ms, sweep every 75 ms

function presenceScene(t: Teardown & { fail(message: string): void }, localUsers: () => string[]) {
  const published: DomainEvent[] = [];
  const store = createMemoryPresence({ ttlMs: TTL_MS });
  const presence = createPresenceService({
    store,
    events: { publish: async (event) => void published.push(event) },
    chatIdsOf: async () => ['c1'],
    ttlMs: TTL_MS,
    onError: (err) => t.fail(String(err)),
  });
  t.teardown(presence.start(localUsers));
  const changes = () => published.flatMap((e) => (e.type === 'presence.changed' ? [`${e.userId} ${e.online ? 'online' : 'offline'}`] : []));
  return { presence, store, changes };
}

t.test('a refresh while a socket is being set up does not swallow the online announcement', async (t) => {
  // bob's socket is registered (local) while his session is checked; refreshes tick meanwhile.
  const { presence, store, changes } = presenceScene(t, () => ['bob']);
  await sleep(250);
  t.same([...(await store.online(['bob']))], [], 'nobody is online before the connect completes');
  await presence.userConnected('bob', ['c1']);
  t.same(changes(), ['bob online'], 'the chat hears that bob came online');
  await sleep(TTL_MS * 2);
  t.same([...(await store.online(['bob']))], ['bob'], 'and refreshes keep him online past the ttl');
  t.same(changes(), ['bob online'], 'with no offline in between');
});

t.test('a user whose last socket closed is no longer refreshed, and goes offline once', async (t) => {
  let local = ['bob'];
  const { presence, store, changes } = presenceScene(t, () => local);
  await presence.userConnected('bob', ['c1']);
  local = [];
  await presence.userDisconnected('bob', ['c1']);
  await sleep(TTL_MS * 2);
  t.same([...(await store.online(['bob']))], [], 'bob stays offline');
  t.same(changes(), ['bob online', 'bob offline']);
});
