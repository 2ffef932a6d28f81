// Field limits and validation for a create request. They mirror
// internal/generation/request.go (Suno's documented limits); the Go test
// web_test.go fails if the two drift apart, so keep the CUSTOM_LIMITS
// literal in this exact shape.

export const MODELS = ["V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5"];

export const DEFAULT_MODEL = "V4_5";

export const NON_CUSTOM_PROMPT_LIMIT = 500;

export const CUSTOM_LIMITS = {
  V4: { prompt: 3000, style: 200, title: 80 },
  V4_5: { prompt: 5000, style: 1000, title: 100 },
  V4_5PLUS: { prompt: 5000, style: 1000, title: 100 },
  V4_5ALL: { prompt: 5000, style: 1000, title: 80 },
  V5: { prompt: 5000, style: 1000, title: 100 },
  V5_5: { prompt: 5000, style: 1000, title: 100 },
};

/**
 * The limits for a model in a mode. In non-custom mode style and title are
 * not accepted at all, so their limit is 0.
 */
export function limitsFor(model, customMode) {
  const custom = CUSTOM_LIMITS[model] ?? CUSTOM_LIMITS[DEFAULT_MODEL];
  return customMode ? custom : { prompt: NON_CUSTOM_PROMPT_LIMIT, style: 0, title: 0 };
}

/**
 * Length as the API counts it: Unicode code points (Go's rune count) of the
 * trimmed text. String.length would count UTF-16 units, so an emoji would
 * look like two characters here and one to the server.
 */
export function charCount(text) {
  return [...text.trim()].length;
}

const LABELS = { prompt: "Prompt", style: "Style", title: "Title" };

/**
 * Validates a request the way the API does and returns the problems, each
 * {field, message}; an empty list means the API should accept it.
 */
export function validate(req) {
  const problems = [];
  const prompt = req.prompt.trim();
  const style = req.style.trim();
  const title = req.title.trim();
  const model = CUSTOM_LIMITS[req.model] ? req.model : null;
  if (!model) {
    problems.push({ field: "model", message: `Choose one of the models: ${MODELS.join(", ")}.` });
    return problems;
  }
  if (!req.customMode) {
    if (!prompt) problems.push({ field: "prompt", message: "Prompt is required: describe the song you want." });
  } else {
    if (!prompt && !req.instrumental) {
      problems.push({ field: "prompt", message: "Prompt is required in custom mode unless the song is instrumental: it holds the lyrics." });
    }
    if (!style) problems.push({ field: "style", message: "Style is required in custom mode." });
    if (!title) problems.push({ field: "title", message: "Title is required in custom mode." });
  }
  const limits = limitsFor(model, req.customMode);
  const mode = req.customMode ? `custom mode with model ${model}` : "non-custom mode";
  for (const [field, value] of [["prompt", prompt], ["style", style], ["title", title]]) {
    // Style and title are disabled (and not sent) in non-custom mode.
    if (!req.customMode && field !== "prompt") continue;
    const n = [...value].length;
    if (n > limits[field]) {
      problems.push({
        field,
        message: `${LABELS[field]} is ${n} characters long; the limit in ${mode} is ${limits[field]}. Shorten it by ${n - limits[field]}.`,
      });
    }
  }
  return problems;
}

/** The JSON body for POST /api/generation/create. */
export function requestBody(req) {
  const body = {
    prompt: req.prompt.trim(),
    instrumental: req.instrumental,
    model: req.model,
    customMode: req.customMode,
  };
  if (req.customMode) {
    body.style = req.style.trim();
    body.title = req.title.trim();
  }
  return body;
}
