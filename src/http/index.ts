export { createHttpApp } from './server.js';
