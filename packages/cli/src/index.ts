export { describeFailure } from './failure.js';
export { buildProgram, main } from './main.js';
