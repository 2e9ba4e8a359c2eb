# One image for the gateway, the processor and the dashboard (the command picks which).
FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
COPY contracts ./contracts
COPY common ./common
COPY gateway ./gateway
COPY processor ./processor
COPY dashboard ./dashboard
COPY infra ./infra
COPY scripts ./scripts
COPY sdk/demo ./sdk/demo
ENV NODE_ENV=production GATEWAY_HOST=0.0.0.0 PROCESSOR_METRICS_HOST=0.0.0.0
USER node
EXPOSE 8080 8081 9464
CMD ["npx", "tsx", "gateway/server.ts"]
