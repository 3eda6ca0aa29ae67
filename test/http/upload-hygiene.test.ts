// Upload requests that end early (upload-hygiene-suite.ts) on the filesystem.
//   npm run build && node --test --test-concurrency=1 dist/test/http/upload-hygiene.test.js
import { FILESYSTEM } from '../helpers/upload-backends.js';
import { uploadHygieneTests } from './upload-hygiene-suite.js';

uploadHygieneTests(FILESYSTEM);
