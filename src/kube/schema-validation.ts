/**
 * Offline validation of rendered manifests against vendored Kubernetes JSON Schemas
 * (schemas/kubernetes-definitions.json; see the README for where they come from). A manifest
 * Kubernetes would reject, or would accept while silently dropping a misspelt field, is
 * caught at render time rather than at apply time.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import definitions from "./schemas/kubernetes-definitions.json" with { type: "json" };
import type { K8sObject } from "./render.js";

const definitionByKind: Record<string, string> = {
  "apps/v1 Deployment": "io.k8s.api.apps.v1.Deployment",
  "v1 Service": "io.k8s.api.core.v1.Service",
  "gateway.networking.k8s.io/v1 HTTPRoute": "io.k8s.networking.gateway.v1.HTTPRoute",
};

const definitionsId = "kubernetes-definitions.json";

let validators: Map<string, ValidateFunction> | undefined;

function validatorFor(kindKey: string): ValidateFunction | undefined {
  if (validators === undefined) {
    // The schemas declare Kubernetes' integer widths and timestamps as formats; the types and
    // bounds already say what matters, so those formats are known but not checked.
    const ajv = new Ajv({ allErrors: true, formats: { int32: true, int64: true, "date-time": true } });
    ajv.addSchema(definitions, definitionsId);
    validators = new Map();
    for (const [key, definition] of Object.entries(definitionByKind)) {
      const validate = ajv.getSchema(`${definitionsId}#/definitions/${definition}`);
      if (validate !== undefined) validators.set(key, validate);
    }
  }
  return validators.get(kindKey);
}

/** True if the apiVersion and kind have a vendored schema (an Istio VirtualService has none). */
export function hasSchema(object: Pick<K8sObject, "apiVersion" | "kind">): boolean {
  return Object.hasOwn(definitionByKind, `${object.apiVersion} ${object.kind}`);
}

function describeError(error: ErrorObject): string {
  const at = error.instancePath === "" ? "" : `${error.instancePath}: `;
  if (error.keyword === "additionalProperties") {
    return `${at}unknown field "${String(error.params.additionalProperty)}"`;
  }
  return `${at}${error.message ?? error.keyword}`;
}

/**
 * Every way the objects break their Kubernetes schema, as "Kind/name: /json/pointer: problem";
 * empty when they are valid. Objects of a kind without a vendored schema are not checked.
 */
export function schemaProblems(objects: K8sObject[]): string[] {
  return objects.flatMap((object) => {
    const validate = validatorFor(`${object.apiVersion} ${object.kind}`);
    if (validate === undefined) return [];
    // Called as a plain predicate: as a type guard it would narrow `object` away.
    const isValid: (data: unknown) => boolean = validate;
    if (isValid(object)) return [];
    return (validate.errors ?? []).map(
      (error) => `${object.kind}/${object.metadata.name}: ${describeError(error)}`,
    );
  });
}
