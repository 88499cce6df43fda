/**
 * Errors that reach a person. Every failure caused by input (a file, an argument, a dataset)
 * is one of these, so the CLI, the worker and the extension can show `message` alone, without
 * a stack trace.
 */
export class PruneScopeError extends Error {
  override name = 'PruneScopeError';
}

/** A model file that cannot be read: names the file, the format, and where the problem sits. */
export class ModelFormatError extends PruneScopeError {
  override name = 'ModelFormatError';
  constructor(
    readonly file: string,
    readonly format: string,
    readonly problem: string,
    readonly location?: string,
  ) {
    super(`${file}: ${format}: ${location ? `${location}: ` : ''}${problem}`);
  }
}

/** A dataset that cannot be read or does not fit. */
export class DataError extends PruneScopeError {
  override name = 'DataError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** Bad command-line usage (exit code 2). */
export class UsageError extends PruneScopeError {
  override name = 'UsageError';
}

export function isPruneScopeError(e: unknown): e is PruneScopeError {
  return e instanceof PruneScopeError;
}

/**
 * A job stopped because the person cancelled it: the one cancellation error of the engine, the
 * worker and the extension, so that every layer can tell a cancel from a failure.
 */
export class CancelledError extends PruneScopeError {
  override name = 'CancelledError';
  constructor(message = 'cancelled') {
    super(message);
  }
}
