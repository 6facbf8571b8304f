/**
 * Offline validation of rendered manifests against the official schemas (the Kubernetes OpenAPI
 * definitions and the Gateway API and Istio CRD schemas), as compiled into validators by the
 * kubernetes-models packages; see the README. A manifest Kubernetes would reject, or would accept
 * while silently dropping a misspelt field, is caught at render time rather than at apply time.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { ErrorObject } from "ajv";
import type { K8sObject } from "./render.js";

/** The module whose export named after the kind is the model class, for each apiVersion and kind. */
const modelModules: Record<string, string> = {
  "apps/v1 Deployment": "kubernetes-models/apps/v1/Deployment",
  "v1 Service": "kubernetes-models/v1/Service",
  "gateway.networking.k8s.io/v1 HTTPRoute":
    "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute",
  "networking.istio.io/v1 VirtualService": "@kubernetes-models/istio/networking.istio.io/v1/VirtualService",
};

/** A model's `validate`: it checks `this` against the schema and throws ajv's ValidationError. */
type Validate = (this: unknown) => void;

const validators = new Map<string, Validate>();
const requireModule = createRequire(import.meta.url);

function validatorFor(object: K8sObject): Validate | undefined {
  const key = `${object.apiVersion} ${object.kind}`;
  const module = modelModules[key];
  if (module === undefined) return undefined;
  let validate = validators.get(key);
  if (validate === undefined) {
    // schemaProblems is synchronous and the CLI imports every command at start-up, so the models
    // (about 0.1 s to load) are required on first use rather than imported. The packages are
    // ESM-only with no "require" export condition, hence the path resolved as an import would be.
    const exports: Record<string, { prototype: { validate: Validate } } | undefined> = requireModule(
      fileURLToPath(import.meta.resolve(module)),
    );
    const model = exports[object.kind];
    if (model === undefined) throw new Error(`${module} exports no ${object.kind}`);
    validate = model.prototype.validate;
    validators.set(key, validate);
  }
  return validate;
}

/** True if the apiVersion and kind have a schema to be checked against. */
export function hasSchema(object: Pick<K8sObject, "apiVersion" | "kind">): boolean {
  return Object.hasOwn(modelModules, `${object.apiVersion} ${object.kind}`);
}

/**
 * `object` behind proxies that record, for it and every object inside, the property names read.
 * The compiled validators read every property their schema declares (to check it, or to see it
 * is absent) and every key of a map, never a key the schema does not know; the official schemas
 * do not forbid unknown fields, so the keys left unread are how they are found.
 */
function recordingReads(object: object): { proxy: object; reads: Map<object, Set<string>> } {
  const reads = new Map<object, Set<string>>();
  const proxies = new Map<object, object>();
  const wrap = (value: object): object => {
    let proxy = proxies.get(value);
    if (proxy === undefined) {
      const read = new Set<string>();
      reads.set(value, read);
      proxy = new Proxy(value, {
        get(target, key) {
          const found: unknown = Reflect.get(target, key);
          if (typeof key !== "string" || !Object.hasOwn(target, key)) return found;
          read.add(key);
          return typeof found === "object" && found !== null ? wrap(found) : found;
        },
        has(target, key) {
          if (typeof key === "string") read.add(key);
          return Reflect.has(target, key);
        },
      });
      proxies.set(value, proxy);
    }
    return proxy;
  };
  return { proxy: wrap(object), reads };
}

/** The "/json/pointer: " a problem starts with; nothing for the object itself. */
function at(path: string): string {
  return path === "" ? "" : `${path}: `;
}

/** A JSON pointer segment, escaped as ajv writes instance paths. */
function pointerSegment(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * Fields the schema does not declare, as kubectl --validate=strict reports them. An object the
 * validator read no field of has no declared fields (free-form, or a field that is itself
 * unknown), so its keys are not judged; an undefined value is no field, as YAML leaves it out.
 */
function unknownFields(value: unknown, path: string, reads: Map<object, Set<string>>): string[] {
  if (typeof value !== "object" || value === null) return [];
  const fields = Object.entries(value).filter(([, child]) => child !== undefined);
  const read = reads.get(value);
  const here =
    read === undefined || read.size === 0 || Array.isArray(value)
      ? []
      : fields.filter(([key]) => !read.has(key)).map(([key]) => `${at(path)}unknown field "${key}"`);
  return here.concat(
    fields.flatMap(([key, child]) => unknownFields(child, `${path}/${pointerSegment(key)}`, reads)),
  );
}

function describeError(error: Partial<ErrorObject>): string {
  const where = at(error.instancePath ?? "");
  if (error.keyword === "required") {
    return `${where}missing required field "${String(error.params?.missingProperty)}"`;
  }
  return `${where}${error.message ?? error.keyword ?? "invalid"}`;
}

/** The problems in a model's ValidationError; anything else thrown is not a schema problem. */
function schemaErrors(thrown: unknown): Partial<ErrorObject>[] {
  if (thrown instanceof Error && "errors" in thrown && Array.isArray(thrown.errors)) return thrown.errors;
  throw thrown;
}

/**
 * Every way the objects break their schema, as "Kind/name: /json/pointer: problem"; empty when
 * they are valid. Objects of a kind without a schema are not checked.
 */
export function schemaProblems(objects: K8sObject[]): string[] {
  return objects.flatMap((object) => {
    const validate = validatorFor(object);
    if (validate === undefined) return [];
    const { proxy, reads } = recordingReads(object);
    let problems: string[] = [];
    try {
      validate.call(proxy);
    } catch (thrown) {
      problems = schemaErrors(thrown).map(describeError);
    }
    return problems
      .concat(unknownFields(object, "", reads))
      .map((problem) => `${object.kind}/${object.metadata.name}: ${problem}`);
  });
}
