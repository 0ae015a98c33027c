import { describe, expect, it } from "vitest";
import { countSms, describeSms, nonGsmCharacters, withPlainCharacters } from "@/issues/sms";

describe("an SMS reply's count", () => {
  it("is GSM-7 in one segment up to 160 characters", () => {
    expect(countSms("a".repeat(160))).toMatchObject({ characters: 160, encoding: "GSM-7", segments: 1 });
    expect(describeSms(countSms("Your order is ready."))).toBe("20 characters · GSM-7 · 1 segment");
  });

  it("splits GSM-7 into segments of 153 after 160", () => {
    expect(countSms("a".repeat(161)).segments).toBe(2);
    expect(countSms("a".repeat(306)).segments).toBe(2);
    expect(countSms("a".repeat(307)).segments).toBe(3);
  });

  it("counts the extension table's characters twice and never splits one", () => {
    expect(countSms("€".repeat(80)).segments).toBe(1);
    expect(countSms("€".repeat(81)).segments).toBe(2);
    // 152 septets, then a two-septet character: it goes to the second segment whole
    expect(countSms("a".repeat(152) + "{" + "a".repeat(10)).segments).toBe(2);
    expect(countSms("a".repeat(152) + "[" + "a".repeat(152)).segments).toBe(3);
    expect(countSms("a{b}").encoding).toBe("GSM-7");
  });

  it("turns UCS-2 on a curly quote: 70 in one segment, 67 after", () => {
    const curly = "It\u2019s ready";
    expect(countSms(curly)).toMatchObject({ encoding: "UCS-2", segments: 1, unicode: ["\u2019"], replaceable: ["\u2019"] });
    expect(countSms("\u2019" + "a".repeat(69)).segments).toBe(1);
    expect(countSms("\u2019" + "a".repeat(70)).segments).toBe(2);
    expect(countSms("\u2019" + "a".repeat(133)).segments).toBe(2);
    expect(countSms("\u2019" + "a".repeat(134)).segments).toBe(3);
  });

  it("counts UTF-16 code units in UCS-2 (an emoji is two) and names what cannot be replaced", () => {
    const count = countSms("😀".repeat(35));
    expect(count).toMatchObject({ characters: 35, encoding: "UCS-2", segments: 1, replaceable: [] });
    expect(countSms("😀".repeat(36)).segments).toBe(2);
    expect(nonGsmCharacters("ok 😀 “fine” 😀")).toEqual(["😀", "“", "”"]);
  });

  it("is empty with no segment", () => {
    expect(describeSms(countSms(""))).toBe("0 characters · GSM-7 · 0 segments");
  });

  it("gives back GSM-7 when the look-alikes are replaced", () => {
    const text = "\u201CHi\u201D \u2013 it\u2019s ready\u2026 pick-up\u00A0at 5 \u2014 thanks";
    const plain = withPlainCharacters(text);
    expect(plain).toBe("\"Hi\" - it's ready... pick-up at 5 - thanks");
    expect(countSms(plain).encoding).toBe("GSM-7");
    expect(withPlainCharacters("café 😀")).toBe("café 😀");
  });
});
