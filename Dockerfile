# ha-agent as a container sidecar (README "Container"; tested by test/netns/container-sidecar.test.ts,
# which builds this file unchanged with podman and runs it next to keepalived).
#
# It shares the host's (or the pod's) network namespace and needs two capabilities, nothing else:
#   docker run -d --network host --cap-drop ALL --cap-add NET_RAW --cap-add NET_ADMIN \
#     -v /etc/ha-agent/config.yaml:/etc/ha-agent/config.yaml:ro ha-agent
# It runs as UID 0 with every other capability dropped (as kube-vip does): the capabilities a
# runtime adds reach a non-root user only as ambient capabilities, which podman sets and Docker and
# Kubernetes do not. All address and route work is in-process over rtnetlink, so under podman
# `--user node` works as well (tested).
#
# Config: a file mounted at /etc/ha-agent/config.yaml (the default), `--config PATH`, or the YAML
# document itself in the environment variable HA_AGENT_CONFIG (used when --config is not given).
# Status, readiness and health on 127.0.0.1:9721 (status.listen): /healthz, /readyz, /status, /metrics.

FROM node:20-bookworm-slim AS build
# node-gyp compiles against the image's own Node headers (/usr/local/include/node): nothing is downloaded.
ENV npm_config_nodedir=/usr/local
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# npm's own defaults, here so that a build can lend npm ci a cache of the lockfile's packages:
#   podman build --volume ~/.npm:/mnt:O --build-arg npm_config_cache=/mnt --build-arg npm_config_prefer_offline=true …
# (what the container test does with the host's cache: no package is downloaded, nothing of it lands in
# a layer). Build-stage only: the runtime image does not see these.
ARG npm_config_cache=/root/.npm
ARG npm_config_prefer_offline=false
COPY package.json package-lock.json tsconfig.json binding.gyp ./
COPY native ./native
# npm ci builds raw-socket and this package's binding.gyp addons (build/Release/*.node), printing
# node-gyp's log; the build fails if node-gyp fetched headers anyway (it caches them in ~/.cache/node-gyp).
RUN npm ci --no-audit --no-fund --foreground-scripts && test ! -e /root/.cache/node-gyp
COPY src ./src
COPY providers ./providers
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# iproute2: `ip` for the operator (and the agent's fallback); tini: PID 1 that forwards SIGTERM to the
# agent and reaps what notify hooks and exec checks leave behind.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build/Release/*.node ./build/Release/
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/providers ./dist/providers
COPY package.json config.example.yaml ./
RUN mkdir -p /etc/ha-agent && ln -s /app/dist/src/cli.js /usr/local/bin/ha-agent && chmod 755 /app/dist/src/cli.js
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HA_AGENT_HEALTH_URL||'http://127.0.0.1:9721/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/src/cli.js"]
CMD ["run"]
