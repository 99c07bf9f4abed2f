import { describe, expect, it } from "vitest";
import { detectedSettings } from "./detection";

const system = (log: string) => ({ stream: "system", log });

describe("detectedSettings", () => {
  it("reads what a build detected from Slipway's lines", () => {
    expect(detectedSettings([
      system("Cloning https://github.com/ada/hello.git"),
      system("framework: Vite (vite in package.json)"),
      system("node: 22 (the default)"),
      system("package manager: npm (package-lock.json)"),
      system("install command: npm ci (package-lock.json)"),
      system("build command: npm run build (build script in package.json)"),
      system("output directory: dist (Vite's default)"),
    ])).toEqual({ framework: "Vite", install_command: "npm ci", build_command: "npm run build", output_dir: "dist" });
  });

  it("says none for a step that does not run", () => {
    expect(detectedSettings([
      system("install command: none, nothing to install"),
      system("build command: none (the output directory is copied out of the image)"),
      system("output directory: . (index.html in the root directory)"),
    ])).toEqual({ install_command: "none", build_command: "none", output_dir: "." });
  });

  it("leaves out what the project set, the build's own output and later repeats", () => {
    expect(detectedSettings([
      { stream: "build_stdout", log: "build command: rm -rf /" },
      system("build command: set in project settings, run in the image"),
      system("install command: set in project settings"),
      system("output directory: public (set in project settings)"),
      system("framework: Astro (astro in package.json)"),
      system("framework: Vite (later)"),
    ])).toEqual({ framework: "Astro" });
  });
});
