// The Swift storage driver's public face; its parts are in swift/ (driver.ts
// says which part does what). Importers use this file.
export { cloudsYamlPaths, loadCloud } from './swift/clouds.js';
export type { SwiftConfig } from './swift/config.js';
export { SwiftDriver } from './swift/driver.js';
