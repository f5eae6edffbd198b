// The request bodies every scenario sends: 100-byte message values, alone or in batches.

/** 100 ASCII bytes, so bytes on the wire and in the log equal the character count. */
export const VALUE_BYTES = 100;
export const VALUE = 'mini-kafka benchmark payload '.repeat(4).slice(0, VALUE_BYTES);

/** Body of POST /topics/{t}/messages. */
export const PRODUCE_BODY = JSON.stringify({ message: VALUE });

/** Body of POST /topics/{t}/messages/batch with `count` messages. */
export function batchBody(count) {
  return JSON.stringify({ messages: Array.from({ length: count }, () => ({ message: VALUE })) });
}

/** The same batch as NDJSON (application/x-ndjson): one {"message": ...} per line. */
export function ndjsonBatchBody(count) {
  return `${JSON.stringify({ message: VALUE })}\n`.repeat(count);
}

export const JSON_HEADERS = { 'content-type': 'application/json' };
export const NDJSON_HEADERS = { 'content-type': 'application/x-ndjson' };
