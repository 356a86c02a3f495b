export * from './api_key.js';
export * from './duration.js';
export * from './errors.js';
export * from './guidance/index.js';
export * from './protocol.js';
export * from './scope.js';
export * from './wire.js';
