/** Prints the settings table for docs/CONFIG.md: npm run docs:config */
import { settingsTable } from '../src/config/docs.js';

console.log(settingsTable());
