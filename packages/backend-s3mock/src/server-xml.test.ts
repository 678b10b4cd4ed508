import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { childText, parseXml, renderXml, XmlSyntaxError } from "./server-xml.ts";

describe("server XML", () => {
  it("parses S3 request bodies with namespaces, comments, CDATA and entities", () => {
    const root = parseXml(
      `<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">
        <s3:Object><s3:Key>a&amp;b &lt;c&gt; &#233;&#x41;</s3:Key></s3:Object>
        <Object><Key><![CDATA[<raw>]]></Key></Object><Quiet/></s3:Delete>`,
    );
    expect(root.name).toBe("Delete");
    expect(root.children.map((c) => c.name)).toEqual(["Object", "Object", "Quiet"]);
    expect(childText(root.children[0]!, "Key")).toBe("a&b <c> éA");
    expect(childText(root.children[1]!, "Key")).toBe("<raw>");
  });

  it("refuses DTDs, unknown entities, mismatched tags and deep nesting", () => {
    for (const bad of [
      '<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>',
      "<x>&nope;</x>",
      "<x><y></x></y>",
      "<x>",
      "",
      "<x/><y/>",
      "text<x/>",
      `${"<a>".repeat(40)}${"</a>".repeat(40)}`,
      '<x a="1" b=2/>',
    ]) {
      expect(() => parseXml(bad), bad.slice(0, 40)).toThrow(XmlSyntaxError);
    }
  });

  it("round-trips any text through render and parse", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (text) => {
        const doc = renderXml(["Root", [["Key", text]]]);
        expect(childText(parseXml(doc), "Key")).toBe(text);
      }),
    );
  });

  it("fails only with XmlSyntaxError on arbitrary input", () => {
    const xmlish = fc.array(
      fc.constantFrom(
        "<",
        ">",
        "</",
        "/>",
        "a",
        "Key",
        "=",
        '"',
        "'",
        "&",
        ";",
        "amp",
        "#",
        "x",
        "!",
        "?",
        "[",
        "]",
        "-",
        " ",
        "CDATA",
      ),
      { maxLength: 80 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          xmlish.map((parts) => parts.join("")),
        ),
        (input) => {
          try {
            parseXml(input);
          } catch (err) {
            expect(err).toBeInstanceOf(XmlSyntaxError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
