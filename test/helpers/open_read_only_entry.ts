// Opens the label store named by its one argument read-only and prints what happened as one line
// of JSON (test/helpers/unprivileged.ts runs it under setpriv, where file permissions bind root).
import { openReadOnlyLine } from './unprivileged.js';

process.stdout.write(`${openReadOnlyLine(process.argv[2])}\n`);
