// Names and numbers that the chart, the operator's flags and the tests must agree on.

/** Name shared by the ServiceAccount, the ClusterRole and their binding. */
export const PIER_NAME = 'pier';

/** Name of the controller's Deployment, Service and ConfigMap (ingress-nginx calls them `ingress-nginx-controller`). */
export const CONTROLLER_NAME = 'pier-controller';

/** The IngressClass Pier creates, and the `--ingress-class` it passes. */
export const INGRESS_CLASS_NAME = 'pier';

/** `spec.controller` of Pier's IngressClass, and the `--controller-class` it passes. */
export const CONTROLLER_CLASS = 'pier.dev/ingress-controller';

/** Repository of the image that the Dockerfile builds and skaffold.yaml names. */
export const IMAGE_REPOSITORY = 'ghcr.io/pier-dev/pier';

/** Version of the image the chart runs unless told otherwise. */
export const IMAGE_TAG = '0.1.0';

/** The uid and gid the image's `USER 101:101` runs as (ingress-nginx's `www-data`). */
export const RUN_AS_ID = 101;

/** Container ports, named as ingress-nginx names them. */
export const Ports = {
  http: 80,
  https: 443,
  /** Serves `/healthz` and `/metrics` (`--healthz-port`). */
  metrics: 10254,
} as const;

/** Labels the Deployment selects its pods by and the Service routes to. */
export const CONTROLLER_SELECTOR_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': PIER_NAME,
  'app.kubernetes.io/component': 'controller',
};

/** The annotation prefix Pier reads by default (`--annotations-prefix`), ingress-nginx's. */
export const DEFAULT_ANNOTATIONS_PREFIX = 'nginx.ingress.kubernetes.io';
