// The one label grammar, mirrored exactly from src/agegender/labels.py (the CLI's --out,
// /v1/annotate and the annotated video draw the same text; a browser test compares them):
// "F 97% · 31 y (25-38)", "F · 31 y", "" (the tag alone). Probabilities at most 99%;
// numbers rounded half up (Math.round).
"use strict";

const SEP = " \u00b7 ";
const GENDER_LETTER = { male: "M", female: "F" };
export const MAX_PERCENT = 99; // a model's probability is never shown as certainty

/** A probability as a whole percent, at most 99%. */
export const percent = (p) => `${Math.min(MAX_PERCENT, Math.round(p * 100))}%`;

/** The label's three forms, longest first, from the face's JSON answer. */
export function labelTexts(f) {
  const g = f.gender ? (GENDER_LETTER[f.gender.label] || "?") : "";
  const years = f.age ? `${Math.round(f.age.years)} y` : "";
  const full = [f.gender ? `${g} ${percent(f.gender.probability)}` : "",
    f.age ? `${years} (${Math.round(f.age.low)}-${Math.round(f.age.high)})` : ""].filter(Boolean).join(SEP);
  const short = [g, years].filter(Boolean).join(SEP);
  const score = Number(f.score).toFixed(2);
  return [full || `score ${score}`, short || score, ""];
}

/** The tag of face i (from 0): its track id when it has one, else its number. */
export const tagOf = (f, i) => String(Number.isInteger(f.track_id) && f.track_id > 0 ? f.track_id : i + 1);
