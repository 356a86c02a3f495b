export { buildProgram, describeFailure, main } from './main.js';
