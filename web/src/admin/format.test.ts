import { describe, expect, it } from "vitest";
import { actorWords, cancelReasonWords } from "./format";

describe("who changed a booking, in words", () => {
  it("names the couple, the platform, the payment and the admins, never an id", () => {
    expect(actorWords("couple")).toBe("the couple");
    expect(actorWords("system")).toBe("the platform (automatically)");
    expect(actorWords("payments")).toBe("the payment (Stripe)");
    expect(actorWords("tenant_admin:u_1", "u_1")).toBe("you");
    expect(actorWords("tenant_admin:u_2", "u_1")).toBe("an admin of the business");
    expect(actorWords("tenant_admin:secret_key", "u_1")).toBe("your server (secret key)");
    expect(actorWords("platform_admin:p_1")).toBe("the platform's admin");
  });
});

describe("cancelReasonWords", () => {
  it("words the platform's own reasons and keeps an admin's as typed", () => {
    expect(cancelReasonWords("balance_unpaid")).toBe("the balance was not paid by its due date");
    expect(cancelReasonWords("the couple moved abroad")).toBe("the couple moved abroad");
  });
});
