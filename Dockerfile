# syntax=docker/dockerfile:1
# Pier's controller image. Pier's TypeScript is erasable (tsconfig's erasableSyntaxOnly), so Node
# runs it as it is, with no transpiler at run time: the build stage only type-checks, and the
# runtime stage gets the sources that passed, plus production dependencies.
# The major version matches the `node` package that package.json pins for development and CI; the
# image follows that line's latest patch release, so it picks up Node's security fixes on rebuild.

ARG NODE_IMAGE=node:26-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the image has its Node already, so the `node` package's download is skipped.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY operator ./operator
COPY proxy ./proxy
# Fails the image build on type errors in what ships (tsconfig's other folders aren't copied).
RUN node node_modules/typescript/bin/tsc --noEmit

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# No production dependency has an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/bin ./bin
COPY --from=build /app/operator ./operator
COPY --from=build /app/proxy ./proxy
# The chart runs as 101:101 with a read-only root filesystem and a writable /tmp. Ports below
# 1024 work through the pod's net.ipv4.ip_unprivileged_port_start sysctl, not file capabilities.
USER 101:101
EXPOSE 80 443 10254
ENTRYPOINT ["node", "bin/pier.mjs"]
CMD ["controller"]
