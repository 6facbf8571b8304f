/** Service specs and images for the kube tests: one stage per strategy, all on `kube:fake`. */
import { serviceSpecSchema, type ServiceSpec } from "../../spec/schema.js";

export const imageV1 = `registry.example.com/shop@sha256:${"1".repeat(64)}`;
export const imageV2 = `registry.example.com/shop@sha256:${"2".repeat(64)}`;

export function digestOf(image: string): string {
  return image.slice(image.indexOf("@") + 1);
}

/** A `shop` service whose stages `dev` (direct), `staging` (blue-green) and `prod` (canary) deploy to `image`. */
export function shopSpec(image: string): ServiceSpec {
  return serviceSpecSchema.parse({
    metadata: { name: "shop" },
    run: { image, port: 8080, health: "/healthz" },
    stages: [
      { name: "dev", target: "kube:fake/shop-dev" },
      { name: "staging", target: "kube:fake/shop-staging", strategy: "blue-green" },
      { name: "prod", target: "kube:fake/shop-prod", strategy: "canary", replicas: 4 },
    ],
  });
}
