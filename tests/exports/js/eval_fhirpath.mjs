// Evaluate FHIRPath expressions with fhirpath.js (the HL7 reference JavaScript engine) and the
// FHIR R4 model, the way a guideline engine applying a PlanDefinition does. Reads from stdin
// {"cases": [{"resource": <a Bundle>, "expressions": ["...", ...]}, ...]} and prints, for each
// case, each expression's result (a FHIRPath collection) as JSON; an expression that does not
// parse or evaluate prints {"error": message}.
import fhirpath from "fhirpath";
import r4 from "fhirpath/fhir-context/r4/index.js";
import { readFileSync } from "node:fs";

const input = JSON.parse(readFileSync(0, "utf8"));
const out = input.cases.map(({ resource, expressions }) =>
  expressions.map((expr) => {
    try {
      return fhirpath.evaluate(resource, expr, {}, r4);
    } catch (err) {
      return { error: String(err && err.message ? err.message : err) };
    }
  }),
);
process.stdout.write(JSON.stringify(out));
