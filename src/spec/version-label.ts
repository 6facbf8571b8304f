/**
 * A version label names a build to people (`1.4.2`, `v2.0.0-rc.1+build.7`, a git sha): it is
 * printed in tables and timelines, so it holds no spaces or control characters that could
 * fake a line there.
 */
import { z } from "zod";

const VERSION_LABEL = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const RULE = "letters, digits and . _ + -, starting with a letter or digit, at most 128 characters";

export const versionLabelSchema = z
  .string()
  .regex(VERSION_LABEL, { message: `a version label is ${RULE}, such as 1.4.2 or a git sha` });
