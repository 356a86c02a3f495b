export * from './api_key.js';
export * from './duration.js';
export * from './errors.js';
export * from './scope.js';
