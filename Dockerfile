# pd-router: one image, `pd-router:<package version>`, for every process. Its entry point is the EPP
# (Endpoint Picker: Envoy ext_proc on 9002, gRPC health on 9003, metrics on 9090, built-in HTTP
# gateway on 8080); the chart and `pd-router inject` run the P/D sidecar (and the simulator) from
# the same image with `command: ["node", "--max-semi-space-size=4", "/app/dist/bin/pd-router.js", "sidecar"]`
# (the V8 flag caps the young generation: ~35 MB less RSS per decode pod; see docs/benchmarks.md).
# Build:  docker build -t pd-router:0.1.0 .
# Run the sidecar by hand:
#   docker run --rm --network host --entrypoint node pd-router:0.1.0 --max-semi-space-size=4 dist/bin/pd-router.js sidecar \
#     --host 127.0.0.1 --port 8000 --vllm-port 8200 --secure-proxy=false
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts
COPY bin ./bin
COPY src ./src
COPY scheduler ./scheduler
COPY sidecar ./sidecar
COPY bench ./bench
RUN npx tsc -p tsconfig.json

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; native addons (zeromq, tokenizers) ship prebuilt binaries.
COPY scripts/prune-node-modules.sh ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force && sh prune-node-modules.sh node_modules

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# Runtime files read next to the code: the ext_proc proto and the example configs.
COPY scheduler/extproc/proto ./scheduler/extproc/proto
COPY config ./config
USER 65532:65532
EXPOSE 8080 9002 9003 9090
ENTRYPOINT ["node", "dist/bin/pd-router.js", "epp"]
CMD ["--config", "config/pd-epp-config.yaml"]
