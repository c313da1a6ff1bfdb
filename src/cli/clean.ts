// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this pattern is for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** Text from a backend, a record or a file name, safe for a terminal: control characters become `?`. */
export const clean = (text: string): string => text.replace(CONTROL, '?');
