# taskhook: one image for the API and the workers (the command picks the role).
# Stage 1 compiles the TypeScript; the runtime image runs plain JavaScript
# (no TypeScript loader: faster start, ~40 MB less memory per process).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY tasks ./tasks
RUN node scripts/build.mjs

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
# The dashboard's static files are read from src/ when running from dist/.
COPY src/dashboard/public ./src/dashboard/public
ENV NODE_ENV=production
USER node
# tini forwards SIGTERM so the two-stage shutdown works.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/bin/api.js"]
