/**
 * The metrics listener: Prometheus text with the series operators alarm on, on a
 * port of its own; the public port does not serve it. A message sent through a
 * real socket shows up in the counts.
 */
import t from 'tap';
import { startTestStack, startInstance, freePort } from '../helpers/test-stack.js';
import { openDirect, person } from '../helpers/people.js';
import { connectReady } from '../helpers/ws-client.js';
import { buildMetricsListener } from '../../src/transport/http/metrics-listener.js';
import { seriesValue as valueOf } from '../helpers/metrics-text.js';

const stack = await startTestStack(t);

t.test('GET /metrics on the metrics listener counts a message sent through a socket', async (t) => {
  const instance = await startInstance(t, stack);
  const listener = buildMetricsListener(instance.services.metrics);
  const port = await freePort();
  await listener.listen({ port, host: '127.0.0.1' });
  t.teardown(() => listener.close());
  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/, 'Prometheus text format');
    return res.text();
  };

  const ann = await person(instance, 'ann');
  const ben = await person(instance, 'ben');
  const chatId = await openDirect(instance, ann, ben);
  const { client: annSocket } = await connectReady(instance.wsUrl, ann.cookie);
  const { client: benSocket } = await connectReady(instance.wsUrl, ben.cookie);
  t.teardown(() => Promise.all([annSocket.close(), benSocket.close()]));

  const before = await scrape();
  annSocket.send({ type: 'send', chatId, clientMsgId: 'counted-1', text: 'count me' });
  await annSocket.next('ack', (f) => f.clientMsgId === 'counted-1');
  await benSocket.next('message', (f) => f.message.clientMsgId === 'counted-1');
  const after = await scrape();

  for (const name of [
    'huddle_open_sockets',
    'huddle_ws_frames_total',
    'huddle_messages_persisted_total',
    'huddle_send_ack_seconds',
    'huddle_send_delivery_seconds',
    'huddle_bus_subscriptions',
    'huddle_bus_reconnects_total',
    'huddle_bus_subscriber_lost_total',
    'huddle_frames_dropped_total',
    'huddle_resyncs_sent_total',
    'huddle_storage_call_seconds',
    'huddle_storage_call_errors_total',
    'huddle_quota_refusals_total',
    'huddle_rate_limited_total',
    'nodejs_eventloop_lag_p99_seconds',
    'process_resident_memory_bytes',
  ]) {
    t.match(after, new RegExp(`^# TYPE ${name} `, 'm'), `serves ${name}`);
  }
  t.equal(valueOf(after, 'huddle_open_sockets'), 2, 'two sockets open');
  const delta = (series: string) => (valueOf(after, series) ?? 0) - (valueOf(before, series) ?? 0);
  t.equal(delta('huddle_ws_frames_total{direction="in",type="send"}'), 1, 'one send frame in');
  t.equal(delta('huddle_ws_frames_total{direction="out",type="ack"}'), 1, 'one ack out');
  t.equal(delta('huddle_ws_frames_total{direction="out",type="message"}'), 2, 'the message out to both sockets');
  t.equal(delta('huddle_messages_persisted_total'), 1, 'one message stored');
  t.equal(delta('huddle_send_ack_seconds_count'), 1, 'one send timed to its ack');
  t.equal(delta('huddle_send_delivery_seconds_count'), 1, 'one delivery timed (once per instance)');
  t.ok((valueOf(after, 'huddle_bus_subscriptions') ?? 0) >= 3, 'the users and the chat channels are subscribed');
  t.match(
    after,
    /^huddle_storage_call_seconds_count\{service="dynamodb",operation="TransactWriteItems"\} [1-9]/m,
    'DynamoDB calls are timed by operation',
  );

  const publicAnswer = await fetch(`${instance.baseUrl}/metrics`);
  t.equal(publicAnswer.status, 404, 'the public port does not serve the metrics');
});

t.test('a send refused for the daily quota and a flood of frames are counted', async (t) => {
  const instance = await startInstance(t, stack, { FREE_MESSAGES_PER_DAY: '1' });
  const ann = await person(instance, 'ann');
  const ben = await person(instance, 'ben');
  const chatId = await openDirect(instance, ann, ben);
  const { client } = await connectReady(instance.wsUrl, ann.cookie);
  t.teardown(() => client.close());
  client.send({ type: 'send', chatId, clientMsgId: 'q1', text: 'one' });
  await client.next('ack', (f) => f.clientMsgId === 'q1');
  client.send({ type: 'send', chatId, clientMsgId: 'q2', text: 'two' });
  await client.next('error', (f) => f.code === 'quota_exceeded');
  for (let i = 0; i < 60; i++) client.send({ type: 'ping', id: `p${i}` });
  await client.next('error', (f) => f.code === 'rate_limited');
  const text = await instance.services.metrics.render();
  t.equal(valueOf(text, 'huddle_quota_refusals_total'), 1, 'one quota refusal');
  t.ok((valueOf(text, 'huddle_rate_limited_total{where="socket"}') ?? 0) >= 1, 'frames refused for their rate');
});
