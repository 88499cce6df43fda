/**
 * One typed dispatcher for every protocol: a receiver declares a handler per message type, and a
 * message type added to a protocol without a handler fails to compile (as JobTable does for jobs).
 */

/** A message of a protocol: a member of a union discriminated on `type`. */
export interface Message {
  type: string;
}

/** A handler for every member of the union `M`, keyed by its `type`. */
export type MessageHandlers<M extends Message, R = void> = {
  readonly [T in M['type']]: (message: Extract<M, { type: T }>) => R;
};

/** Calls the handler of `message.type`. */
export function dispatch<M extends Message, R>(handlers: MessageHandlers<M, R>, message: M): R {
  // A mapped type indexed by a union key cannot be correlated with the message by TypeScript.
  const handler = handlers[message.type as M['type']] as (m: M) => R;
  return handler(message);
}
