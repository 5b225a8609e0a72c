#!/usr/bin/env python3
"""doxy-comments.py [--check] HEADER... - turn the public headers' plain C comments
into the Doxygen forms, in place (idempotent; run it again after merging
header changes):

  - the file's opening comment            /*  ->  /** @file
  - a comment on its own line(s) right above a declaration (no blank line
    between)                              /*  ->  /**
  - a comment after code on the same line (a member, an enumerator, a
    #define value)                        /*  ->  /**<
  - section rulers (/* ---- ... */), comments above a blank line, and
    comments on #include/#if/#endif lines stay plain comments.

--check changes nothing and fails (listing the headers) when a header has
a plain comment that should be a Doxygen one (the test doc-header-comments).

This replaces the sed INPUT_FILTER docs/Doxyfile.in used to have, which
turned every indented comment into /**< and so attached the comment above
a member to the member before it.
"""
import re
import sys


def comments(src):
    """(start, end) of every /* */ comment, skipping string/char literals
    and // comments."""
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in "\"'":
            q = c
            i += 1
            while i < n and src[i] != q:
                i += 2 if src[i] == "\\" else 1
            i += 1
        elif src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                return
            yield i, j + 2
            i = j + 2
        else:
            i += 1


def convert(src):
    out, last, first = [], 0, True
    for s, e in comments(src):
        text = src[s:e]
        bol = src.rfind("\n", 0, s) + 1
        before = src[bol:s]
        new = text
        if text.startswith(("/**", "/*!")) or text == "/**/":
            first = False
        elif first and s == 0:
            # the file comment: "/*\n * mailsec/x.h - ..." -> "/**\n * @file\n * ..."
            new = "/**\n * @file" + text[2:] if text.startswith("/*\n") else "/** @file" + text[2:]
            first = False
        else:
            first = False
            body = text[2:].lstrip()
            line_start = before.lstrip()
            if body.startswith("-") or line_start.startswith("#") and not \
                    line_start.startswith("#define"):
                pass                                    # ruler, #include/#endif note
            elif line_start:                            # code before it on the line
                new = "/**<" + text[2:]
            else:
                rest = src[e:]
                m = re.match(r"[ \t]*\n([ \t]*)(\S[^\n]*)", rest)
                if m and not m.group(2).startswith(("/*", "#endif", "#else", "#if", "#include",
                                                    "}", "extern \"C\"")):
                    new = "/**" + text[2:]              # right above a declaration
        out.append(src[last:s])
        out.append(new)
        last = e
    out.append(src[last:])
    return "".join(out)


def main(args):
    check = args[:1] == ["--check"]
    paths = args[1:] if check else args
    changed = []
    for p in paths:
        with open(p) as f:
            src = f.read()
        dst = convert(src)
        if dst != src:
            changed.append(p)
            if not check:
                with open(p, "w") as f:
                    f.write(dst)
    if check:
        for p in changed:
            print(f"plain comments where Doxygen ones belong: {p} (run scripts/doxy-comments.py)")
        print(f"{len(paths) - len(changed)} passed, {len(changed)} failed")
        return 1 if changed else 0
    print(f"{len(changed)} of {len(paths)} headers changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
