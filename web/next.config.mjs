// The UI is a static export served by the API at "/" (same origin), so pages call
// relative URLs such as /jobs. `next dev` has no API of its own: it proxies the API
// paths to AGENTQ_API_URL (default http://127.0.0.1:8000).
import { PHASE_DEVELOPMENT_SERVER } from 'next/constants.js';

const API_PATHS = ['/jobs', '/queues', '/workers', '/health', '/ready', '/metrics', '/webhooks'];

/** @type {(phase: string) => import('next').NextConfig} */
export default function config(phase) {
  const base = {
    trailingSlash: true,
    reactStrictMode: true,
    poweredByHeader: false,
    images: { unoptimized: true },
  };
  if (phase === PHASE_DEVELOPMENT_SERVER) {
    const api = process.env.AGENTQ_API_URL ?? 'http://127.0.0.1:8000';
    return {
      ...base,
      async rewrites() {
        return API_PATHS.flatMap((p) => [
          { source: p, destination: `${api}${p}` },
          { source: `${p}/:rest*`, destination: `${api}${p}/:rest*` },
        ]);
      },
    };
  }
  return { ...base, output: 'export' };
}
