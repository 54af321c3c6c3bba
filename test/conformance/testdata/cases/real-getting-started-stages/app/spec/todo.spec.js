describe("todo", () => {});
