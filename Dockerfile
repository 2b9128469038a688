# ha-agent as a container sidecar. Needs the host's network namespace and two capabilities:
#   docker run --network host --cap-add NET_RAW --cap-add NET_ADMIN -v /etc/ha-agent:/etc/ha-agent ha-agent
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json binding.gyp ./
COPY native ./native
RUN npm ci
COPY src ./src
COPY providers ./providers
COPY test ./test
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 iputils-arping && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build ./build
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/providers ./dist/providers
COPY package.json config.example.yaml ./
ENTRYPOINT ["node", "/app/dist/src/cli.js"]
CMD ["run", "--config", "/etc/ha-agent/config.yaml"]
