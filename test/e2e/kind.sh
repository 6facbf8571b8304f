#!/usr/bin/env bash
# End-to-end check of Waybill's Kubernetes deploy on a real cluster: creates a kind cluster,
# loads an image, renders a stage with `waybill render`, applies it with src/kube/apply.ts
# (server-side apply as `waybill`, dry run first, rollout wait), checks the result with
# kubectl, then ships the same service through dev and a blue-green production with
# `waybill ship`. Needs Docker, kind, kubectl, Node 20 and network access to pull the image.
# The cluster is deleted at the end unless WAYBILL_KEEP_CLUSTER=1.
set -euo pipefail

cluster=${WAYBILL_KIND_CLUSTER:-waybill-e2e}
image_tag=${WAYBILL_E2E_IMAGE:-docker.io/nginxinc/nginx-unprivileged:1.27-alpine}
namespace=shop
context="kind-$cluster"
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)

cleanup() {
  if [ "${WAYBILL_KEEP_CLUSTER:-0}" != 1 ]; then kind delete cluster --name "$cluster" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

for tool in docker kind kubectl node; do
  command -v "$tool" >/dev/null || { echo "kind.sh needs $tool on PATH" >&2; exit 2; }
done

(cd "$repo" && npm run build)

# A release names its image by digest; the registry's digest is what a pod pulls.
docker pull "$image_tag"
image=$(docker image inspect --format '{{index .RepoDigests 0}}' "$image_tag")
echo "image: $image"

kind create cluster --name "$cluster" --wait 180s
kind load docker-image "$image_tag" --name "$cluster"
kubectl --context "$context" create namespace "$namespace"

# nginx-unprivileged listens on 8080 and answers / with 200, which the probes use.
cat >"$work/waybill.yaml" <<YAML
apiVersion: waybill.dev/v1
kind: Service
metadata:
  name: shop
run:
  image: $image
  port: 8080
  health: /
resources:
  cpu: 250m
  memory: 64Mi
stages:
  - name: dev
    target: kube:$context/$namespace
YAML

node "$repo/bin/waybill.js" render dev --file "$work" --version e2e --out "$work/out"

cd "$repo"
KIND_CONTEXT="$context" MANIFESTS="$work/out/dev.yaml" node --input-type=module -e '
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { applyAndWait, kubeConfigForContext, objectApi } from "./dist/kube/apply.js";
const objects = parseAllDocuments(readFileSync(process.env.MANIFESTS, "utf8")).map((doc) => doc.toJS());
const api = objectApi(kubeConfigForContext(process.env.KIND_CONTEXT));
await applyAndWait(api, objects, { timeoutMs: 180_000, pollIntervalMs: 2_000 });
console.log(`applied and rolled out ${objects.length} objects`);
'

kubectl --context "$context" -n "$namespace" rollout status deployment/shop --timeout=10s
managers=$(kubectl --context "$context" -n "$namespace" get deployment shop --show-managed-fields \
  -o jsonpath='{.metadata.managedFields[*].manager}')
case " $managers " in
  *" waybill "*) echo "field manager: waybill" ;;
  *) echo "expected the field manager waybill, got: $managers" >&2; exit 1 ;;
esac
kubectl --context "$context" -n "$namespace" get service shop -o jsonpath='{.spec.selector}'
echo

# The whole delivery through the CLI and a control plane: dev (direct) in $namespace, then
# production (blue-green) in $namespace-prod, the Service switched to the new slot.
kubectl --context "$context" create namespace "$namespace-prod"
cat >>"$work/waybill.yaml" <<YAML
    test: false
    gate: false
  - name: production
    target: kube:$context/$namespace-prod
    strategy: blue-green
    test: false
    gate: false
    approval: { pass: automatic, warning: automatic }
YAML
state="$work/state"
node "$repo/bin/waybill.js" --state "$state" ship "$work" --version e2e
node "$repo/bin/waybill.js" --state "$state" status
kubectl --context "$context" -n "$namespace-prod" rollout status deployment/shop-blue --timeout=10s
slot=$(kubectl --context "$context" -n "$namespace-prod" get service shop -o jsonpath='{.spec.selector.waybill\.dev/slot}')
[ "$slot" = blue ] || { echo "expected production's Service on slot blue, got: $slot" >&2; exit 1; }
node "$repo/bin/waybill.js" --state "$state" down
echo "kind e2e passed"
