# syntax=docker/dockerfile:1
# Pier's controller image. Node could run Pier's erasable TypeScript as it is, but its type
# stripping loads a WebAssembly TypeScript parser into every process (about 30 MiB RSS per proxy
# worker, BENCHMARKS.md). So the build stage type-checks and emits JavaScript with tsc
# (tsconfig.build.json), and the runtime stage gets that JavaScript plus production dependencies.
# The major version matches the `node` package that package.json pins for development and CI; the
# image follows that line's latest patch release, so it picks up Node's security fixes on rebuild.

ARG NODE_IMAGE=node:26-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the image has its Node already, so the `node` package's download is skipped.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY operator ./operator
COPY proxy ./proxy
# Type errors fail the image build (noEmitOnError); the output goes to build/operator, build/proxy.
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# No production dependency has an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/build/operator ./operator
COPY --from=build /app/build/proxy ./proxy
# The chart runs as 101:101 with a read-only root filesystem and a writable /tmp. Ports below
# 1024 work through the pod's net.ipv4.ip_unprivileged_port_start sysctl, not file capabilities.
USER 101:101
EXPOSE 80 443 10254
# A young generation of 4 MiB semi-spaces instead of V8's default (sized from the machine's memory,
# not the pod's): under load it kept a worker at 116 MiB instead of 182, at the same throughput
# (BENCHMARKS.md, "Runtime"). node:cluster gives the workers the primary's flags.
ENTRYPOINT ["node", "--max-semi-space-size=4", "operator/pier.js"]
CMD ["controller"]
