// The Kubernetes objects Pier reads, as zod schemas of their wire (JSON) form. Both sources,
// manifest files and the API server, validate with these at the edge, so everything after the
// store works on plain, checked data. Schemas are loose: fields Pier doesn't read pass through.
import { z } from 'zod';

export const DEFAULT_NAMESPACE = 'default';

const stringMap = z.record(z.string(), z.string());

const objectMeta = z
  .object({
    name: z.string().min(1),
    namespace: z.string().min(1).optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    generation: z.number().optional(),
    creationTimestamp: z.string().optional(),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
  })
  .loose();

const serviceBackendPort = z
  .object({ number: z.number().int().min(1).max(65535).optional(), name: z.string().min(1).optional() })
  .refine((port) => (port.number === undefined) !== (port.name === undefined), {
    message: 'exactly one of port.number and port.name must be set',
  });

const ingressBackend = z
  .object({
    service: z.object({ name: z.string().min(1), port: serviceBackendPort }).optional(),
    resource: z.object({ apiGroup: z.string().optional(), kind: z.string(), name: z.string() }).optional(),
  })
  .refine((backend) => (backend.service === undefined) !== (backend.resource === undefined), {
    message: 'exactly one of service and resource must be set',
  });

export const PATH_TYPES = ['Exact', 'Prefix', 'ImplementationSpecific'] as const;

const httpIngressPath = z.object({
  path: z.string().optional(),
  pathType: z.enum(PATH_TYPES),
  backend: ingressBackend,
});

const ingressRule = z.object({
  host: z.string().optional(),
  http: z.object({ paths: z.array(httpIngressPath) }).optional(),
});

const loadBalancerIngress = z
  .object({
    ip: z.string().optional(),
    hostname: z.string().optional(),
    ports: z.array(z.object({ port: z.number(), protocol: z.string() }).loose()).optional(),
  })
  .loose();

export const ingressSchema = z.object({
  apiVersion: z.literal('networking.k8s.io/v1'),
  kind: z.literal('Ingress'),
  metadata: objectMeta,
  spec: z
    .object({
      ingressClassName: z.string().optional(),
      defaultBackend: ingressBackend.optional(),
      tls: z.array(z.object({ hosts: z.array(z.string()).optional(), secretName: z.string().optional() })).optional(),
      rules: z.array(ingressRule).optional(),
    })
    .default({}),
  status: z
    .object({ loadBalancer: z.object({ ingress: z.array(loadBalancerIngress).optional() }).loose().optional() })
    .loose()
    .optional(),
});

export const ingressClassSchema = z.object({
  apiVersion: z.literal('networking.k8s.io/v1'),
  kind: z.literal('IngressClass'),
  metadata: objectMeta,
  spec: z.object({ controller: z.string().optional() }).loose().default({}),
});

const servicePort = z
  .object({
    name: z.string().optional(),
    port: z.number().int().min(1).max(65535),
    targetPort: z.union([z.number().int(), z.string()]).optional(),
    protocol: z.string().optional(),
    nodePort: z.number().optional(),
  })
  .loose();

export const serviceSchema = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  metadata: objectMeta,
  spec: z
    .object({
      type: z.string().optional(),
      externalName: z.string().optional(),
      /** The Service's virtual IP, `None` for a headless Service (service-upstream sends here). */
      clusterIP: z.string().optional(),
      selector: stringMap.nullish(),
      ports: z.array(servicePort).optional(),
      externalIPs: z.array(z.string()).optional(),
    })
    .loose()
    .default({}),
  status: z
    .object({ loadBalancer: z.object({ ingress: z.array(loadBalancerIngress).optional() }).loose().optional() })
    .loose()
    .optional(),
});

export const endpointSliceSchema = z.object({
  apiVersion: z.literal('discovery.k8s.io/v1'),
  kind: z.literal('EndpointSlice'),
  metadata: objectMeta,
  addressType: z.string(),
  endpoints: z
    .array(
      z
        .object({
          addresses: z.array(z.string()),
          conditions: z.object({ ready: z.boolean().nullish() }).loose().optional(),
        })
        .loose(),
    )
    .nullish(),
  ports: z
    .array(z.object({ name: z.string().nullish(), port: z.number().int().nullish(), protocol: z.string().nullish() }).loose())
    .nullish(),
});

export const secretSchema = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: objectMeta,
  type: z.string().optional(),
  data: stringMap.nullish(),
  stringData: stringMap.nullish(),
});

export const configMapSchema = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('ConfigMap'),
  metadata: objectMeta,
  data: stringMap.nullish(),
});

export type Ingress = z.infer<typeof ingressSchema>;
export type IngressBackend = z.infer<typeof ingressBackend>;
export type IngressClass = z.infer<typeof ingressClassSchema>;
export type Service = z.infer<typeof serviceSchema>;
export type ServicePort = z.infer<typeof servicePort>;
export type EndpointSlice = z.infer<typeof endpointSliceSchema>;
export type Secret = z.infer<typeof secretSchema>;
export type ConfigMap = z.infer<typeof configMapSchema>;
export type LoadBalancerIngress = z.infer<typeof loadBalancerIngress>;

/** The kinds Pier reads, with the schema that checks each. */
export const SCHEMAS = {
  Ingress: ingressSchema,
  IngressClass: ingressClassSchema,
  Service: serviceSchema,
  EndpointSlice: endpointSliceSchema,
  Secret: secretSchema,
  ConfigMap: configMapSchema,
} as const;

export type Kind = keyof typeof SCHEMAS;
export type KubeObject = { [K in Kind]: z.infer<(typeof SCHEMAS)[K]> }[Kind];
export type ObjectOf<K extends Kind> = z.infer<(typeof SCHEMAS)[K]>;

export const KINDS = Object.keys(SCHEMAS) as Kind[];

export function isKnownKind(kind: unknown): kind is Kind {
  return typeof kind === 'string' && Object.hasOwn(SCHEMAS, kind);
}

/** `namespace/name`, the key every map in Pier uses. Cluster-scoped objects have no namespace. */
export function objectKey(meta: { namespace?: string | undefined; name: string }): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

export type ParseResult = { ok: true; object: KubeObject } | { ok: false; error: string };

/**
 * Checks one raw object of a known kind. Namespaced kinds without a namespace go to `default`,
 * as kubectl does. The error names the field paths that are wrong.
 */
export function parseObject(raw: unknown, kind: Kind): ParseResult {
  const result = SCHEMAS[kind].safeParse(raw);
  if (!result.success) {
    const detail = result.error.issues
      .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(object)'}: ${issue.message}`)
      .join('; ');
    return { ok: false, error: detail };
  }
  const object = result.data as KubeObject;
  if (kind !== 'IngressClass' && !object.metadata.namespace) {
    object.metadata = { ...object.metadata, namespace: DEFAULT_NAMESPACE };
  }
  return { ok: true, object };
}
