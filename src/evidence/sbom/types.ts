/** What every ecosystem reader hands back, before the CycloneDX document is built. */

export type Ecosystem = "npm" | "pypi" | "golang" | "maven";

/** CycloneDX scope: `optional` marks what the running service does not need (dev, test). */
export type ComponentScope = "required" | "optional";

/** A CycloneDX hash: `alg` uses CycloneDX names (SHA-256, SHA-512 …), `content` is lowercase hex. */
export interface ComponentHash {
  alg: HashAlgorithm;
  content: string;
}

export type HashAlgorithm = "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";

export interface ComponentProperty {
  name: string;
  value: string;
}

export interface FoundComponent {
  ecosystem: Ecosystem;
  /** The ecosystem's own full name: `@scope/name`, a PEP 503 normalised name, a Go module path, `group:artifact` */
  name: string;
  version: string;
  /** Also the component's bom-ref, so it is unique within one SBOM */
  purl: string;
  /** Maven groupId or npm `@scope`, shown as CycloneDX `group` */
  group?: string;
  /** The name without the group, shown as CycloneDX `name` */
  localName: string;
  hashes: ComponentHash[];
  scope: ComponentScope;
  properties: ComponentProperty[];
}

/** `from` depends on each of `to`; all are purls of components in the same reading. */
export interface DependencyEdge {
  from: string;
  to: string[];
}

export interface EcosystemReading {
  components: FoundComponent[];
  dependencies: DependencyEdge[];
  /** Purls the project itself depends on directly, when the lockfile says so */
  directDependencies: string[];
  warnings: string[];
}

export interface EcosystemReader {
  name: string;
  /**
   * The files this reader understands, picked from every file of the artifact (absolute
   * paths): the folder is walked once for all readers rather than once each.
   */
  detect(files: readonly string[]): string[];
  read(file: string): Promise<EcosystemReading>;
}
