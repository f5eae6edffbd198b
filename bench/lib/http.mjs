// Small JSON calls for setup and checks (not for load: load goes through autocannon).

export async function call(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

export const getJson = (url) => call('GET', url);
export const postJson = (url, body) => call('POST', url, body);
export const putJson = (url, body) => call('PUT', url, body);

/** The topic's view (message_count, size_bytes, segment_count, ...). */
export const describeTopic = (server, topic) => getJson(`${server.url}/topics/${topic}`);
