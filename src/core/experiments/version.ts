// Bundlers inline the JSON; reading it here keeps one source for the version.
import packageJson from '../../../package.json';

export const TOOL_VERSION: string = packageJson.version;
