// @peculiar/x509 depends on tsyringe, which refuses to load unless a `Reflect.getMetadata`
// polyfill (normally the `reflect-metadata` package) is installed first. That package is not a
// dependency of this project, and tsyringe only needs three functions, so this module provides
// a minimal, spec-compatible subset (defineMetadata / getOwnMetadata / getMetadata, walking the
// prototype chain like reflect-metadata does). It must be imported BEFORE '@peculiar/x509';
// ES modules evaluate imports in order, so `import './reflect-metadata-shim.ts'` as the first
// import of x509.ts is enough. If a real polyfill is already present it is left untouched.
// See docs/decisions/0101-reflect-metadata-shim.md.

type MetadataKey = unknown;
type Target = object;

interface ReflectMetadataApi {
  defineMetadata(key: MetadataKey, value: unknown, target: Target, propertyKey?: string | symbol): void;
  getOwnMetadata(key: MetadataKey, target: Target, propertyKey?: string | symbol): unknown;
  getMetadata(key: MetadataKey, target: Target, propertyKey?: string | symbol): unknown;
}

const NO_PROPERTY = Symbol('no-property');
const store = new WeakMap<Target, Map<string | symbol, Map<MetadataKey, unknown>>>();

function ownMap(target: Target, propertyKey: string | symbol | undefined, create: boolean): Map<MetadataKey, unknown> | undefined {
  let byProperty = store.get(target);
  if (byProperty === undefined) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  const prop = propertyKey ?? NO_PROPERTY;
  let metadata = byProperty.get(prop);
  if (metadata === undefined && create) {
    metadata = new Map();
    byProperty.set(prop, metadata);
  }
  return metadata;
}

const api: ReflectMetadataApi = {
  defineMetadata(key, value, target, propertyKey) {
    ownMap(target, propertyKey, true)?.set(key, value);
  },
  getOwnMetadata(key, target, propertyKey) {
    return ownMap(target, propertyKey, false)?.get(key);
  },
  getMetadata(key, target, propertyKey) {
    // Bounded walk: prototype chains are finite, but guard against pathological proxies.
    let current: Target | null = target;
    for (let depth = 0; current !== null && depth < 1000; depth++) {
      const metadata = ownMap(current, propertyKey, false);
      if (metadata?.has(key)) return metadata.get(key);
      current = Object.getPrototypeOf(current) as Target | null;
    }
    return undefined;
  },
};

const reflect = Reflect as unknown as Partial<ReflectMetadataApi>;
if (typeof reflect.getMetadata !== 'function') {
  for (const [name, fn] of Object.entries(api)) {
    Object.defineProperty(Reflect, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
}

export {};
