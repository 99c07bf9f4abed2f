import { describe, expect, it } from "vitest";
import { isSecretName, labelledMessage, secretOfField } from "./fieldErrors";

describe("labelledMessage", () => {
  it("says the label where the API says the field's key", () => {
    expect(labelledMessage("repo_url must use https://, not http://", "repo_url")).toBe("Repository must use https://, not http://");
    expect(labelledMessage("output_dir must stay inside the repository", "output_dir")).toBe("Output directory must stay inside the repository");
    expect(labelledMessage("name is reserved", "name")).toBe("Project name is reserved");
  });

  it("leaves other messages as they are", () => {
    expect(labelledMessage("the name taken is already taken", "name")).toBe("the name taken is already taken");
    expect(labelledMessage("repo_url_x is odd", "repo_url")).toBe("repo_url_x is odd");
    expect(labelledMessage("owner_id is not a setting", "owner_id")).toBe("owner_id is not a setting");
  });
});

describe("secretOfField", () => {
  it("names the variable of a secrets field", () => {
    expect(secretOfField("secrets.MY-VAR")).toBe("MY-VAR");
    expect(secretOfField("secrets")).toBeNull();
    expect(secretOfField("name")).toBeNull();
    expect(secretOfField(undefined)).toBeNull();
  });
});

describe("isSecretName", () => {
  it("follows the server's rule", () => {
    expect(isSecretName("API_KEY")).toBe(true);
    expect(isSecretName("_x1")).toBe(true);
    expect(isSecretName("MY-VAR")).toBe(false);
    expect(isSecretName("1ABC")).toBe(false);
    expect(isSecretName("")).toBe(false);
  });
});
