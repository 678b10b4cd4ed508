/**
 * The little XML the S3 server needs: escaping and building responses, and a strict,
 * bounded parser for the request bodies S3 accepts (DeleteObjects, CompleteMultipartUpload,
 * CreateBucketConfiguration). No DTDs, no external entities, limited depth and node count,
 * so a hostile body cannot expand or exhaust memory. Any problem throws `XmlSyntaxError`.
 */

export class XmlSyntaxError extends Error {}

export interface XmlElement {
  /** Local name (namespace prefix stripped). */
  name: string;
  children: XmlElement[];
  text: string;
}

export interface XmlLimits {
  maxDepth: number;
  maxNodes: number;
}

const DEFAULT_LIMITS: XmlLimits = { maxDepth: 16, maxNodes: 20_000 };
const NAME = /^[A-Za-z_][\w.:-]*/;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&apos;",
  );
}

/** A node for `renderXml`: an element with text or child nodes. `undefined` children are skipped. */
export type XmlNode = [name: string, content: string | number | boolean | Array<XmlNode | undefined>];

/** Render a document: `<?xml ...?>` then the root element, with the S3 namespace when asked. */
export function renderXml(root: XmlNode, namespace = true): string {
  const ns = namespace ? ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' : "";
  return `<?xml version="1.0" encoding="UTF-8"?>\n${renderNode(root, ns)}`;
}

function renderNode([name, content]: XmlNode, attrs = ""): string {
  if (Array.isArray(content)) {
    let inner = "";
    for (const child of content) if (child !== undefined) inner += renderNode(child);
    return `<${name}${attrs}>${inner}</${name}>`;
  }
  return `<${name}${attrs}>${escapeXml(String(content))}</${name}>`;
}

function decodeEntities(raw: string): string {
  return raw.replace(/&(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);/g, (_m, ent: string) => {
    if (ent === "amp") return "&";
    if (ent === "lt") return "<";
    if (ent === "gt") return ">";
    if (ent === "quot") return '"';
    if (ent === "apos") return "'";
    const code = ent.startsWith("#x") ? Number.parseInt(ent.slice(2), 16) : Number.parseInt(ent.slice(1), 10);
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
      throw new XmlSyntaxError("bad character reference");
    return String.fromCodePoint(code);
  });
}

function checkText(raw: string): string {
  if (raw.includes("&")) {
    const decoded = decodeEntities(raw);
    if (/&/.test(raw.replace(/&(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);/g, "")))
      throw new XmlSyntaxError("unknown entity");
    return decoded;
  }
  return raw;
}

/** Parse a document into its root element. Attributes are checked for syntax and dropped. */
export function parseXml(source: string, limits: XmlLimits = DEFAULT_LIMITS): XmlElement {
  let pos = 0;
  let nodes = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;

  const skipSpace = () => {
    while (pos < source.length && /\s/.test(source[pos] as string)) pos++;
  };
  const expect = (s: string) => {
    if (!source.startsWith(s, pos)) throw new XmlSyntaxError(`expected ${s} at ${pos}`);
    pos += s.length;
  };

  if (source.charCodeAt(0) === 0xfeff) pos = 1;
  skipSpace();
  if (source.startsWith("<?xml", pos)) {
    const end = source.indexOf("?>", pos);
    if (end < 0) throw new XmlSyntaxError("unterminated declaration");
    pos = end + 2;
  }

  while (pos < source.length) {
    const top = stack[stack.length - 1];
    if (top === undefined) {
      skipSpace();
      if (pos >= source.length) break;
      if (root !== undefined && !source.startsWith("<!--", pos))
        throw new XmlSyntaxError("content after root");
    }
    if (source.startsWith("<!--", pos)) {
      const end = source.indexOf("-->", pos + 4);
      if (end < 0) throw new XmlSyntaxError("unterminated comment");
      pos = end + 3;
      continue;
    }
    if (source.startsWith("<![CDATA[", pos)) {
      if (top === undefined) throw new XmlSyntaxError("CDATA outside an element");
      const end = source.indexOf("]]>", pos + 9);
      if (end < 0) throw new XmlSyntaxError("unterminated CDATA");
      top.text += source.slice(pos + 9, end);
      pos = end + 3;
      continue;
    }
    if (source.startsWith("<!", pos) || source.startsWith("<?", pos)) {
      throw new XmlSyntaxError("declarations and processing instructions are not accepted");
    }
    if (source.startsWith("</", pos)) {
      pos += 2;
      const m = NAME.exec(source.slice(pos, pos + 256));
      if (!m || top === undefined) throw new XmlSyntaxError("bad end tag");
      const local = localName(m[0]);
      if (local !== top.name) throw new XmlSyntaxError(`mismatched end tag ${m[0]}`);
      pos += m[0].length;
      skipSpace();
      expect(">");
      stack.pop();
      continue;
    }
    if (source[pos] === "<") {
      pos++;
      const m = NAME.exec(source.slice(pos, pos + 256));
      if (!m) throw new XmlSyntaxError("bad start tag");
      pos += m[0].length;
      skipAttributes();
      const selfClosing = source.startsWith("/>", pos);
      expect(selfClosing ? "/>" : ">");
      if (++nodes > limits.maxNodes) throw new XmlSyntaxError("too many elements");
      const el: XmlElement = { name: localName(m[0]), children: [], text: "" };
      if (top === undefined) {
        if (root !== undefined) throw new XmlSyntaxError("two root elements");
        root = el;
      } else top.children.push(el);
      if (!selfClosing) {
        stack.push(el);
        if (stack.length > limits.maxDepth) throw new XmlSyntaxError("nested too deep");
      }
      continue;
    }
    if (top === undefined) throw new XmlSyntaxError("text outside the root element");
    const next = source.indexOf("<", pos);
    const end = next < 0 ? source.length : next;
    top.text += checkText(source.slice(pos, end));
    pos = end;
  }
  if (stack.length > 0) throw new XmlSyntaxError("unclosed element");
  if (root === undefined) throw new XmlSyntaxError("no root element");
  return root;

  function skipAttributes(): void {
    for (;;) {
      const before = pos;
      skipSpace();
      if (source.startsWith(">", pos) || source.startsWith("/>", pos)) return;
      if (pos === before) throw new XmlSyntaxError("expected whitespace before attribute");
      const m = NAME.exec(source.slice(pos, pos + 256));
      if (!m) throw new XmlSyntaxError("bad attribute");
      pos += m[0].length;
      skipSpace();
      expect("=");
      skipSpace();
      const quote = source[pos];
      if (quote !== '"' && quote !== "'") throw new XmlSyntaxError("unquoted attribute");
      const close = source.indexOf(quote, pos + 1);
      if (close < 0) throw new XmlSyntaxError("unterminated attribute");
      const value = source.slice(pos + 1, close);
      if (value.includes("<")) throw new XmlSyntaxError("'<' in attribute");
      checkText(value);
      pos = close + 1;
    }
  }
}

function localName(qname: string): string {
  const colon = qname.indexOf(":");
  return colon < 0 ? qname : qname.slice(colon + 1);
}

/** Children of `el` named `name`. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

/** Text of the first child named `name`, or `undefined`. */
export function childText(el: XmlElement, name: string): string | undefined {
  return el.children.find((c) => c.name === name)?.text;
}
