// NATS names from topic names and consumer ids: one subject token, valid stream names and KV keys, no two
// names mapped to the same place, and cursor keys that parse back to what they were made from.
import fc from 'fast-check';
import { escapeToken, parseCursorKey, topicToken, TopicNames, unescapeToken } from '../../src/storage/jetstream/names';

const topicChar = fc.constantFrom(...'abcXYZ019._-'.split(''));
const topicName = fc.array(topicChar, { minLength: 1, maxLength: 249 }).map((cs) => cs.join('')).filter((n) => n !== '.' && n !== '..');
const consumerId = fc.array(fc.constantFrom(...'aZ09._:@-'.split('')), { minLength: 1, maxLength: 255 }).map((cs) => cs.join(''));

describe('JetStream names', () => {
  it('escapes to one NATS token that KV keys and stream names accept, and back', () => {
    fc.assert(
      fc.property(topicName, (name) => {
        const token = escapeToken(name);
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(unescapeToken(token)).toBe(name);
      }),
    );
    expect(escapeToken('a.b_c-d')).toBe('a_2Eb_5Fc-d');
  });

  it('never maps two topic names to one token, hashed or not', () => {
    fc.assert(
      fc.property(topicName, topicName, (a, b) => {
        if (a !== b) expect(topicToken(a)).not.toBe(topicToken(b));
      }),
    );
    const long = 'a.'.repeat(100);
    expect(topicToken(long)).toMatch(/^_H[0-9a-f]{32}$/);
    expect(topicToken('x'.repeat(64))).toBe('x'.repeat(64));
  });

  it('names a partition stream and subject, and parses its cursor keys back', () => {
    const names = new TopicNames('MK', 'orders.eu_1', 'abcd1234');
    expect(names.stream(3)).toBe('MK_orders_2Eeu_5F1_abcd1234_3');
    expect(names.subject(3)).toBe('mk.orders_2Eeu_5F1.abcd1234.3');
    fc.assert(
      fc.property(consumerId, fc.integer({ min: 0, max: 1023 }), (id, p) => {
        const key = names.cursorKey(p, id);
        expect(key).toMatch(/^[-/=.\w]+$/);
        expect(parseCursorKey(key)).toEqual({ keyPrefix: names.keyPrefix, partition: p, consumerId: id });
      }),
    );
  });
});
