export { createSeededRng, type Rng } from "../util/rng.js";
