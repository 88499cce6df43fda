import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dispatch, type MessageHandlers } from './dispatch';

type Message = { type: 'add'; n: number } | { type: 'reset' };

test('dispatch calls the handler of the message type with the message itself', () => {
  let total = 0;
  const handlers: MessageHandlers<Message, string> = {
    add: (m) => ((total += m.n), `added ${m.n}`),
    reset: () => ((total = 0), 'reset'),
  };
  assert.equal(dispatch(handlers, { type: 'add', n: 2 }), 'added 2');
  assert.equal(dispatch(handlers, { type: 'add', n: 3 }), 'added 3');
  assert.equal(total, 5);
  assert.equal(dispatch(handlers, { type: 'reset' }), 'reset');
  assert.equal(total, 0);
});

test('a message type without a handler does not compile', () => {
  // @ts-expect-error: 'reset' has no handler; `npm run typecheck` fails if this compiles.
  const missing: MessageHandlers<Message> = { add: () => undefined };
  assert.equal(typeof missing.add, 'function');
});
