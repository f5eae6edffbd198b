// Validation of every client-supplied name before it can reach a path or a stored record.
import { invalidName } from './errors';

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const CONSUMER_ID = /^[A-Za-z0-9._:@-]{1,255}$/;

export const TOPIC_NAME_RULE = '1-249 characters from [A-Za-z0-9._-], not "." or ".."';
export const CONSUMER_ID_RULE = '1-255 characters from [A-Za-z0-9._:@-]';

/** Kafka's topic rule: it is also what makes a topic name safe as a directory name. */
export function assertTopicName(name: string): void {
  if (typeof name !== 'string' || !TOPIC_NAME.test(name) || name === '.' || name === '..') {
    throw invalidName('topic name', String(name), TOPIC_NAME_RULE);
  }
}

export function assertConsumerId(id: string): void {
  if (typeof id !== 'string' || !CONSUMER_ID.test(id)) {
    throw invalidName('consumer id', String(id), CONSUMER_ID_RULE);
  }
}
