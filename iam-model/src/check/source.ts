/**
 * A policy file's text, parsed once, able to say where any JSON path sits (line:column, 1-based).
 * jsonc-parser gives offsets even for broken files; strict JSON is enforced by reporting comments
 * and trailing commas as syntax errors (IAM accepts neither).
 */
import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import type { PathSegment } from './finding.ts';

export interface Position {
  line: number;
  column: number;
}

export interface SyntaxProblem extends Position {
  message: string;
}

export class SourceFile {
  readonly text: string;
  readonly tree: Node | undefined;
  readonly syntaxErrors: SyntaxProblem[];
  private lineStarts: number[] | undefined;

  constructor(text: string) {
    this.text = text;
    const errors: ParseError[] = [];
    this.tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    this.syntaxErrors = errors.map((e) => ({ ...this.position(e.offset), message: describeParseError(printParseErrorCode(e.error)) }));
  }

  position(offset: number): Position {
    if (!this.lineStarts) {
      const starts = [0];
      for (let i = 0; i < this.text.length; i++) if (this.text.charCodeAt(i) === 10) starts.push(i + 1);
      this.lineStarts = starts;
    }
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  }

  /** Where the value at `path` starts; for a missing member, its nearest existing parent. */
  locate(path: readonly PathSegment[]): Position {
    if (!this.tree) return { line: 1, column: 1 };
    for (let n = path.length; n >= 0; n--) {
      const node = nodeAt(this.tree, path.slice(0, n));
      if (node) {
        // Point at the key of an object member (`"Action": …`) rather than at its value.
        const at = node.parent?.type === 'property' ? node.parent : node;
        return this.position(at.offset);
      }
    }
    return { line: 1, column: 1 };
  }
}

/**
 * The node at `path`, read as JSON.parse reads the text: of a member given twice, the later copy
 * counts (jsonc-parser's findNodeAtLocation takes the first), so a finding about the value the
 * rules saw points at that copy.
 */
function nodeAt(root: Node, path: readonly PathSegment[]): Node | undefined {
  let node: Node | undefined = root;
  for (const segment of path) {
    if (typeof segment === 'string') {
      if (node.type !== 'object') return undefined;
      const member: Node | undefined = (node.children ?? []).findLast((p) => p.children?.length === 2 && p.children[0]!.value === segment);
      node = member?.children?.[1];
    } else {
      node = node.type === 'array' ? node.children?.[segment] : undefined;
    }
    if (!node) return undefined;
  }
  return node;
}

function describeParseError(code: string): string {
  switch (code) {
    case 'InvalidCommentToken':
      return 'comments are not allowed in JSON policy files; remove the comment';
    case 'PropertyNameExpected':
      return 'a property name in double quotes was expected (trailing commas are not allowed)';
    case 'ValueExpected':
      return 'a value was expected (trailing commas are not allowed)';
    case 'CommaExpected':
      return "a ',' was expected between members";
    case 'ColonExpected':
      return "a ':' was expected after the property name";
    case 'CloseBraceExpected':
      return "a '}' was expected";
    case 'CloseBracketExpected':
      return "a ']' was expected";
    case 'EndOfFileExpected':
      return 'unexpected content after the end of the JSON document';
    case 'UnexpectedEndOfString':
      return 'the string is not closed; add the closing double quote';
    default:
      return `invalid JSON (${code})`;
  }
}
