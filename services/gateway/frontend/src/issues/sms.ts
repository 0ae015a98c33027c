// How a text message goes over the air: its encoding (GSM-7, else UCS-2) and how many segments it costs.
// GSM-7 (3GPP TS 23.038): 160 septets in one segment, 153 per segment once split; the extension table's characters
// take two septets and are never split across segments. UCS-2: 70 UTF-16 code units, 67 per segment once split;
// a surrogate pair is never split. Pure functions: no DOM, no Vue.

const GSM_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
  + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM_EXTENSION = new Set("^{}\\[~]|€\f");

export type Encoding = "GSM-7" | "UCS-2";

export interface SmsCount {
  characters: number;
  encoding: Encoding;
  segments: number;
  /** Characters that made the message UCS-2, each once, in the order they first appear. */
  unicode: string[];
  /** Of those, the ones that have a plain GSM-7 equivalent ("Use plain characters" replaces them). */
  replaceable: string[];
}

/** Look-alikes of GSM-7 characters that keyboards and word processors put in: curly quotes, dashes, odd spaces. */
export const PLAIN_EQUIVALENTS: Record<string, string> = {
  "\u2018": "'", "\u2019": "'", "\u201A": "'", "\u201B": "'", "\u2032": "'", "\u2039": "'", "\u203A": "'",
  "\u201C": '"', "\u201D": '"', "\u201E": '"', "\u201F": '"', "\u2033": '"', "\u00AB": '"', "\u00BB": '"',
  "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
  "\u2026": "...",
  "\u00A0": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ", "\u2005": " ", "\u2006": " ", "\u2007": " ",
  "\u2008": " ", "\u2009": " ", "\u200A": " ", "\u202F": " ", "\u205F": " ", "\u3000": " ",
  "\u200B": "", "\u200C": "", "\u200D": "", "\u2060": "", "\uFEFF": "",
  "\u2022": "*", "\u00B7": ".", "\u02BC": "'", "\u02C6": "^", "\u02DC": "~", "\u00E7": "Ç",
};

/** The GSM-7 septets a character takes: 1 (basic table), 2 (extension table), or null (not in GSM-7). */
export function gsmSeptets(character: string): 1 | 2 | null {
  if (GSM_BASIC.has(character)) return 1;
  if (GSM_EXTENSION.has(character)) return 2;
  return null;
}

/** The characters of a text that GSM-7 cannot carry, each once. */
export function nonGsmCharacters(text: string): string[] {
  const seen: string[] = [];
  for (const character of text) {
    if (gsmSeptets(character) === null && !seen.includes(character)) seen.push(character);
  }
  return seen;
}

function segmentsOf(costs: number[], single: number, multi: number): number {
  const total = costs.reduce((sum, cost) => sum + cost, 0);
  if (total === 0) return 0;
  if (total <= single) return 1;
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > multi) {
      segments += 1;
      used = 0;
    }
    used += cost;
  }
  return segments;
}

/** Characters, encoding and segments of a text as an SMS. */
export function countSms(text: string): SmsCount {
  const characters = [...text];
  const unicode = nonGsmCharacters(text);
  const replaceable = unicode.filter((character) => character in PLAIN_EQUIVALENTS);
  if (unicode.length === 0) {
    const costs = characters.map((character) => gsmSeptets(character) ?? 1);
    return { characters: characters.length, encoding: "GSM-7", segments: segmentsOf(costs, 160, 153), unicode, replaceable };
  }
  const costs = characters.map((character) => character.length);   // UTF-16 code units: 2 for a surrogate pair
  return { characters: characters.length, encoding: "UCS-2", segments: segmentsOf(costs, 70, 67), unicode, replaceable };
}

/** The text with every look-alike replaced by its plain GSM-7 equivalent (what else is there stays). */
export function withPlainCharacters(text: string): string {
  let plain = "";
  for (const character of text) plain += PLAIN_EQUIVALENTS[character] ?? character;
  return plain;
}

/** The counter under an SMS reply: "42 characters · GSM-7 · 1 segment". */
export function describeSms(count: SmsCount): string {
  const characters = `${count.characters} character${count.characters === 1 ? "" : "s"}`;
  const segments = `${count.segments} segment${count.segments === 1 ? "" : "s"}`;
  return `${characters} · ${count.encoding} · ${segments}`;
}

const NAMES: Record<string, string> = {
  "\u2018": "left single quote ‘", "\u2019": "curly apostrophe ’", "\u201C": "left double quote “",
  "\u201D": "right double quote ”", "\u2013": "en dash –", "\u2014": "em dash —", "\u2026": "ellipsis …",
  "\u00A0": "non-breaking space", "\u200B": "zero-width space", "\uFEFF": "zero-width no-break space",
  "\u202F": "narrow non-breaking space", "\u2009": "thin space",
};

/** How the warning names a character that turned the message into UCS-2. */
export function nameCharacter(character: string): string {
  if (NAMES[character]) return NAMES[character]!;
  if (/\s/u.test(character) || character in PLAIN_EQUIVALENTS && PLAIN_EQUIVALENTS[character] === "") {
    return `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return character;
}
