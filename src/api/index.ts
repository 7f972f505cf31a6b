export {
  startApiServer,
  blockToJson,
  ApiError,
  DEFAULT_API_LIMITS,
  JSON_NESTING_DEPTH_MAX,
  apiLimitsOf,
  type ApiServer,
  type ApiServerOptions,
  type ApiServerLimits,
} from './server.ts';
export { signRequest, verifyRequest, canonicalRequest, NonceCache, AuthError, AUTH_HEADERS, AUTH_CLOCK_WINDOW_MS, type RequestSigner } from './auth.ts';
export * from './schemas.ts';
