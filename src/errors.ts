/**
 * A mistake the user can fix: bad input, a bad flag, a bad file. The CLI prints only the
 * message (never a stack) and exits 2; the API answers 4xx.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
    readonly httpStatus = 400,
  ) {
    super(message);
    this.name = "UserError";
  }
}

export class NotFoundError extends UserError {
  constructor(message: string) {
    super(message, 2, 404);
    this.name = "NotFoundError";
  }
}

export class ConflictError extends UserError {
  constructor(message: string) {
    super(message, 2, 409);
    this.name = "ConflictError";
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
