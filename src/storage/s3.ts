// The S3 storage driver's public face; its parts are in s3/ (driver.ts says
// which part does what). Importers use this file.
export { MAX_COPY_PART, MIN_PART, planConcat, type Piece, type PlannedPart } from './s3/concat-plan.js';
export type { S3Config } from './s3/config.js';
export { S3Driver } from './s3/driver.js';
