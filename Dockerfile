# syntax=docker/dockerfile:1
# Pier's controller image. Pier runs its TypeScript through tsx (a production dependency), so
# there is no compile step: the build stage only type-checks, the runtime stage gets the sources
# that passed, plus production dependencies.

ARG NODE_IMAGE=node:20-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY operator ./operator
COPY proxy ./proxy
# Fails the image build on type errors in what ships (tsconfig's other folders aren't copied).
RUN npx tsc --noEmit

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/tsconfig.json ./
COPY --from=build /app/bin ./bin
COPY --from=build /app/operator ./operator
COPY --from=build /app/proxy ./proxy
# The chart runs as 101:101 with a read-only root filesystem and a writable /tmp. Ports below
# 1024 work through the pod's net.ipv4.ip_unprivileged_port_start sysctl, not file capabilities.
USER 101:101
EXPOSE 80 443 10254
ENTRYPOINT ["node", "bin/pier.mjs"]
CMD ["controller"]
