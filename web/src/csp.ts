// Imported first by main.tsx, before any schema is built: the page's CSP has no 'unsafe-eval' (protocol/src/browser.ts).
import { parseWithoutEval } from '@vmlive/protocol/browser';

parseWithoutEval();
