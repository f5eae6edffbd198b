// A client written against the types openapi-typescript generates from openapi.yaml, using openapi-fetch.
// The test type-checks it with tsc (so a contract change that breaks clients fails) and then runs it.
import createClient from 'openapi-fetch';
import type { paths } from './schema.js';

const baseUrl = process.argv[2];
const client = createClient<paths>({ baseUrl });
const topic = 'generated-client';

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what}: no data`);
  return value;
}

const created = await client.POST('/topics/{topic}/create', { params: { path: { topic } } });
must(created.data, 'create');
const ids: number[] = [];
for (const text of ['one', 'two', 'three']) {
  const produced = await client.POST('/topics/{topic}/messages', { params: { path: { topic }, query: { message: text } } });
  ids.push(must(produced.data, 'produce').message_id);
}
const received: string[] = [];
for (;;) {
  const polled = await client.GET('/topics/{topic}/messages', { params: { path: { topic }, query: { consumer_id: 'gen' } } });
  if (polled.response.status === 404) break;
  const m = must(polled.data, 'poll');
  received.push(m.data as string); // text here: the messages were produced as text
  await client.POST('/topics/{topic}/messages/{message_id}/ack', {
    params: { path: { topic, message_id: m.message_id }, query: { consumer_id: 'gen' } },
  });
}
const cursor = await client.GET('/topics/{topic}/consumers/{consumer_id}', { params: { path: { topic, consumer_id: 'gen' } } });
console.log(JSON.stringify({ ids, received, cursor: must(cursor.data, 'cursor').offset }));
