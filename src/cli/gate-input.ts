import { readFileSync } from "node:fs";
import { UserError, errorMessage } from "../errors.js";
import { GateInputError, describeInputError } from "../gate/inputs.js";

/** Reads a JSON input of the gate commands; a bad file is a user error naming the file and the place. */
export function readGateInput<T>(file: string, parse: (text: string) => T): T {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UserError(`cannot read ${file}: ${errorMessage(error)}`);
  }
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof GateInputError) throw new UserError(describeInputError(file, error));
    throw error;
  }
}
