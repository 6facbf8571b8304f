/**
 * Reading `-Xlog:class+load` lines: where each class came from, as the jar or class folder in the
 * app's files. Classes from the JDK itself (its modules image, the CDS archive) and classes
 * defined at run time (lambdas, proxies) have no such place and give nothing.
 */
import { fileURLToPath } from "node:url";

const SOURCE = / source: (.+)$/;
/** Spring Boot 3.2+ names a jar inside the app jar `jar:nested:/app.jar/!BOOT-INF/lib/x.jar!/` */
const NESTED_SCHEME = "nested:";

/**
 * `file:/app/lib/x.jar` → `/app/lib/x.jar`, `file:/app/classes/` → `/app/classes`,
 * `jar:file:/app/app.jar!/BOOT-INF/lib/x.jar!/` → `/app/app.jar!/BOOT-INF/lib/x.jar`.
 */
export function classSourceLocation(line: string): string | undefined {
  const source = SOURCE.exec(line.trimEnd())?.[1];
  if (source === undefined) return undefined;
  if (source.startsWith("file:")) return filePath(source);
  if (!source.startsWith("jar:")) return undefined;
  const inJar = source.slice("jar:".length);
  if (inJar.startsWith(NESTED_SCHEME)) {
    const [outer = "", ...inner] = inJar.slice(NESTED_SCHEME.length).split("/!");
    const outerPath = decodeEntry(outer);
    return outerPath === undefined ? undefined : nestedLocation(outerPath, inner.join("/!").split("!/"));
  }
  const [outer = "", ...inner] = inJar.split("!/");
  const outerPath = filePath(outer);
  return outerPath === undefined ? undefined : nestedLocation(outerPath, inner);
}

function nestedLocation(outerPath: string, innerEntries: string[]): string | undefined {
  if (outerPath === "") return undefined;
  // The last entry is the class's folder inside the innermost jar ("" for its root), not a jar
  const jars = innerEntries.slice(0, -1).map(decodeEntry);
  if (jars.some((entry) => entry === undefined)) return undefined;
  return [outerPath, ...jars].join("!/");
}

function filePath(url: string): string | undefined {
  try {
    const path = fileURLToPath(url);
    return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  } catch {
    return undefined;
  }
}

function decodeEntry(entry: string): string | undefined {
  try {
    return decodeURIComponent(entry);
  } catch {
    return undefined;
  }
}
