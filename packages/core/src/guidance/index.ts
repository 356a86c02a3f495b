export * from './advice_rules.js';
export * from './frameworks.js';
