/** The configuration note every daemon command's --help ends with. */
export const ENV_NOTE = `Configuration comes from the environment (and ./.env): REDIS_URL, API_KEYS,
WEBHOOK_SECRET, PORT, HOST, … (see .env.example). SIGTERM/SIGINT drains running
tasks for SHUTDOWN_GRACE_MS; a second signal exits at once.`;
