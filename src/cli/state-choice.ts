/**
 * Whether `--state` or `WAYBILL_STATE` named this command's state. A named local state wins over
 * a `waybill login`; main.ts sets it before a command runs, and the client reads it. Apart from
 * the client so that `waybill --help` loads nothing more.
 */
let named = false;

export function setStateNamed(value: boolean): void {
  named = value;
}

export function stateWasNamed(): boolean {
  return named;
}
