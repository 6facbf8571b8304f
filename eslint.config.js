import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { boundaries } from "./eslint.boundaries.mjs";

export default tseslint.config(
  { ignores: ["bench/.tools/", "dist*/", "node_modules/", "examples/**/dist/", "**/.waybill/", "schema/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["src/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        Buffer: "readonly",
      },
    },
  },
  ...boundaries,
);
