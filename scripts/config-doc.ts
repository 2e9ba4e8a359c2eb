/** Prints the README's configuration table from contracts/config.ts (the one definition). */
import { configTable } from '../contracts/config.js';
console.log(configTable());
