import { test } from "node:test";
import assert from "node:assert/strict";
import {
  parseSpiffeUri,
  peerProblem,
  spiffeUri,
  trustDomainFor,
  uriSans,
  type ExpectedPeer,
  type MeshIdentity,
} from "./identity.js";

const DOMAIN = "waybill-1234.local";
const PROXY: MeshIdentity = { trustDomain: DOMAIN, service: "hello", stage: "staging", role: "proxy" };
const INSTANCE: MeshIdentity = { ...PROXY, role: "instance", instanceId: "web-1" };

test("a SPIFFE ID names the trust domain, service, stage and the proxy or one instance", () => {
  const cases: [MeshIdentity, string][] = [
    [PROXY, "spiffe://waybill-1234.local/service/hello/stage/staging/proxy"],
    [INSTANCE, "spiffe://waybill-1234.local/service/hello/stage/staging/instance/web-1"],
    [
      { ...INSTANCE, instanceId: "0b7e6f6c-2f9a-4c1e-9d1a-3c2b1a0f9e8d" },
      "spiffe://waybill-1234.local/service/hello/stage/staging/instance/0b7e6f6c-2f9a-4c1e-9d1a-3c2b1a0f9e8d",
    ],
  ];
  for (const [identity, uri] of cases) {
    assert.equal(spiffeUri(identity), uri);
    assert.deepEqual(parseSpiffeUri(uri), identity, uri);
  }
});

