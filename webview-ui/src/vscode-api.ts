import { dispatch, type Message, type MessageHandlers } from '../../src/shared/dispatch';

/**
 * The webview side of VS Code's API (a test page and the HTML report provide fakes with the same
 * shape), typed by what the view may send and keep: `Out` is its protocol's messages to the
 * extension, `State` what it keeps with setState.
 */
export interface VsCodeApi<Out = unknown, State = unknown> {
  postMessage(message: Out): void;
  getState(): unknown;
  setState(state: State): void;
}

declare global {
  function acquireVsCodeApi(): VsCodeApi;
}

let api: VsCodeApi | undefined;

/** VS Code allows one acquireVsCodeApi() per page: every caller shares it. */
export function vscodeApi<Out, State = never>(): VsCodeApi<Out, State> {
  api ??= acquireVsCodeApi();
  return api;
}

/**
 * Hands each message from the extension that fits the view's protocol (`parse`) to its handler;
 * anything else (a message of another protocol, a stray postMessage) is ignored.
 */
export function receive<M extends Message>(parse: (value: unknown) => M | undefined, handlers: MessageHandlers<M>): void {
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const msg = parse(event.data);
    if (msg) dispatch(handlers, msg);
  });
}