test("a SPIFFE ID is refused for names it cannot carry or a role without its instance", () => {
  const cases: [MeshIdentity, RegExp][] = [
    [{ ...PROXY, trustDomain: "Waybill.local" }, /not a SPIFFE trust domain/],
    [{ ...PROXY, trustDomain: "" }, /not a SPIFFE trust domain/],
    [{ ...PROXY, service: "a/b" }, /service "a\/b"/],
    [{ ...PROXY, stage: ".." }, /stage "\.\."/],
    [{ ...PROXY, stage: "" }, /stage ""/],
    [{ ...INSTANCE, instanceId: "x?y" }, /instance id "x\?y"/],
    [{ ...PROXY, instanceId: "web-1" }, /a proxy's identity has no instance id/],
    [{ ...PROXY, role: "instance" }, /an instance's identity needs its instance id/],
  ];
  for (const [identity, message] of cases) {
    assert.throws(() => spiffeUri(identity), message, JSON.stringify(identity));
  }
});

test("only a well-formed Waybill SPIFFE ID parses", () => {
  const notOurs = [
    "",
    "https://waybill-1234.local/service/hello/stage/staging/proxy",
    "spiffe://waybill-1234.local",
    "spiffe://waybill-1234.local/",
    "spiffe://WAYBILL.local/service/hello/stage/staging/proxy",
    "spiffe://waybill-1234.local:8443/service/hello/stage/staging/proxy",
    "spiffe://user@waybill-1234.local/service/hello/stage/staging/proxy",
    "spiffe://waybill-1234.local/service/hello/stage/staging/proxy/",
    "spiffe://waybill-1234.local/service/hello/stage/staging/proxy/extra",
    "spiffe://waybill-1234.local/service/hello/stage/staging/proxy?x=1",
    "spiffe://waybill-1234.local/service/hello/stage/staging/proxy#top",
    "spiffe://waybill-1234.local/service/hello/stage/staging/instance",
    "spiffe://waybill-1234.local/service/hello/stage/staging/instance/web-1/more",
    "spiffe://waybill-1234.local/service/hello/stage/staging/sidecar",
    "spiffe://waybill-1234.local/service/hello/stage/../proxy",
    "spiffe://waybill-1234.local/service//stage/staging/proxy",
    "spiffe://waybill-1234.local/stage/staging/service/hello/proxy",
  ];
  for (const uri of notOurs) assert.equal(parseSpiffeUri(uri), null, uri);
});

test("a control plane's trust domain is a DNS name made from its id", () => {
  const cases: [string, string][] = [
    ["3f1c9a2e-8b7d-4e6f-a1b2-c3d4e5f60718", "waybill-3f1c9a2e-8b7d-4e6f-a1b2-c3d4e5f60718.local"],
    ["Lab_Box 7", "waybill-lab-box-7.local"],
    ["--x--", "waybill-x.local"],
    ["a".repeat(100), `waybill-${"a".repeat(55)}.local`],
    ["b".repeat(54) + "-c", `waybill-${"b".repeat(54)}.local`],
  ];
  for (const [id, domain] of cases) assert.equal(trustDomainFor(id), domain, id);
  assert.throws(() => trustDomainFor("///"), /no usable characters/);
});

test("a peer passes when one of its URI SANs names the expected trust domain, service, stage and role", () => {
  const expectProxy: ExpectedPeer = {
    trustDomain: DOMAIN,
    service: "hello",
    stage: "staging",
    role: "proxy",
  };
  const expectInstance: ExpectedPeer = { ...expectProxy, role: "instance" };
  const uri = (identity: Partial<MeshIdentity>): string => spiffeUri({ ...PROXY, ...identity });
  const cases: [string, readonly string[], ExpectedPeer, string | null][] = [
    ["the stage's proxy", [uri({})], expectProxy, null],
    ["any instance of the stage", [uri({ role: "instance", instanceId: "web-9" })], expectInstance, null],
    [
      "one good URI among others",
      ["https://example.com/", uri({ stage: "production" }), uri({})],
      expectProxy,
      null,
    ],
    ["no URI at all", [], expectProxy, "the peer's certificate names no SPIFFE ID"],
    [
      "someone else's URI",
      ["https://example.com/"],
      expectProxy,
      "the peer's certificate names no Waybill SPIFFE ID (it names https://example.com/)",
    ],
    [
      "another stage",
      [uri({ stage: "production" })],
      expectProxy,
      "the peer's certificate names stage production, not staging",
    ],
    [
      "another service",
      [uri({ service: "billing" })],
      expectProxy,
      "the peer's certificate names service billing, not hello",
    ],
    [
      "another control plane",
      [uri({ trustDomain: "waybill-other.local" })],
      expectProxy,
      "the peer's certificate names trust domain waybill-other.local, not waybill-1234.local",
    ],
    [
      "an instance where the proxy is expected",
      [uri({ role: "instance", instanceId: "web-1" })],
      expectProxy,
      "the peer's certificate names role instance, not proxy",
    ],
    [
      "the proxy where an instance is expected",
      [uri({})],
      expectInstance,
      "the peer's certificate names role proxy, not instance",
    ],
    [
      "of several near misses, the closest is named",
      [
        uri({ service: "billing" }),
        uri({ role: "instance", instanceId: "web-1" }),
        uri({ stage: "production" }),
      ],
      expectProxy,
      "the peer's certificate names role instance, not proxy",
    ],
  ];
  for (const [name, uris, expected, problem] of cases) {
    assert.equal(peerProblem(uris, expected), problem, name);
  }
});

test("URI SANs are read from Node's subjectAltName text, a quoted value whole", () => {
  const cases: [string | undefined, string[]][] = [
    [undefined, []],
    ["", []],
    ["DNS:localhost, IP Address:127.0.0.1", []],
    [
      "URI:spiffe://d.local/service/s/stage/t/proxy, DNS:localhost, IP Address:127.0.0.1",
      ["spiffe://d.local/service/s/stage/t/proxy"],
    ],
    ["DNS:localhost, URI:spiffe://a/x, URI:spiffe://b/y", ["spiffe://a/x", "spiffe://b/y"]],
    [
      'URI:"spiffe://d.local/a, URI:spiffe://d.local/service/s/stage/t/proxy"',
      ["spiffe://d.local/a, URI:spiffe://d.local/service/s/stage/t/proxy"],
    ],
    ["garbage", []],
  ];
  for (const [text, uris] of cases) assert.deepEqual(uriSans(text), uris, String(text));
});
